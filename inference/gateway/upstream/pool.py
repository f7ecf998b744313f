"""A pool of keep-alive HTTP/1.1 connections to upstreams, and the responses read from them.

:meth:`UpstreamPool.request` sends one request and returns once the response's status and
headers arrived; the body is then read whole (:meth:`UpstreamHTTPResponse.read`) or piece by
piece as it arrives (:meth:`UpstreamHTTPResponse.iter_bytes`). A connection goes back to the
pool when its response was read to the end and both sides keep it alive; an abandoned response
closes its connection. At most ``max_connections`` requests are in flight across the pool;
more wait up to the connect timeout for a slot.

A reused connection the upstream closed while it sat idle fails before any response byte: the
request is then sent once more on a fresh connection (the upstream never saw it), which is what
general-purpose clients do too. Plain ``http://`` only (``https`` upstreams go through httpx).

Upstreams that speak HTTP/2 cleartext go through :meth:`UpstreamPool.request_h2`: many streams
share a few connections (:mod:`inference.gateway.upstream.h2pool`), under the same in-flight limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator

from inference.gateway.upstream.connection import Connection, UpstreamError, UpstreamTimeout
from inference.gateway.upstream.h2connection import Header
from inference.gateway.upstream.h2pool import H2Pool, H2Response

Address = tuple[str, int]


class UpstreamHTTPResponse:
    """Status and headers of one response; its body still on the connection."""

    def __init__(self, pool: UpstreamPool, address: Address, conn: Connection) -> None:
        self._pool = pool
        self._address = address
        self._conn: Connection | None = conn
        self.status_code = conn.status
        self.headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in conn.headers}

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """The decoded body as it arrives; raises :class:`UpstreamError` if it breaks or stalls."""
        conn = self._conn
        if conn is None:
            return
        timeout_s = self._pool.read_timeout_s
        try:
            while True:
                data = conn.take()
                if data:
                    yield data
                    continue
                if conn.complete:
                    break
                await conn.wait(timeout_s)
        finally:
            self._finish()

    async def read(self) -> bytes:
        """The whole decoded body."""
        parts = [piece async for piece in self.iter_bytes()]
        return b"".join(parts)

    def close(self) -> None:
        """Give the connection back (if the body was read to the end) or close it (if not)."""
        self._finish()

    def _finish(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool._release(self._address, conn)


class UpstreamPool:
    """Keep-alive connections per upstream ``host:port``; see the module docstring."""

    def __init__(
        self,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 300.0,
        max_connections: int = 2048,
        max_idle_per_host: int = 512,
    ) -> None:
        if max_connections < 1 or max_idle_per_host < 0:
            raise ValueError("max_connections must be positive and max_idle_per_host not negative")
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_connections = max_connections
        self.max_idle_per_host = max_idle_per_host
        self._idle: defaultdict[Address, list[Connection]] = defaultdict(list)
        self._in_flight = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self.h2 = H2Pool(connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s)

    @property
    def in_flight(self) -> int:
        """Requests holding a connection now."""
        return self._in_flight

    def idle_count(self, address: Address) -> int:
        """Idle keep-alive connections to ``address``."""
        return sum(1 for conn in self._idle.get(address, ()) if conn.usable)

    async def request(self, address: Address, head: bytes, body: bytes) -> UpstreamHTTPResponse:
        """Send ``head`` (request line and headers, CRLF-terminated) and ``body``; wait for the headers.

        Raises :class:`UpstreamError` (``received`` false) when no response began.
        """
        if self._closed:
            raise UpstreamError("the upstream pool is closed")
        await self._acquire_slot()
        try:
            conn = self._take_idle(address)
            if conn is not None:
                try:
                    return await self._exchange(address, conn, head, body)
                except UpstreamError as exc:
                    if exc.received or isinstance(exc, UpstreamTimeout):
                        raise
                    # the upstream closed this idle connection: send it again on a fresh one
            conn = await self._connect(address)
            return await self._exchange(address, conn, head, body)
        except BaseException:
            self._release_slot()
            raise

    async def request_h2(self, address: Address, headers: list[Header], body: bytes) -> H2Response:
        """Send one request over h2c (``headers``: pseudo-headers first, names lower-case).

        Counts against ``max_connections`` like an HTTP/1.1 request until the response ends.
        Raises :class:`UpstreamError` (``received`` false) when no response began.
        """
        if self._closed:
            raise UpstreamError("the upstream pool is closed")
        await self._acquire_slot()
        try:
            return await self.h2.request(address, headers, body, on_done=self._release_slot)
        except BaseException:
            self._release_slot()
            raise

    async def _exchange(
        self, address: Address, conn: Connection, head: bytes, body: bytes
    ) -> UpstreamHTTPResponse:
        try:
            conn.send(head + body)
            while not conn.headers_done:
                await conn.wait(self.read_timeout_s)
        except BaseException:
            conn.close()
            raise
        return UpstreamHTTPResponse(self, address, conn)

    async def _connect(self, address: Address) -> Connection:
        loop = asyncio.get_running_loop()
        host, port = address
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                _, conn = await loop.create_connection(Connection, host, port)
        except TimeoutError:
            raise UpstreamTimeout(
                f"connect to {host}:{port} timed out after {self.connect_timeout_s} s"
            ) from None
        except OSError as exc:
            raise UpstreamError(f"cannot connect to {host}:{port}: {exc}") from None
        return conn

    def _take_idle(self, address: Address) -> Connection | None:
        idle = self._idle.get(address)
        while idle:
            conn = idle.pop()
            if conn.usable:
                return conn
        return None

    def _release(self, address: Address, conn: Connection) -> None:
        """A response ended (read to the end or abandoned): keep its connection or close it."""
        self._release_slot()
        reusable = conn.complete and conn.keep_alive and conn.error is None and conn.usable
        idle = self._idle[address]
        if reusable and not self._closed and len(idle) < self.max_idle_per_host:
            conn.prepare_reuse()
            idle.append(conn)
        else:
            conn.close()

    async def _acquire_slot(self) -> None:
        if self._in_flight < self.max_connections and not self._slot_waiters:
            self._in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                await waiter  # the releaser counted the slot for us
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                self._release_slot()
            raise UpstreamTimeout(
                f"all {self.max_connections} upstream connections busy for {self.connect_timeout_s} s"
            ) from None
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release_slot()
            raise
        finally:
            if not waiter.done():
                waiter.cancel()
            with contextlib.suppress(ValueError):
                self._slot_waiters.remove(waiter)

    def _release_slot(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the waiter
                return
        self._in_flight -= 1

    async def aclose(self) -> None:
        """Close idle HTTP/1.1 connections (responses in flight close theirs when they end), all h2c."""
        self._closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        await self.h2.aclose()
