"""Turn the SSE bytes of one streamed chat completion into a :class:`RequestOutcome`.

Feed each received byte chunk with the time it arrived (seconds since the request was sent); the
accumulator records the arrival of every event carrying non-empty ``choices`` (TTFT is the first),
the time of the last data event (E2E), and token counts from the final ``usage`` chunk, else the
number of chunks carrying content.
"""

from __future__ import annotations

import json

from benchmarks.serving.metrics import RequestOutcome
from inference.engines.sse import SSEDecoder


class StreamAccumulator:
    """Collects timings and usage from one SSE response; :meth:`finish` returns the outcome."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._chunk_times: list[float] = []
        self._content_chunks = 0
        self._last_data_at: float | None = None
        self._usage: dict[str, int] | None = None
        self._done = False
        self._error: str | None = None

    def feed(self, data: bytes, now: float) -> None:
        """Parse ``data`` received at ``now``."""
        for event in self._decoder.feed(data):
            if event.is_done:
                self._done = True
                continue
            try:
                payload = json.loads(event.data)
            except ValueError:
                self._error = "bad_json_chunk"
                continue
            if not isinstance(payload, dict):
                continue
            if "error" in payload:
                self._error = "stream_error"
                continue
            self._last_data_at = now
            choices = payload.get("choices")
            if choices:
                self._chunk_times.append(now)
                delta = choices[0].get("delta") or {}
                if delta.get("content") or choices[0].get("text"):
                    self._content_chunks += 1
            usage = payload.get("usage")
            if isinstance(usage, dict):
                self._usage = usage

    def finish(self, *, sent_at: float = 0.0) -> RequestOutcome:
        """The outcome: a success needs the ``[DONE]`` terminator, no error event, and a first chunk."""
        error = self._error
        if error is None and not self._done:
            error = "stream_truncated"
        if error is None and not self._chunk_times:
            error = "no_choices"
        if error is not None:
            return RequestOutcome(success=False, error=error, sent_at=sent_at)
        usage = self._usage or {}
        completion = usage.get("completion_tokens")
        return RequestOutcome(
            success=True,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(completion) if completion is not None else self._content_chunks,
            ttft_s=self._chunk_times[0],
            e2e_s=self._last_data_at if self._last_data_at is not None else self._chunk_times[-1],
            chunk_times=self._chunk_times,
            usage_reported=completion is not None,
            sent_at=sent_at,
        )
