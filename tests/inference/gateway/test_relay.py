"""The stream relay: events forwarded one by one, usage read and hidden, output guard applied."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from inference.engines.sse import SSEDecoder
from inference.gateway.relay import StreamRelay


def _chunk(content: str | None = None, *, finish: str | None = None, role: str | None = None) -> dict:
    delta: dict = {}
    if role:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


USAGE = {
    "id": "c1",
    "object": "chat.completion.chunk",
    "choices": [],
    "usage": {"prompt_tokens": 3, "completion_tokens": 4},
}


def _sse(*events: dict | str) -> list[bytes]:
    return [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events]


async def _upstream(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _run(relay: StreamRelay, chunks: list[bytes]) -> list[dict | str]:
    decoder = SSEDecoder()
    out: list[dict | str] = []
    async for frame in relay.relay(_upstream(chunks)):
        events = decoder.feed(frame)
        assert len(events) == 1, "one frame carries exactly one event"
        out.append(events[0].data if events[0].is_done else events[0].json())
    return out


STREAM = [
    _chunk(role="assistant", content=""),
    _chunk("Hel"),
    _chunk("lo"),
    _chunk(finish="stop"),
    USAGE,
    "[DONE]",
]


async def test_passthrough_forwards_every_event_and_hides_usage_the_client_did_not_ask_for() -> None:
    relay = StreamRelay(drop_usage_event=True)
    out = await _run(relay, _sse(*STREAM))
    assert out == [e for e in STREAM if e is not USAGE]
    assert (relay.outcome.prompt_tokens, relay.outcome.completion_tokens) == (3, 4)
    assert relay.outcome.text == "Hello"
    assert relay.outcome.first_content_at is not None


async def test_usage_event_kept_when_asked_and_events_split_across_reads() -> None:
    joined = b"".join(_sse(*STREAM))
    pieces = [joined[i : i + 7] for i in range(0, len(joined), 7)]
    out = await _run(StreamRelay(drop_usage_event=False), pieces)
    assert out == STREAM


class _Guard:
    """Holds back the last two characters; stops on the word 'bomb'."""

    def __init__(self) -> None:
        self.buffer = ""

    def feed(self, index: int, text: str) -> tuple[str, bool]:
        self.buffer += text
        if "bomb" in self.buffer:
            return "", True
        safe, self.buffer = self.buffer[:-2], self.buffer[-2:]
        return safe, False

    def finish(self, index: int) -> tuple[str, bool]:
        rest, self.buffer = self.buffer, ""
        return rest, False

    def stop_message(self) -> str:
        return "[refused]"


async def test_guard_holds_back_and_releases_at_the_end() -> None:
    relay = StreamRelay(drop_usage_event=True, guard=_Guard())
    out = await _run(relay, _sse(*STREAM))
    contents = [c["choices"][0]["delta"].get("content") for c in out if isinstance(c, dict)]
    assert "".join(x or "" for x in contents) == "Hello"
    assert out[-1] == "[DONE]"
    assert relay.outcome.text == "Hello"


async def test_guard_stop_ends_the_stream_with_content_filter() -> None:
    relay = StreamRelay(drop_usage_event=True, guard=_Guard())
    out = await _run(
        relay,
        _sse(
            _chunk(role="assistant", content=""), _chunk("a bo"), _chunk("mb here"), _chunk("more"), "[DONE]"
        ),
    )
    assert out[-1] == "[DONE]"
    final = out[-2]
    assert isinstance(final, dict)
    assert final["choices"][0]["finish_reason"] == "content_filter"
    assert final["choices"][0]["delta"]["content"] == "[refused]"
    assert relay.outcome.stopped_by_guard
    assert "more" not in relay.outcome.text


async def test_batches_join_the_events_of_one_upstream_read_and_match_the_event_relay() -> None:
    raw = _sse(*STREAM)
    reads = [raw[0] + raw[1] + raw[2][:7], raw[2][7:], b"".join(raw[3:])]  # one event split across reads
    batched = StreamRelay(drop_usage_event=True)
    batches = [frames async for frames in batched.relay_batches(_upstream(reads))]
    assert [len(frames) for frames in batches] == [2, 1, 2]  # the usage event is dropped
    single = StreamRelay(drop_usage_event=True)
    frames = [frame async for frame in single.relay(_upstream(reads))]
    assert [f for batch in batches for f in batch] == frames
    assert batched.outcome.text == single.outcome.text == "Hello"


async def test_events_that_are_not_json_are_forwarded_as_received_with_every_data_line_framed() -> None:
    reads = [
        b"data: not json\n\n",
        b"data: line one\ndata: line two\n\n",
        b"data: \xff\n\n",
        b"data: [DONE]\n\n",
    ]
    relay = StreamRelay(drop_usage_event=True)
    frames = [frame async for frame in relay.relay(_upstream(reads))]
    assert frames == [
        b"data: not json\n\n",
        b"data: line one\ndata: line two\n\n",
        b"data: \xff\n\n",
        b"data: [DONE]\n\n",
    ]
    assert relay.outcome.text == ""
