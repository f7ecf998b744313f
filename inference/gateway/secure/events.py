"""Split a Server-Sent Events byte stream into raw event blocks, keeping every field of each."""

from __future__ import annotations


class EventSplitter:
    """Feed chunks split anywhere; get back each complete event's text (without its blank line).

    Line endings are normalised to ``\\n``; empty blocks (extra blank lines) are dropped.
    """

    __slots__ = ("_buffer", "_carriage")

    def __init__(self) -> None:
        self._buffer = b""
        self._carriage = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the events completed by ``chunk``."""
        data = self._carriage + chunk
        # A trailing "\r" may be the first half of a "\r\n" split across chunks.
        self._carriage = b"\r" if data.endswith(b"\r") else b""
        self._buffer += data.removesuffix(self._carriage).replace(b"\r\n", b"\n")
        if b"\n\n" not in self._buffer:
            return []
        *blocks, self._buffer = self._buffer.split(b"\n\n")
        return [block for block in blocks if block.strip(b"\n")]

    def flush(self) -> bytes:
        """Whatever is left after the last blank line (an unterminated final event), then reset."""
        rest = (self._buffer + self._carriage).strip(b"\r\n")
        self._buffer = self._carriage = b""
        return rest
