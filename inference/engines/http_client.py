"""The one :class:`~inference.engines.base.EngineClient` implementation: OpenAI API over httpx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from inference.engines.errors import EngineUnavailableError, UpstreamResponse, UpstreamStatusError
from inference.engines.openai_surface import OpenAIEndpoints, upstream_error_body

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=30.0, pool=30.0)


def _body_of(response: httpx.Response) -> dict[str, Any]:
    """The JSON object in ``response``, or an OpenAI-shaped error wrapping whatever text came."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        return data
    return upstream_error_body(response.status_code, response.text)


class OpenAIHTTPClient(OpenAIEndpoints):
    """Calls one OpenAI-compatible ``api_base`` (ending in ``/v1``).

    ``http`` is the injection seam (a shared pool, or a client on ``httpx.MockTransport`` /
    ``httpx.ASGITransport`` in tests); when omitted the client makes and owns one.
    """

    def __init__(
        self,
        *,
        api_base: str,
        api_key: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self._api_key = api_key
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)

    def _headers(self, extra: Mapping[str, str] | None, *, stream: bool = False) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        if stream:
            headers["Accept-Encoding"] = "identity"  # raw bytes are then the SSE text itself
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        headers.update(extra or {})
        return headers

    async def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None, headers: Mapping[str, str] | None
    ) -> UpstreamResponse:
        try:
            response = await self._http.request(
                method, f"{self.api_base}{path}", json=body, headers=self._headers(headers)
            )
        except httpx.TransportError as exc:
            raise EngineUnavailableError(f"{self.api_base}{path}: {exc!r}") from exc
        return UpstreamResponse(response.status_code, _body_of(response), dict(response.headers))

    async def _post(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> UpstreamResponse:
        return await self._send("POST", path, body, headers)

    async def _stream(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> AsyncIterator[bytes]:
        request = self._http.build_request(
            "POST",
            f"{self.api_base}{path}",
            json={**body, "stream": True},
            headers=self._headers(headers, stream=True),
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise EngineUnavailableError(f"{self.api_base}{path}: {exc!r}") from exc
        received = False
        try:
            if not response.is_success:
                await response.aread()
                raise UpstreamStatusError(
                    UpstreamResponse(response.status_code, _body_of(response), dict(response.headers))
                )
            async for chunk in response.aiter_raw():
                received = True
                yield chunk
        except httpx.TransportError as exc:
            raise EngineUnavailableError(
                f"{self.api_base}{path}: stream broke: {exc!r}", after_first_byte=received
            ) from exc
        finally:
            await response.aclose()

    async def models(self) -> UpstreamResponse:
        """``GET /v1/models``."""
        return await self._send("GET", "/models", None, None)

    async def aclose(self) -> None:
        """Close the connection pool if this client created it."""
        if self._owns_http:
            await self._http.aclose()
