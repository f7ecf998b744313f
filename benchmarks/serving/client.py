"""Streaming chat-completion senders: one request in, one :class:`RequestOutcome` out.

:class:`HttpxSender` works against any URL (TLS, proxies) and is what ``stic bench serve`` uses.
A sender never raises for a failed request: errors become unsuccessful outcomes naming the cause.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from benchmarks.serving.metrics import RequestOutcome
from benchmarks.serving.stream import StreamAccumulator


class Sender(Protocol):
    """Sends one streaming chat completion and measures it."""

    async def send(self, body: Mapping[str, Any]) -> RequestOutcome:
        """POST ``body`` and return what was measured (never raises for request failures)."""
        ...


class HttpxSender:
    """POST ``{api_base}/chat/completions`` with httpx; ``http`` is the seam for a shared or fake client."""

    def __init__(
        self,
        *,
        api_base: str,
        api_key: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        self._base = api_base.rstrip("/")
        self._url = self._base + "/chat/completions"
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._owned = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=30.0),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=1000),
        )

    async def send(self, body: Mapping[str, Any]) -> RequestOutcome:
        """Stream one completion; the clock starts just before the request is written."""
        payload = json.dumps(body).encode()
        accumulator = StreamAccumulator()
        wall_sent = time.perf_counter()
        try:
            async with self._http.stream("POST", self._url, content=payload, headers=self._headers) as resp:
                if resp.status_code != 200:
                    await resp.aread()
                    return RequestOutcome(success=False, error=f"http_{resp.status_code}", sent_at=wall_sent)
                async for chunk in resp.aiter_raw():
                    accumulator.feed(chunk, time.perf_counter() - wall_sent)
        except httpx.HTTPError as exc:
            return RequestOutcome(success=False, error=type(exc).__name__, sent_at=wall_sent)
        return accumulator.finish(sent_at=wall_sent)

    async def post_json(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        """A plain (non-streaming) POST to ``{api_base}/{path}``, for probes."""
        return await self._http.post(f"{self._base}/{path}", json=body, headers=self._headers)

    async def get(self, path: str) -> httpx.Response:
        """A GET of ``{api_base}/{path}``, for ``/models``."""
        return await self._http.get(f"{self._base}/{path}", headers=self._headers)

    async def aclose(self) -> None:
        """Close the client if this sender created it."""
        if self._owned:
            await self._http.aclose()
