"""Sending a request to one model service: replica choice, failover before the first byte.

A non-streaming call that gets no answer, or a 502/503/504, is retried on another replica; a
stream is retried only until its first bytes arrive (after that the client has seen output and a
retry would duplicate it). The request's ``model`` is rewritten to the replica's served name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from inference.engines.errors import EngineUnavailableError, UpstreamResponse, UpstreamStatusError
from inference.engines.http_client import OpenAIHTTPClient
from inference.gateway.errors import OpenAIError
from inference.gateway.requests import Operation
from inference.gateway.routing import (
    Endpoint,
    Held,
    NoHealthyReplica,
    RequestKey,
    hold_with_failover,
    with_failover,
)
from inference.gateway.table import ServiceEntry
from inference.gateway.upstream import NativeOpenAIClient, UpstreamPool, supports

RETRYABLE_STATUS = frozenset({502, 503, 504})


@dataclass
class Forwarded:
    """A non-streaming answer and the replica that gave it."""

    response: UpstreamResponse
    replica_id: str


@dataclass
class OpenedStream:
    """A stream whose first bytes arrived: ``first`` then the rest of ``chunks``.

    The replica stays counted as outstanding until ``held`` is closed (finish or release).
    """

    first: bytes
    chunks: AsyncIterator[bytes]
    replica_id: str
    held: Held[Any] | None = None

    async def all_chunks(self) -> AsyncIterator[bytes]:
        """The whole stream from its first bytes."""
        yield self.first
        async for chunk in self.chunks:
            yield chunk


def _client(
    endpoint: Endpoint, http: httpx.AsyncClient, pool: UpstreamPool | None
) -> OpenAIHTTPClient | NativeOpenAIClient:
    """The native client (HTTP/1.1 or h2c, as the replica speaks) for a plain-HTTP replica when
    ``pool`` is given, else httpx (HTTP/1.1)."""
    spec = endpoint.spec
    if pool is not None and supports(spec.api_base):
        return NativeOpenAIClient(
            api_base=spec.api_base, api_key=spec.api_key, pool=pool, protocol=spec.protocol
        )
    return OpenAIHTTPClient(api_base=spec.api_base, api_key=spec.api_key, http=http)


def _unavailable(entry: ServiceEntry, exc: Exception) -> OpenAIError:
    if isinstance(exc, NoHealthyReplica):
        return OpenAIError(
            503,
            f"The model '{entry.target.name}' has no healthy replica right now: {exc}",
            code="no_healthy_replica",
        )
    return OpenAIError(
        502, f"The model '{entry.target.name}' did not answer: {exc}", code="upstream_unavailable"
    )


def _upstream_body(entry: ServiceEntry, body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "model": entry.target.served_model_name}


async def forward(
    *,
    entry: ServiceEntry,
    operation: Operation,
    body: dict[str, Any],
    key: RequestKey,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    max_attempts: int,
    pool: UpstreamPool | None = None,
) -> Forwarded:
    """One non-streaming call with failover; raises :class:`OpenAIError` 502/503 when no replica answers.

    ``pool``: the native upstream client's pool (plain-HTTP replicas go through it), else httpx.
    """
    upstream_body = _upstream_body(entry, body)

    async def attempt(endpoint: Endpoint) -> Forwarded:
        client = _client(endpoint, http, pool)
        if operation is Operation.CHAT:
            response = await client.chat_completions(upstream_body, headers=headers)
        elif operation is Operation.COMPLETIONS:
            response = await client.completions(upstream_body, headers=headers)
        else:
            response = await client.embeddings(upstream_body, headers=headers)
        if response.status_code in RETRYABLE_STATUS:
            raise EngineUnavailableError(f"replica {endpoint.spec.id} answered {response.status_code}")
        return Forwarded(response=response, replica_id=endpoint.spec.id)

    try:
        return await with_failover(entry.replicas, key, attempt, max_attempts=max_attempts)
    except (EngineUnavailableError, NoHealthyReplica) as exc:
        raise _unavailable(entry, exc) from None


async def open_stream(
    *,
    entry: ServiceEntry,
    operation: Operation,
    body: dict[str, Any],
    key: RequestKey,
    http: httpx.AsyncClient,
    headers: dict[str, str],
    max_attempts: int,
    pool: UpstreamPool | None = None,
) -> OpenedStream | UpstreamResponse:
    """Open a stream with failover until its first bytes; an upstream refusal (4xx) is returned as is."""
    upstream_body = _upstream_body(entry, body)

    async def attempt(endpoint: Endpoint) -> OpenedStream | UpstreamResponse:
        client = _client(endpoint, http, pool)
        if operation is Operation.CHAT:
            chunks = client.stream_chat_completions(upstream_body, headers=headers)
        else:
            chunks = client.stream_completions(upstream_body, headers=headers)
        try:
            first = await anext(aiter(chunks))
        except StopAsyncIteration:
            raise EngineUnavailableError(f"replica {endpoint.spec.id} closed the stream at once") from None
        except UpstreamStatusError as exc:
            if exc.response.status_code in RETRYABLE_STATUS:
                raise EngineUnavailableError(
                    f"replica {endpoint.spec.id} answered {exc.response.status_code}"
                ) from exc
            return exc.response
        return OpenedStream(first=first, chunks=chunks, replica_id=endpoint.spec.id)

    try:
        held = await hold_with_failover(entry.replicas, key, attempt, max_attempts=max_attempts)
    except (EngineUnavailableError, NoHealthyReplica) as exc:
        raise _unavailable(entry, exc) from None
    if isinstance(held.value, UpstreamResponse):
        held.release()
        return held.value
    held.value.held = held
    return held.value
