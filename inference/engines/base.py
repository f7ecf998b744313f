"""The engine protocol: how replicas start and stop, and how the gateway talks to them.

An :class:`Engine` turns a :class:`ReplicaSpec` into a running :class:`Replica` (a process it owns, or
an external URL). Every replica speaks the OpenAI HTTP API; the gateway calls it through an
:class:`EngineClient`, which passes streamed SSE bytes through untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx

from inference.engines.errors import UpstreamResponse
from inference.engines.http_client import OpenAIHTTPClient
from inference.engines.process import ManagedProcess

JSONBody = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ReplicaSpec:
    """What to run. ``model`` is a local model directory (vllm, builtin) or the upstream's model name
    (openai). ``port=0`` picks a free port. ``url`` (the upstream API base, ending in ``/v1``) and
    ``api_key`` are for the ``openai`` engine; local engines refuse an ``api_key`` (their replicas
    take no key: the gateway in front of them authenticates). ``startup_timeout_s=None`` takes the
    engine's default.
    """

    model: str
    served_model_name: str
    host: str = "127.0.0.1"
    port: int = 0
    url: str | None = None
    api_key: str | None = None
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    startup_timeout_s: float | None = None
    log_path: Path | None = None


@runtime_checkable
class EngineClient(Protocol):
    """The calls the gateway makes on one replica.

    Non-streaming calls return the upstream's status and JSON body as they are (errors included);
    they raise :class:`~inference.engines.errors.EngineUnavailableError` only when no answer came.
    Streaming calls yield the raw bytes of the SSE stream exactly as received; a refusal before the
    first event raises :class:`~inference.engines.errors.UpstreamStatusError`.
    """

    async def models(self) -> UpstreamResponse:
        """``GET /v1/models``."""
        ...

    async def chat_completions(
        self, body: JSONBody, *, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        """``POST /v1/chat/completions`` without streaming."""
        ...

    async def completions(
        self, body: JSONBody, *, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        """``POST /v1/completions`` without streaming."""
        ...

    async def embeddings(
        self, body: JSONBody, *, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        """``POST /v1/embeddings``."""
        ...

    def stream_chat_completions(
        self, body: JSONBody, *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """``POST /v1/chat/completions`` with ``stream: true``; raw SSE bytes."""
        ...

    def stream_completions(
        self, body: JSONBody, *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """``POST /v1/completions`` with ``stream: true``; raw SSE bytes."""
        ...

    async def aclose(self) -> None:
        """Release the connection pool if the client owns it."""
        ...


@dataclass(frozen=True, kw_only=True)
class Replica:
    """A running OpenAI-compatible endpoint.

    ``api_base`` ends in ``/v1`` (what the ``openai`` SDK takes as ``base_url``). ``health_url``
    answers 200 when the replica can serve. ``metrics_url`` serves Prometheus text with vLLM's metric
    names, or is ``None`` when the upstream exposes none. ``process`` is set when the engine owns one.
    """

    engine: str
    served_model_name: str
    api_base: str
    health_url: str
    metrics_url: str | None
    api_key: str | None = None
    process: ManagedProcess | None = None

    def client(self, *, http: httpx.AsyncClient | None = None) -> EngineClient:
        """An :class:`EngineClient` for this replica; ``http`` is the seam for a shared pool or a fake."""
        return OpenAIHTTPClient(api_base=self.api_base, api_key=self.api_key, http=http)

    async def check_health(self, *, http: httpx.AsyncClient | None = None, timeout_s: float = 5.0) -> bool:
        """True when ``health_url`` answers 2xx within ``timeout_s``; never raises for network errors."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        owned = http is None
        client = http or httpx.AsyncClient()
        try:
            response = await client.get(self.health_url, headers=headers, timeout=timeout_s)
            return response.is_success
        except httpx.HTTPError:
            return False
        finally:
            if owned:
                await client.aclose()


@runtime_checkable
class Engine(Protocol):
    """Starts and stops replicas of one kind.

    ``start`` returns only once the replica answers its health check, and raises
    :class:`~inference.engines.errors.EngineStartError` (process exited or timed out; nothing is
    left running) or :class:`~inference.engines.errors.EngineConfigError` (bad spec). ``stop`` ends
    what ``start`` started and is idempotent.
    """

    name: str

    async def start(self, spec: ReplicaSpec) -> Replica:
        """Start one replica and wait until it is healthy."""
        ...

    async def stop(self, replica: Replica) -> None:
        """Stop a replica this engine started."""
        ...
