"""Relaying an upstream SSE stream to the client, event by event.

The relay forwards each upstream event as soon as it is complete (it never invents an early
chunk), reads usage and timing from the events as they pass, and — when an output guard is
attached — holds back the sliding window the content-safety pack needs, rewriting only the
``delta`` text of the events it changes. When the client did not ask for usage the gateway asks
the upstream anyway (to account tokens) and drops that one usage-only event here.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from inference.engines.sse import SSEDecoder
from services.kernel import fastjson


class OutputGuard(Protocol):
    """Checks streamed output per choice; see :class:`services.safety.checks.SafetyStream`."""

    def feed(self, index: int, text: str) -> tuple[str, bool]:
        """Add ``text`` of choice ``index``; return (text safe to forward now, stop the stream)."""
        ...

    def finish(self, index: int) -> tuple[str, bool]:
        """Release what was held back for choice ``index`` at its end; (text, stop the stream)."""
        ...

    def stop_message(self) -> str:
        """The text that replaces the rest of a stopped stream (the pack's refusal template)."""
        ...


@dataclass
class StreamOutcome:
    """What the relay learnt: usage, timing and the text that reached the client."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_seen: bool = False
    first_content_at: float | None = None
    chunks: int = 0
    stopped_by_guard: bool = False
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The output text the client received (choice 0 and others concatenated)."""
        return "".join(self.text_parts)


_DONE = b"[DONE]"
_DONE_FRAME = b"data: [DONE]\n\n"


def _frame(data: bytes) -> bytes:
    if b"\n" in data:  # several data lines in one event: each keeps its field name
        data = data.replace(b"\n", b"\ndata: ")
    return b"data: " + data + b"\n\n"


def _encoded_frame(chunk: dict[str, Any]) -> bytes:
    return b"data: " + fastjson.dumps(chunk) + b"\n\n"


def _delta_text(choice: dict[str, Any]) -> str | None:
    """The text a chunk adds to a choice: chat ``delta.content`` or completion ``text``."""
    delta = choice.get("delta")
    if isinstance(delta, dict):
        content = delta.get("content")
        return content if isinstance(content, str) else None
    text = choice.get("text")
    return text if isinstance(text, str) else None


def _set_delta_text(choice: dict[str, Any], text: str) -> None:
    if isinstance(choice.get("delta"), dict):
        choice["delta"]["content"] = text
    else:
        choice["text"] = text


class StreamRelay:
    """Turns upstream SSE bytes into the bytes sent to the client; see the module docstring."""

    def __init__(
        self,
        *,
        drop_usage_event: bool,
        guard: OutputGuard | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.outcome = StreamOutcome()
        self._drop_usage = drop_usage_event
        self._guard = guard
        self._clock = clock
        self._decoder = SSEDecoder()
        self._last_chunk: dict[str, Any] | None = None
        self._finished_indexes: set[int] = set()

    async def relay(self, upstream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Yield client bytes for ``upstream``, one event per frame; stops early if the guard stops."""
        async for frames in self.relay_batches(upstream):
            for frame in frames:
                yield frame

    async def relay_batches(self, upstream: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
        """The frames of each upstream read together (one write to the client instead of one per event).

        Events that arrived in the same read are complete at the same moment, so sending them
        together delays none of them; a read that completes no event yields nothing.
        """
        async for raw in upstream:
            frames: list[bytes] = []
            for data in self._decoder.feed_data(raw):
                frames.extend(self._on_event(data))
                if self.outcome.stopped_by_guard:
                    break
            if frames:
                yield frames
            if self.outcome.stopped_by_guard:
                return

    def _on_event(self, data: bytes) -> list[bytes]:
        if data == _DONE:
            return [*self._flush_guard(), _DONE_FRAME]
        try:
            chunk = fastjson.loads(data)
        except ValueError:
            return [_frame(data)]  # not JSON (or not UTF-8): forward as received
        if not isinstance(chunk, dict):
            return [_frame(data)]
        self._last_chunk = chunk
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.outcome.prompt_tokens = int(usage.get("prompt_tokens") or 0)
            self.outcome.completion_tokens = int(usage.get("completion_tokens") or 0)
            self.outcome.usage_seen = True
        choices = chunk.get("choices")
        if not choices:
            if self._drop_usage and isinstance(usage, dict):
                return []
            return [_frame(data)]
        self.outcome.chunks += 1
        if self._guard is None:
            for choice in choices:
                text = _delta_text(choice)
                if text:
                    self._saw_content(text)
            return [_frame(data)]
        return self._guarded(chunk, choices, data)

    def _saw_content(self, text: str) -> None:
        if self.outcome.first_content_at is None:
            self.outcome.first_content_at = self._clock()
        self.outcome.text_parts.append(text)

    def _guarded(self, chunk: dict[str, Any], choices: list[dict[str, Any]], original: bytes) -> list[bytes]:
        assert self._guard is not None
        changed = False
        informative = False
        for choice in choices:
            index = int(choice.get("index", 0))
            text = _delta_text(choice)
            if text is not None:
                safe, stop = self._guard.feed(index, text)
                if stop:
                    return self._stop(chunk, index)
                if choice.get("finish_reason") is not None:
                    released, stop = self._guard.finish(index)
                    self._finished_indexes.add(index)
                    if stop:
                        return self._stop(chunk, index)
                    safe += released
                if safe != text:
                    _set_delta_text(choice, safe)
                    changed = True
                if safe:
                    self._saw_content(safe)
                    informative = True
            elif choice.get("finish_reason") is not None and index not in self._finished_indexes:
                released, stop = self._guard.finish(index)
                self._finished_indexes.add(index)
                if stop:
                    return self._stop(chunk, index)
                if released:
                    _set_delta_text(choice, released)
                    self._saw_content(released)
                    changed = True
            delta = choice.get("delta")
            if choice.get("finish_reason") is not None or (isinstance(delta, dict) and delta.get("role")):
                informative = True
        if not informative and not chunk.get("usage"):
            return []  # everything in it is held back; it reaches the client in a later event
        return [_encoded_frame(chunk) if changed else _frame(original)]

    def _flush_guard(self) -> list[bytes]:
        """Release held-back text of choices whose end the upstream never marked."""
        if self._guard is None or self._last_chunk is None:
            return []
        frames: list[bytes] = []
        for index in sorted({int(c.get("index", 0)) for c in self._last_chunk.get("choices") or []}):
            if index in self._finished_indexes:
                continue
            released, stop = self._guard.finish(index)
            self._finished_indexes.add(index)
            if stop:
                return self._stop(self._last_chunk, index)[:1]  # the caller adds [DONE]
            if released:
                self._saw_content(released)
                frames.append(_encoded_frame(self._template(index, released, None)))
        return frames

    def _template(self, index: int, text: str, finish_reason: str | None) -> dict[str, Any]:
        base = dict(self._last_chunk or {})
        base.pop("usage", None)
        is_chat = base.get("object") == "chat.completion.chunk"
        choice: dict[str, Any] = {"index": index, "finish_reason": finish_reason, "logprobs": None}
        if is_chat:
            choice["delta"] = {"content": text}
        else:
            choice["text"] = text
        base["choices"] = [choice]
        return base

    def _stop(self, chunk: dict[str, Any], index: int) -> list[bytes]:
        assert self._guard is not None
        self.outcome.stopped_by_guard = True
        self._last_chunk = chunk
        message = self._guard.stop_message()
        self.outcome.text_parts.append(message)
        final = self._template(index, message, "content_filter")
        return [_encoded_frame(final), _DONE_FRAME]
