"""Batch input validation: every bad line is refused with its line number and the field."""

from __future__ import annotations

import json

import pytest

from inference.batches.jsonl import parse_requests
from services.kernel.errors import BadRequest
from tests.inference.batches.conftest import jsonl, request_line


def _error(content: bytes) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        parse_requests(content)
    return caught.value


def test_valid_file_gives_every_line_in_order() -> None:
    lines = [
        request_line("a"),
        request_line("b", url="/v1/embeddings"),
        request_line("c", url="/v1/completions"),
    ]
    parsed = parse_requests(jsonl(lines) + b"\n\n")
    assert [(r.line, r.custom_id, r.url) for r in parsed] == [
        (1, "a", "/v1/chat/completions"),
        (2, "b", "/v1/embeddings"),
        (3, "c", "/v1/completions"),
    ]
    assert parsed[0].body == lines[0]["body"]


@pytest.mark.parametrize(
    ("bad_line", "param", "words"),
    [
        (b"{not json", "line", "not valid JSON"),
        (b"[1, 2]", "line", "JSON object"),
        (json.dumps({**request_line("x"), "url": "/v1/images"}).encode(), "url", "url must be one of"),
        (json.dumps({**request_line("x"), "method": "GET"}).encode(), "method", "POST"),
        (json.dumps({**request_line("x"), "custom_id": ""}).encode(), "custom_id", "custom_id"),
        (json.dumps({**request_line("x"), "body": {"messages": []}}).encode(), "body.model", "model"),
        (
            json.dumps({**request_line("x"), "body": {"model": "m", "stream": True}}).encode(),
            "body.stream",
            "stream",
        ),
        (json.dumps({**request_line("x"), "extra": 1}).encode(), "extra", "unknown field"),
    ],
)
def test_bad_line_is_named(bad_line: bytes, param: str, words: str) -> None:
    error = _error(jsonl([request_line("a"), request_line("b")]) + bad_line + b"\n")
    assert error.detail == {"line": 3, "param": param}
    assert error.message.startswith("line 3: ")
    assert words in error.message


def test_duplicate_custom_id_names_both_lines() -> None:
    error = _error(jsonl([request_line("a"), request_line("b"), request_line("a")]))
    assert error.detail == {"line": 3, "param": "custom_id"}
    assert "first on line 1" in error.message


def test_empty_file_is_refused() -> None:
    assert _error(b"\n  \n").detail == {"line": None, "param": "file"}


def test_too_many_lines_are_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_requests(jsonl([request_line(str(i)) for i in range(4)]), max_lines=3)
    assert caught.value.detail == {"line": 4, "param": "line"}
