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
    """Feed byte chunks split anywhere; get back each event once its blank line has arrived."""

    def __init__(self) -> None:
        self._buffer = b""
        self._carriage = b""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Parse ``chunk`` together with any earlier partial event; return the completed events."""
        data = self._carriage + chunk
        # A "\r" at the end may be the first half of a "\r\n" split across chunks.
        self._carriage = b"\r" if data.endswith(b"\r") else b""
        self._buffer += data.removesuffix(self._carriage).replace(b"\r\n", b"\n")
        events: list[SSEEvent] = []
        while b"\n\n" in self._buffer:
            block, self._buffer = self._buffer.split(b"\n\n", 1)
            event = _parse_block(block.decode("utf-8"))
            if event is not None:
                events.append(event)
        return events

    @property
    def pending(self) -> bytes:
        """Bytes of an event not yet terminated by a blank line."""
        return self._buffer + self._carriage


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
