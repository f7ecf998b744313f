"""The OpenAI routes every engine client offers, written once over two transport primitives.

A transport (httpx in :mod:`inference.engines.http_client`, the gateway's native pool in
:mod:`inference.gateway.upstream.client`) supplies ``_post`` (one JSON answer) and ``_stream``
(raw SSE bytes, ``stream`` forced true); this mixin maps the OpenAI operations onto them, so both
clients expose the same methods with the same contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any

from inference.engines.errors import UpstreamResponse


def upstream_error_body(status: int, text: str) -> dict[str, Any]:
    """An OpenAI-shaped error wrapping an upstream answer that was not a JSON object."""
    return {
        "error": {
            "message": text[:2000] or f"upstream answered {status} with no body",
            "type": "upstream_error",
            "param": None,
            "code": status,
        }
    }


class OpenAIEndpoints(ABC):
    """``chat_completions``, ``completions``, ``embeddings`` and their streaming forms."""

    @abstractmethod
    async def _post(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> UpstreamResponse:
        """``POST {api_base}{path}`` with a JSON body; the answer as an :class:`UpstreamResponse`."""

    @abstractmethod
    def _stream(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> AsyncIterator[bytes]:
        """``POST {api_base}{path}`` with ``stream`` forced true; the raw SSE bytes."""

    async def chat_completions(
        self, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        """``POST /v1/chat/completions`` without streaming."""
        return await self._post("/chat/completions", body, headers)

    async def completions(
        self, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        """``POST /v1/completions`` without streaming."""
        return await self._post("/completions", body, headers)

    async def embeddings(
        self, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> UpstreamResponse:
        """``POST /v1/embeddings``."""
        return await self._post("/embeddings", body, headers)

    def stream_chat_completions(
        self, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """``POST /v1/chat/completions`` with ``stream`` forced true; yields raw SSE bytes."""
        return self._stream("/chat/completions", body, headers)

    def stream_completions(
        self, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        """``POST /v1/completions`` with ``stream`` forced true; yields raw SSE bytes."""
        return self._stream("/completions", body, headers)
