"""One keep-alive HTTP/1.1 connection to an upstream: an asyncio protocol with the httptools parser.

A connection carries one request at a time. The parser decodes ``Content-Length``, chunked and
close-delimited bodies; decoded body pieces queue up in :attr:`Connection.chunks` until the
consumer takes them. When more than ``HIGH_WATER`` bytes wait (a slow client behind a fast
upstream) reading from the socket pauses, so a stream holds bounded memory; it resumes below
``LOW_WATER``. Every wait is bounded by the caller's read timeout (no bytes for that long → error).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast

import httptools

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024


class UpstreamError(ConnectionError):
    """The upstream could not be reached, broke the connection, timed out or sent bad HTTP.

    ``received`` is true once any byte of the response arrived (then a retry elsewhere is unsafe
    for a stream the client already saw).
    """

    def __init__(self, message: str, *, received: bool = False) -> None:
        super().__init__(message)
        self.received = received


class UpstreamTimeout(UpstreamError):
    """No bytes from the upstream within the read (or connect, or pool) timeout."""


class Connection(asyncio.Protocol):
    """The state of one connection and of the response in flight on it (see the module docstring)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.reused = False
        self.lost = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = True
        self.delimited = False  # Content-Length or chunked: the end is known without closing
        self.received = False
        self.error: UpstreamError | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.paused = False
        self._waiter: asyncio.Future[None] | None = None

    def prepare_reuse(self) -> None:
        """Ready the connection for its next request (after a complete keep-alive response)."""
        self.parser = httptools.HttpResponseParser(self)
        self._reset()
        self.reused = True

    @property
    def usable(self) -> bool:
        """Open, idle and not closing."""
        return not self.lost and self.transport is not None and not self.transport.is_closing()

    def send(self, data: bytes) -> None:
        """Write ``data`` (a whole request); raises :class:`UpstreamError` if the connection is gone."""
        if not self.usable:
            raise UpstreamError("connection closed before the request was sent")
        assert self.transport is not None
        self.transport.write(data)

    def close(self) -> None:
        """Close the socket (the response, if any, is abandoned)."""
        if self.transport is not None:
            self.transport.close()

    # --- asyncio protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamError("upstream switched protocols", received=True))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"bad HTTP response from upstream: {exc}", received=True))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.headers_done and not self.complete and not self.delimited:
            self.complete = True  # a close-delimited body ends with the connection
            self._wake()
        elif not self.complete:
            detail = f": {exc}" if exc else ""
            self._fail(UpstreamError(f"upstream closed the connection{detail}", received=self.received))

    # --- httptools callbacks --------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"content-length" or (lower == b"transfer-encoding" and b"chunked" in value.lower()):
            self.delimited = True
        self.headers.append((lower, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        self.headers_done = True
        if self.status in (204, 304):
            self.delimited = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # --- the consumer's side --------------------------------------------------------------------

    def take(self) -> bytes:
        """Everything decoded and not yet taken (may be empty); resumes reading below ``LOW_WATER``."""
        if not self.chunks:
            return b""
        data = self.chunks.popleft() if len(self.chunks) == 1 else b"".join(self.chunks)
        self.chunks.clear()
        self.buffered = 0
        if self.paused and self.transport is not None and not self.lost:
            self.paused = False
            self.transport.resume_reading()
        return data

    async def wait(self, timeout_s: float) -> None:
        """Wait for news (headers, body, end or error); raises :class:`UpstreamError` on error or silence."""
        if self.error is not None:
            raise self.error
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout_s, self._time_out, waiter, timeout_s)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self.error is not None:
            raise self.error

    def _time_out(self, waiter: asyncio.Future[None], timeout_s: float) -> None:
        if not waiter.done():
            self._fail(UpstreamTimeout(f"no data from upstream for {timeout_s} s", received=self.received))
            self.close()

    def _fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
