"""HTTP/2 cleartext (prior-knowledge h2c) connections per upstream, each multiplexing many streams.

:meth:`H2Pool.request` puts a request on the first connection to that ``host:port`` with room for
another stream (the peer's ``SETTINGS_MAX_CONCURRENT_STREAMS``, capped at
:data:`~inference.gateway.upstream.h2connection.MAX_STREAMS_PER_CONNECTION`); when every
connection is full it opens one more, and concurrent requests wait for that one connect rather
than each opening their own. A new connection is used once the upstream's SETTINGS arrived, all
within the connect timeout. It returns once the response's status and headers arrived, as an
:class:`H2Response` with the same surface as
:class:`~inference.gateway.upstream.pool.UpstreamHTTPResponse`.

Connections opened for a burst do not stay for ever: when a request picks a connection, every
other connection to that upstream that has carried no stream for ``idle_timeout_s`` is closed (a
GOAWAY-free close of an idle socket; the first connection always stays). After 10,000
streams over 40 connections, the next requests after the timeout bring it back to the few the
traffic needs. An upstream that gets no request at all keeps its connections until it closes them.

A connection the upstream has sent nothing on for ``keepalive_s`` is PINGed when a request is put
on it; one that does not answer within ``ping_timeout_s`` is failed and closed (see
:meth:`~inference.gateway.upstream.h2connection.H2Connection.ping`), and that request is sent again
on a fresh connection like any other that got no response byte.

A request on an existing connection that the upstream closed or sent GOAWAY on before answering
is sent once more on a fresh connection (the upstream never processed it); any other failure is
an :class:`UpstreamError` as with HTTP/1.1. The in-flight limit (``max_connections``) is applied
by :class:`~inference.gateway.upstream.pool.UpstreamPool`, which owns this pool.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable

from inference.gateway.upstream.connection import UpstreamError, UpstreamTimeout
from inference.gateway.upstream.h2connection import H2Connection, H2Stream, Header

Address = tuple[str, int]


class H2Response:
    """Status and headers of one h2c response; its body still arriving on the stream."""

    def __init__(
        self, conn: H2Connection, stream: H2Stream, *, read_timeout_s: float, on_done: Callable[[], None]
    ):
        self._conn = conn
        self._stream: H2Stream | None = stream
        self._read_timeout_s = read_timeout_s
        self._on_done = on_done
        self.status_code = stream.status
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in stream.headers}

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives; raises :class:`UpstreamError` if the stream breaks or stalls."""
        stream = self._stream
        if stream is None:
            return
        conn = self._conn
        try:
            while True:
                data = conn.take(stream)
                if data:
                    yield data
                    continue
                if stream.complete:
                    break
                await conn.wait(stream, self._read_timeout_s)
        finally:
            self._finish()

    async def read(self) -> bytes:
        """The whole body."""
        parts = [piece async for piece in self.iter_bytes()]
        return b"".join(parts)

    def close(self) -> None:
        """End the stream: ``RST_STREAM`` (CANCEL) when the upstream has not finished it."""
        self._finish()

    def _finish(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            self._conn.end(stream)
            self._on_done()


class H2Pool:
    """h2c connections per upstream ``host:port``; see the module docstring."""

    def __init__(
        self,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 300.0,
        idle_timeout_s: float = 30.0,
        keepalive_s: float = 10.0,
        ping_timeout_s: float = 5.0,
    ) -> None:
        if min(idle_timeout_s, keepalive_s) < 0 or ping_timeout_s <= 0:
            raise ValueError("idle_timeout_s and keepalive_s must not be negative, ping_timeout_s positive")
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.keepalive_s = keepalive_s
        self.ping_timeout_s = ping_timeout_s
        self._conns: defaultdict[Address, list[H2Connection]] = defaultdict(list)
        self._connecting: dict[Address, asyncio.Future[None]] = {}
        self._closed = False

    def connection_count(self, address: Address) -> int:
        """Open h2c connections to ``address`` (not lost, no GOAWAY received)."""
        return sum(1 for conn in self._conns.get(address, ()) if not conn.lost and not conn.goaway)

    def stream_count(self, address: Address) -> int:
        """Streams in flight to ``address`` over all its connections."""
        return sum(len(conn.streams) for conn in self._conns.get(address, ()))

    async def request(
        self, address: Address, headers: list[Header], body: bytes, *, on_done: Callable[[], None]
    ) -> H2Response:
        """Send a request (pseudo-headers first) and wait for the response headers.

        ``on_done`` is called once when the returned response ends (read, abandoned or broken);
        not at all when this raises. Raises :class:`UpstreamError` (``received`` false) when no
        response began.
        """
        if self._closed:
            raise UpstreamError("the upstream pool is closed")
        conn, fresh = await self._connection(address)
        try:
            return await self._exchange(conn, headers, body, on_done)
        except UpstreamError as exc:
            if fresh or exc.received or isinstance(exc, UpstreamTimeout):
                raise
        # the upstream closed (or sent GOAWAY on) a connection we reused: once more on a fresh one
        conn, _ = await self._connection(address, fresh_only=True)
        return await self._exchange(conn, headers, body, on_done)

    async def _exchange(
        self, conn: H2Connection, headers: list[Header], body: bytes, on_done: Callable[[], None]
    ) -> H2Response:
        stream = conn.open_stream(headers, body)
        try:
            while not stream.headers_done:
                await conn.wait(stream, self.read_timeout_s)
        except BaseException:
            conn.end(stream)
            raise
        return H2Response(conn, stream, read_timeout_s=self.read_timeout_s, on_done=on_done)

    async def _connection(self, address: Address, *, fresh_only: bool = False) -> tuple[H2Connection, bool]:
        """A connection with room for one more stream (opening one if needed), and whether it is new."""
        while True:
            conns = self._conns[address]
            self._prune(conns)
            if not fresh_only:
                for conn in conns:
                    if conn.usable and conn.capacity > 0:
                        if time.monotonic() - conn.last_heard > self.keepalive_s:
                            conn.ping(self.ping_timeout_s)
                        return conn, False
            pending = self._connecting.get(address)
            if pending is not None:
                await asyncio.shield(pending)  # raises that connect's UpstreamError
                fresh_only = False
                continue
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._connecting[address] = done
            try:
                conn = await self._connect(address)
            except UpstreamError as exc:
                done.set_exception(exc)
                done.exception()  # retrieved: nobody may be waiting
                raise
            finally:
                del self._connecting[address]
                if not done.done():
                    done.set_result(None)  # connected, or cancelled: the waiters look again
            conns.append(conn)
            return conn, True

    def _prune(self, conns: list[H2Connection]) -> None:
        """Drop lost and GOAWAY'd connections from ``conns``; close and drop every one after the
        first that has carried no stream for ``idle_timeout_s``."""
        cutoff = time.monotonic() - self.idle_timeout_s
        kept: list[H2Connection] = []
        for conn in conns:
            if conn.lost or conn.goaway:
                continue
            if kept and conn.idle_since is not None and conn.idle_since <= cutoff:
                conn.close()
                continue
            kept.append(conn)
        conns[:] = kept

    async def _connect(self, address: Address) -> H2Connection:
        loop = asyncio.get_running_loop()
        host, port = address
        conn: H2Connection | None = None
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, conn = await loop.create_connection(H2Connection, host, port)
                await conn.settled
        except TimeoutError:
            if conn is not None:
                conn.close()
            raise UpstreamTimeout(
                f"h2c connect to {host}:{port} timed out after {self.connect_timeout_s} s"
            ) from None
        except UpstreamError:
            raise
        except OSError as exc:
            raise UpstreamError(f"cannot connect to {host}:{port}: {exc}") from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return conn

    async def aclose(self) -> None:
        """Close every connection (streams in flight on them fail)."""
        self._closed = True
        for conns in self._conns.values():
            for conn in conns:
                conn.close()
        self._conns.clear()
