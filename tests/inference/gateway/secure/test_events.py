"""Splitting an SSE byte stream into whole events, however the bytes were chunked."""

from __future__ import annotations

import random

from inference.gateway.secure.events import EventSplitter

STREAM = b'data: {"a": 1}\n\nevent: note\nid: 7\ndata: two\ndata: lines\n\n: comment\ndata: [DONE]\n\n'
EVENTS = [b'data: {"a": 1}', b"event: note\nid: 7\ndata: two\ndata: lines", b": comment\ndata: [DONE]"]


def split_all(chunks: list[bytes]) -> list[bytes]:
    splitter = EventSplitter()
    events = [event for chunk in chunks for event in splitter.feed(chunk)]
    assert splitter.flush() == b""
    return events


def test_whole_stream_in_one_chunk() -> None:
    assert split_all([STREAM]) == EVENTS


def test_any_chunking_gives_the_same_events() -> None:
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 12)))
        chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        assert split_all(chunks) == EVENTS


def test_crlf_line_endings_split_across_chunks() -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    assert split_all([crlf[i : i + 1] for i in range(len(crlf))]) == EVENTS


def test_an_unterminated_last_event_is_flushed() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b"data: 1\n\ndata: 2") == [b"data: 1"]
    assert splitter.flush() == b"data: 2"
    assert splitter.flush() == b""
