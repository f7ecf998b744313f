"""The SSE decoder gives the same events however the bytes are split."""

from __future__ import annotations

import pytest

from inference.engines.sse import SSEDecoder, SSEEvent

STREAM = (
    'data: {"a": 1}\n\n'
    ": keep-alive comment\n\n"
    "event: note\nid: 7\ndata: line one\ndata: line two\n\n"
    'data: {"text": "云"}\r\n\r\n'
    "data: [DONE]\n\n"
).encode()
EXPECTED = [
    SSEEvent(data='{"a": 1}'),
    SSEEvent(data="line one\nline two", event="note", id="7"),
    SSEEvent(data='{"text": "云"}'),
    SSEEvent(data="[DONE]"),
]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_any_split_gives_the_same_events(size: int) -> None:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for start in range(0, len(STREAM), size):
        events += decoder.feed(STREAM[start : start + size])
    assert events == EXPECTED
    assert decoder.pending == b""
    assert events[0].json() == {"a": 1}
    assert events[-1].is_done


def test_done_has_no_json() -> None:
    with pytest.raises(ValueError, match="DONE"):
        SSEEvent(data="[DONE]").json()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_feed_data_gives_the_data_of_the_same_events_as_bytes(size: int) -> None:
    decoder = SSEDecoder()
    found: list[bytes] = []
    for start in range(0, len(STREAM), size):
        found += decoder.feed_data(STREAM[start : start + size])
    assert found == [event.data.encode() for event in EXPECTED]
    assert decoder.pending == b""


def test_feed_data_keeps_bytes_that_are_not_utf8_and_skips_events_without_data() -> None:
    decoder = SSEDecoder()
    raw = b"data: \xff\xfe\n\nevent: ping\n\ndata\n\ndata:x\n\n"
    assert decoder.feed_data(raw) == [b"\xff\xfe", b"", b"x"]
