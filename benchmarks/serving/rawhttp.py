"""A lean HTTP/1.1 client (asyncio protocol + httptools parser) for high request rates.

httpx spends around a millisecond of CPU per request, which would make the load generator the
bottleneck at 1,000 requests per second on a small machine. This client keeps a pool of keep-alive
connections to one ``host:port`` and hands each body chunk to a callback the moment it is parsed,
so arrival times are taken as early as the event loop allows. Plain ``http://`` only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import httptools

from benchmarks.serving.metrics import RequestOutcome
from benchmarks.serving.stream import StreamAccumulator


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.body_cb: Callable[[bytes], None] | None = None
        self.done: asyncio.Future[None] | None = None
        self.status = 0
        self.keep_alive = True
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"bad HTTP response: {exc}"))
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionError("connection closed before the response ended"))

    def _fail(self, exc: Exception) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc)

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        if self.body_cb is not None:
            self.body_cb(body)

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(None)


class RawHTTPClient:
    """POSTs to one ``host:port`` over an unbounded pool of keep-alive HTTP/1.1 connections."""

    def __init__(self, *, host: str, port: int, headers: Mapping[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self._idle: list[_Connection] = []
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._head = f"Host: {host}:{port}\r\nContent-Type: application/json\r\n{extra}"

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(_Connection, self.host, self.port)
        return protocol

    async def post(self, path: str, body: bytes, on_body: Callable[[bytes], None]) -> int:
        """POST ``body`` to ``path``; ``on_body`` gets each decoded body chunk; returns the status code.

        Raises ``OSError`` / ``ConnectionError`` when no complete response came.
        """
        conn = self._take_idle() or await self._connect()
        loop = asyncio.get_running_loop()
        conn.done = loop.create_future()
        conn.body_cb = on_body
        request = f"POST {path} HTTP/1.1\r\n{self._head}Content-Length: {len(body)}\r\n\r\n".encode() + body
        try:
            if conn.transport is None or conn.transport.is_closing():
                raise ConnectionError("connection closed before the request was sent")
            conn.transport.write(request)
            await conn.done
        except BaseException:
            if conn.transport is not None:
                conn.transport.close()
            raise
        conn.body_cb = None
        if conn.keep_alive and not conn.closed:
            self._idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()
        return conn.status

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
        return None

    def close(self) -> None:
        """Close the idle connections."""
        for conn in self._idle:
            if conn.transport is not None:
                conn.transport.close()
        self._idle.clear()


class RawSender:
    """A :class:`~benchmarks.serving.client.Sender` over :class:`RawHTTPClient` for ``{path}`` on one host."""

    def __init__(
        self, client: RawHTTPClient, *, path: str = "/v1/chat/completions", timeout_s: float = 120.0
    ) -> None:
        self._client, self._path, self._timeout_s = client, path, timeout_s

    async def send(self, body: Mapping[str, Any]) -> RequestOutcome:
        """Stream one completion and measure it; failures and timeouts become unsuccessful outcomes."""
        payload = json.dumps(body).encode()
        accumulator = StreamAccumulator()
        sent = time.perf_counter()

        def on_body(chunk: bytes) -> None:
            accumulator.feed(chunk, time.perf_counter() - sent)

        try:
            status = await asyncio.wait_for(self._client.post(self._path, payload, on_body), self._timeout_s)
        except TimeoutError:
            return RequestOutcome(success=False, error="timeout", sent_at=sent)
        except (OSError, ConnectionError) as exc:
            return RequestOutcome(success=False, error=type(exc).__name__, sent_at=sent)
        if status != 200:
            return RequestOutcome(success=False, error=f"http_{status}", sent_at=sent)
        return accumulator.finish(sent_at=sent)
