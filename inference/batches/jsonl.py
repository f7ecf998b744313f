"""The batch input format: JSON Lines of ``{"custom_id", "method", "url", "body"}``.

:func:`parse_requests` validates a whole file and raises :class:`BadRequest` naming the first
bad line (1-based) and what is wrong with it, so that an upload is accepted only if every line
can be sent as is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.kernel.errors import BadRequest

ENDPOINTS = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
MAX_LINES = 50_000
MAX_LINE_BYTES = 1_048_576
MAX_CUSTOM_ID = 512


@dataclass(frozen=True, slots=True)
class RequestLine:
    """One validated request of a batch input file."""

    line: int
    custom_id: str
    url: str
    body: dict[str, Any]


def _bad(line: int, message: str, param: str) -> BadRequest:
    return BadRequest(f"line {line}: {message}", detail={"line": line, "param": param})


def _parse_line(number: int, raw: bytes) -> RequestLine:
    if len(raw) > MAX_LINE_BYTES:
        raise _bad(number, f"longer than {MAX_LINE_BYTES} bytes", "line")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(number, f"not valid JSON ({exc})", "line") from exc
    if not isinstance(data, dict):
        raise _bad(number, "must be a JSON object", "line")
    unknown = sorted(set(data) - {"custom_id", "method", "url", "body"})
    if unknown:
        raise _bad(number, f"unknown field(s) {', '.join(unknown)}", unknown[0])
    custom_id = data.get("custom_id")
    if (
        not isinstance(custom_id, str)
        or not custom_id
        or len(custom_id) > MAX_CUSTOM_ID
        or "\x00" in custom_id
    ):
        raise _bad(
            number, f"custom_id must be a string of 1 to {MAX_CUSTOM_ID} characters, no NUL", "custom_id"
        )
    if data.get("method") != "POST":
        raise _bad(number, "method must be 'POST'", "method")
    url = data.get("url")
    if url not in ENDPOINTS:
        raise _bad(number, f"url must be one of {', '.join(ENDPOINTS)}, got {url!r}", "url")
    body = data.get("body")
    if not isinstance(body, dict):
        raise _bad(number, "body must be a JSON object", "body")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _bad(number, "body.model must be a non-empty string", "body.model")
    if body.get("stream"):
        raise _bad(number, "body.stream is not supported in a batch", "body.stream")
    return RequestLine(line=number, custom_id=custom_id, url=url, body=body)


def parse_requests(content: bytes, *, max_lines: int = MAX_LINES) -> list[RequestLine]:
    """Every request of ``content`` (blank lines ignored); BadRequest naming the first bad line."""
    requests: list[RequestLine] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(content.split(b"\n"), start=1):
        if not raw.strip():
            continue
        request = _parse_line(number, raw)
        first = seen.setdefault(request.custom_id, number)
        if first != number:
            raise _bad(
                number, f"duplicate custom_id {request.custom_id!r} (first on line {first})", "custom_id"
            )
        requests.append(request)
        if len(requests) > max_lines:
            raise _bad(number, f"a batch file holds at most {max_lines} requests", "line")
    if not requests:
        raise BadRequest("the file holds no request line", detail={"line": None, "param": "file"})
    return requests
