"""The OpenAI API of one upstream over :class:`UpstreamPool` — the gateway's hot-path engine client.

Same methods and errors as :class:`inference.engines.http_client.OpenAIHTTPClient` (httpx), so
failover works unchanged: no response at all → :class:`EngineUnavailableError` (retried on
another replica); a stream refused with a non-2xx status → :class:`UpstreamStatusError`; a stream
that breaks → :class:`EngineUnavailableError` with ``after_first_byte`` set once bytes arrived.
Bodies are encoded with the stdlib ``json`` (compact separators); no compression is asked for,
so a stream's bytes are the SSE text itself.

``protocol`` picks the transport: ``http1`` (keep-alive HTTP/1.1, one connection per request in
flight) or ``h2c`` (HTTP/2 cleartext with prior knowledge, many streams per connection); only the
request head differs (HTTP/2 pseudo-headers ``:method``/``:path``/``:scheme``/``:authority``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from inference.engines.errors import EngineUnavailableError, UpstreamResponse, UpstreamStatusError
from inference.engines.openai_surface import OpenAIEndpoints, upstream_error_body
from inference.gateway.upstream.connection import UpstreamError
from inference.gateway.upstream.h2connection import Header
from inference.gateway.upstream.h2pool import H2Response
from inference.gateway.upstream.pool import Address, UpstreamHTTPResponse, UpstreamPool
from services.kernel import fastjson

PROTOCOLS = ("http1", "h2c")
# connection-specific fields HTTP/2 forbids (RFC 9113 8.2.2); the transport handles their job
_H2_DROPPED = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "host"}
)


@lru_cache(maxsize=4096)
def parse_api_base(api_base: str) -> tuple[Address, str, str]:
    """``http://host:port/prefix`` → ((host, port), ``/prefix`` without trailing slash, Host header)."""
    parts = urlsplit(api_base)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"the native upstream client speaks plain http:// only, not {api_base!r}")
    port = parts.port or 80
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return (parts.hostname, port), parts.path.rstrip("/"), host_header


def supports(api_base: str) -> bool:
    """Whether :class:`NativeOpenAIClient` can talk to ``api_base`` (plain HTTP)."""
    return api_base.startswith("http://")


def _clean(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("header values must not contain CR or LF")
    return value


def _error_body(status: int, raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw`` (any answer's body), or an OpenAI-shaped error wrapping the text."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        return data
    return upstream_error_body(status, raw.decode("utf-8", errors="replace"))


class NativeOpenAIClient(OpenAIEndpoints):
    """Calls one OpenAI-compatible ``api_base`` (``http://…/v1``) through ``pool``.

    ``protocol``: ``http1`` (default) or ``h2c`` (the upstream speaks HTTP/2 cleartext with prior
    knowledge); raises ``ValueError`` for anything else.
    """

    def __init__(
        self, *, api_base: str, api_key: str | None, pool: UpstreamPool, protocol: str = "http1"
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
        self.api_base = api_base.rstrip("/")
        self.protocol = protocol
        self._address, self._prefix, host = parse_api_base(self.api_base)
        self._pool = pool
        auth = f"Authorization: Bearer {_clean(api_key)}\r\n" if api_key else ""
        self._fixed = f"Host: {host}\r\nContent-Type: application/json\r\nAccept-Encoding: identity\r\n{auth}"
        self._h2_fixed: list[Header] = [
            (b"content-type", b"application/json"),
            (b"accept-encoding", b"identity"),
        ]
        if api_key:
            self._h2_fixed.append((b"authorization", f"Bearer {_clean(api_key)}".encode("latin-1")))
        self._authority = host.encode("latin-1")

    def _head(self, path: str, length: int, headers: Mapping[str, str] | None, *, stream: bool) -> bytes:
        accept = "text/event-stream" if stream else "application/json"
        extra = "".join(f"{_clean(k)}: {_clean(v)}\r\n" for k, v in (headers or {}).items())
        return (
            f"POST {self._prefix}{path} HTTP/1.1\r\n{self._fixed}Accept: {accept}\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n"
        ).encode("latin-1")

    def _h2_head(
        self, path: str, length: int, headers: Mapping[str, str] | None, *, stream: bool
    ) -> list[Header]:
        accept = b"text/event-stream" if stream else b"application/json"
        head: list[Header] = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":authority", self._authority),
            (b":path", f"{self._prefix}{path}".encode("latin-1")),
            *self._h2_fixed,
            (b"accept", accept),
            (b"content-length", str(length).encode()),
        ]
        for name, value in (headers or {}).items():
            lower = _clean(name).lower()
            if lower not in _H2_DROPPED:
                head.append((lower.encode("latin-1"), _clean(value).encode("latin-1")))
        return head

    async def _open(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None, *, stream: bool
    ) -> UpstreamHTTPResponse | H2Response:
        payload = fastjson.dumps(body)
        try:
            if self.protocol == "h2c":
                return await self._pool.request_h2(
                    self._address, self._h2_head(path, len(payload), headers, stream=stream), payload
                )
            return await self._pool.request(
                self._address, self._head(path, len(payload), headers, stream=stream), payload
            )
        except UpstreamError as exc:
            raise EngineUnavailableError(f"{self.api_base}{path}: {exc}") from None

    async def _post(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> UpstreamResponse:
        response = await self._open(path, body, headers, stream=False)
        try:
            raw = await response.read()
        except UpstreamError as exc:
            raise EngineUnavailableError(f"{self.api_base}{path}: {exc}") from None
        finally:
            response.close()
        return UpstreamResponse(
            response.status_code, _error_body(response.status_code, raw), response.headers
        )

    async def _stream(
        self, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None
    ) -> AsyncIterator[bytes]:
        response = await self._open(path, {**body, "stream": True}, headers, stream=True)
        received = False
        try:
            if not 200 <= response.status_code < 300:
                try:
                    raw = await response.read()
                except UpstreamError:
                    raw = b""
                raise UpstreamStatusError(
                    UpstreamResponse(
                        response.status_code, _error_body(response.status_code, raw), response.headers
                    )
                )
            async for chunk in response.iter_bytes():
                received = True
                yield chunk
        except UpstreamError as exc:
            raise EngineUnavailableError(
                f"{self.api_base}{path}: stream broke: {exc}", after_first_byte=received
            ) from None
        finally:
            response.close()
