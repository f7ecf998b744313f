"""Incremental parsing of Server-Sent Events from raw byte chunks (for accounting and tests).

Passthrough code forwards the raw bytes; it can feed the same bytes here to read the events
without changing what it forwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.kernel import fastjson

DONE = "[DONE]"


@dataclass(frozen=True)
class SSEEvent:
    """One event: its ``data`` lines joined by newlines, and the optional ``event`` and ``id`` fields."""

    data: str
    event: str | None = None
    id: str | None = None

    @property
    def is_done(self) -> bool:
        """True for OpenAI's ``data: [DONE]`` terminator."""
        return self.data == DONE

    def json(self) -> Any:
        """The data parsed as JSON; raises ``ValueError`` for ``[DONE]`` or non-JSON data."""
        if self.is_done:
            raise ValueError("the [DONE] event carries no JSON")
        return fastjson.loads(self.data)


class SSEDecoder:
    """Feed byte chunks split anywhere; get back each event once its blank line has arrived.

    :meth:`feed` returns parsed :class:`SSEEvent` objects; :meth:`feed_data` returns only each
    event's ``data`` as the raw bytes received (no decoding), for relays that forward events.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._carriage = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Parse ``chunk`` together with any earlier partial event; return the completed events."""
        events: list[SSEEvent] = []
        for block in self._blocks(chunk):
            event = _parse_block(block.decode("utf-8"))
            if event is not None:
                events.append(event)
        return events

    def feed_data(self, chunk: bytes) -> list[bytes]:
        """The ``data`` of each event ``chunk`` completes, as bytes (several data lines joined by ``\\n``).

        Events without a data line are not returned (an SSE client does not dispatch them);
        ``event``, ``id``, ``retry`` and comment lines are dropped. The bytes are not decoded,
        so invalid UTF-8 reaches the caller as it came.
        """
        found: list[bytes] = []
        for block in self._blocks(chunk):
            if block.startswith(b"data: ") and b"\n" not in block:
                found.append(block[6:])  # the usual event: one data line
                continue
            data = _block_data(block)
            if data is not None:
                found.append(data)
        return found

    def _blocks(self, chunk: bytes) -> list[bytes]:
        """The event blocks (without their blank line) that ``chunk`` completes."""
        data = self._carriage + chunk if self._carriage else chunk
        # A "\r" at the end may be the first half of a "\r\n" split across chunks.
        if data.endswith(b"\r"):
            self._carriage, data = b"\r", data[:-1]
        else:
            self._carriage = b""
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        buffer = self._buffer + data if self._buffer else data
        if b"\n\n" not in buffer:
            self._buffer = buffer
            return []
        blocks = buffer.split(b"\n\n")
        self._buffer = blocks.pop()
        return blocks

    @property
    def pending(self) -> bytes:
        """Bytes of an event not yet terminated by a blank line."""
        return self._buffer + self._carriage


def _block_data(block: bytes) -> bytes | None:
    data: list[bytes] = []
    for line in block.split(b"\n"):
        name, _, value = line.partition(b":")
        if name == b"data" and line:
            data.append(value.removeprefix(b" "))
    return b"\n".join(data) if data else None


def _parse_block(block: str) -> SSEEvent | None:
    data: list[str] = []
    event: str | None = None
    event_id: str | None = None
    for line in block.split("\n"):
        if not line or line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            event_id = value
    if not data and event is None:
        return None
    return SSEEvent(data="\n".join(data), event=event, id=event_id)
