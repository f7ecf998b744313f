"""One HTTP/2 cleartext (prior-knowledge h2c) connection to an upstream, carrying many streams.

An asyncio protocol around the ``h2`` state machine. Each request is one stream
(:class:`H2Stream`); decoded DATA queues up per stream until the consumer takes it, and only
then is the space handed back to the upstream (``WINDOW_UPDATE``): a stream's receive window is
``STREAM_WINDOW`` (256 KiB, the HTTP/1.1 client's high-water mark), so a slow client behind a
fast upstream holds bounded memory and never stalls the other streams on the connection (the
connection-level window is sized for every stream's window at once).

Failures keep the HTTP/1.1 client's meaning: :class:`UpstreamError` with ``received`` set once
any byte of that stream's response arrived. A ``RST_STREAM`` from the upstream fails its stream;
``GOAWAY``, a protocol error or losing the socket fails every open stream on the connection.

Liveness: :meth:`H2Connection.ping` sends a PING; a connection that does not answer within the
given time is failed like a lost one (streams that had no response byte fail retryably) and
closed, so a silently dropped connection (a NAT or firewall that forgot it) costs seconds, not
the read timeout of every stream put on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from typing import cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from inference.gateway.upstream.connection import UpstreamError, UpstreamTimeout

STREAM_WINDOW = 256 * 1024
MAX_STREAMS_PER_CONNECTION = 1000  # our own cap, whatever the peer's SETTINGS_MAX_CONCURRENT_STREAMS
CONNECTION_WINDOW = min(STREAM_WINDOW * MAX_STREAMS_PER_CONNECTION, 2**31 - 1)
CANCEL = 0x8  # RST_STREAM error code: the client is no longer interested

Header = tuple[bytes, bytes]


class H2Stream:
    """One request/response on a connection: headers, queued body pieces, end or error."""

    __slots__ = (
        "_waiter",
        "buffered",
        "chunks",
        "complete",
        "error",
        "headers",
        "headers_done",
        "id",
        "received",
        "status",
        "unacked",
    )

    def __init__(self, stream_id: int) -> None:
        self.id = stream_id
        self.status = 0
        self.headers: list[Header] = []
        self.headers_done = False
        self.complete = False
        self.received = False
        self.error: UpstreamError | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0  # bytes queued, not yet taken
        self.unacked = 0  # flow-controlled bytes queued, not yet handed back to the upstream
        self._waiter: asyncio.Future[None] | None = None

    def fail(self, error: UpstreamError) -> None:
        """Record ``error`` (the first one wins) and wake the consumer."""
        if self.error is None and not self.complete:
            self.error = error
        self.wake()

    def wake(self) -> None:
        """Wake the consumer waiting in :meth:`H2Connection.wait`."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class H2Connection(asyncio.Protocol):
    """A client-side h2c connection (see the module docstring); :meth:`start` sends the preface."""

    def __init__(self) -> None:
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=config)
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, H2Stream] = {}
        self.lost = False
        self.goaway = False
        self.error: UpstreamError | None = None
        self.settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._bodies: dict[int, memoryview] = {}  # request bodies waiting for flow-control window
        self.idle_since: float | None = time.monotonic()  # when the last stream ended; None while busy
        self.last_heard = time.monotonic()  # when the upstream last sent anything
        self._ping_timer: asyncio.TimerHandle | None = None  # an unanswered PING's deadline

    # --- state ----------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Open, the peer's SETTINGS seen, no GOAWAY: new streams may start here."""
        return (
            not self.lost
            and not self.goaway
            and self.settled.done()
            and self.transport is not None
            and not self.transport.is_closing()
        )

    @property
    def capacity(self) -> int:
        """How many more streams the peer (and our own cap) allows on this connection now."""
        peer = self.h2.remote_settings.max_concurrent_streams
        return min(peer, MAX_STREAMS_PER_CONNECTION) - len(self.streams)

    # --- requests -------------------------------------------------------------------------------

    def open_stream(self, headers: list[Header], body: bytes) -> H2Stream:
        """Send a request (``headers`` with the pseudo-headers first) and return its stream."""
        if not self.usable:
            raise UpstreamError("h2c connection closed before the request was sent")
        stream_id = self.h2.get_next_available_stream_id()
        try:
            self.h2.send_headers(stream_id, headers, end_stream=not body)
        except h2.exceptions.ProtocolError as exc:
            raise UpstreamError(f"cannot send the request over h2c: {exc}") from None
        stream = H2Stream(stream_id)
        self.streams[stream_id] = stream
        self.idle_since = None
        if body:
            self._bodies[stream_id] = memoryview(body)
            self._send_bodies()
        self._flush()
        return stream

    def take(self, stream: H2Stream) -> bytes:
        """Everything queued on ``stream`` (may be empty); hands the window back to the upstream."""
        if not stream.chunks:
            return b""
        data = stream.chunks.popleft() if len(stream.chunks) == 1 else b"".join(stream.chunks)
        stream.chunks.clear()
        stream.buffered = 0
        self._ack(stream)
        return data

    async def wait(self, stream: H2Stream, timeout_s: float) -> None:
        """Wait for news on ``stream``; raises :class:`UpstreamError` on error or ``timeout_s`` of silence."""
        if stream.error is not None:
            raise stream.error
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        stream._waiter = waiter
        timer = loop.call_later(timeout_s, self._time_out, stream, waiter, timeout_s)
        try:
            await waiter
        finally:
            timer.cancel()
            stream._waiter = None
        if stream.error is not None:
            raise stream.error

    def end(self, stream: H2Stream) -> None:
        """The consumer is done with ``stream``: reset it if the upstream has not finished it."""
        if self.streams.pop(stream.id, None) is None:
            return
        if not self.streams:
            self.idle_since = time.monotonic()
        unsent = self._bodies.pop(stream.id, None) is not None
        self._ack(stream)
        if (unsent or not stream.complete) and not self.lost and self.error is None:
            with contextlib.suppress(h2.exceptions.ProtocolError):  # already closed on the h2 side
                self.h2.reset_stream(stream.id, error_code=CANCEL)
            self._flush()

    def ping(self, timeout_s: float) -> None:
        """Send a PING (unless one is unanswered); fail and close the connection if no answer comes
        within ``timeout_s``."""
        if self._ping_timer is not None or not self.usable:
            return
        self.h2.ping(os.urandom(8))
        self._flush()
        self._ping_timer = asyncio.get_running_loop().call_later(timeout_s, self._ping_unanswered, timeout_s)

    def close(self) -> None:
        """Close the socket (every open stream fails)."""
        if self.transport is not None:
            self.transport.close()

    # --- asyncio protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: STREAM_WINDOW,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 0,  # the upstream opens none
            },
        )
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(CONNECTION_WINDOW - self.h2.inbound_flow_control_window)
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.last_heard = time.monotonic()
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail_all(f"bad HTTP/2 from upstream: {exc}")
            self._flush()
            self.close()
            return
        for event in events:
            self._on_event(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        detail = f": {exc}" if exc else ""
        self._fail_all(f"upstream closed the h2c connection{detail}")
        if not self.settled.done():
            self.settled.set_exception(UpstreamError(f"upstream closed the h2c connection{detail}"))
            self.settled.exception()  # retrieved: a connect that gave up must not log it

    # --- h2 events ------------------------------------------------------------------------------

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is None:  # ours is gone: hand the window back at once
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                return
            if event.data:
                stream.chunks.append(event.data)
                stream.buffered += len(event.data)
            stream.unacked += event.flow_controlled_length or 0
            stream.received = True
            stream.wake()
        elif isinstance(event, h2.events.ResponseReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.received = True
                self._on_headers(stream, event.headers or [])
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.complete = True
                stream.wake()
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                self._bodies.pop(stream.id, None)
                stream.fail(
                    UpstreamError(
                        f"upstream reset the h2c stream (error code {event.error_code})",
                        received=stream.received,
                    )
                )
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self._send_bodies()
            if isinstance(event, h2.events.RemoteSettingsChanged) and not self.settled.done():
                self.settled.set_result(None)
        elif isinstance(event, h2.events.PingAckReceived):
            if self._ping_timer is not None:
                self._ping_timer.cancel()
                self._ping_timer = None
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.goaway = True
            self._fail_all(
                f"upstream sent GOAWAY (error code {event.error_code}, last stream {event.last_stream_id})"
            )
            self.close()

    def _on_headers(self, stream: H2Stream, headers: list[Header]) -> None:
        for name, value in headers:
            if name == b":status":
                stream.status = int(value)
            elif not name.startswith(b":"):
                stream.headers.append((name, value))
        stream.headers_done = True
        stream.wake()

    # --- internals ------------------------------------------------------------------------------

    def _ack(self, stream: H2Stream) -> None:
        if stream.unacked and not self.lost and self.error is None:
            self.h2.acknowledge_received_data(stream.unacked, stream.id)
            self._flush()
        stream.unacked = 0

    def _send_bodies(self) -> None:
        for stream_id, body in list(self._bodies.items()):
            while body:
                try:
                    window = self.h2.local_flow_control_window(stream_id)
                except h2.exceptions.StreamClosedError:
                    window = -1
                if window < 0:
                    del self._bodies[stream_id]
                    break
                size = min(window, self.h2.max_outbound_frame_size, len(body))
                if size == 0:
                    break
                self.h2.send_data(stream_id, body[:size].tobytes(), end_stream=size == len(body))
                body = body[size:]
            else:
                del self._bodies[stream_id]
                continue
            if stream_id in self._bodies:
                self._bodies[stream_id] = body

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _time_out(self, stream: H2Stream, waiter: asyncio.Future[None], timeout_s: float) -> None:
        if not waiter.done():
            stream.fail(UpstreamTimeout(f"no data from upstream for {timeout_s} s", received=stream.received))

    def _ping_unanswered(self, timeout_s: float) -> None:
        self._ping_timer = None
        self._fail_all(f"h2c connection did not answer a PING within {timeout_s} s")
        self.close()

    def _fail_all(self, message: str) -> None:
        if self.error is None:
            self.error = UpstreamError(message)
        for stream in self.streams.values():
            stream.fail(UpstreamError(message, received=stream.received))
