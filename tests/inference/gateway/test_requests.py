"""Request validation: the facts the gateway reads, and 400s naming the parameter."""

from __future__ import annotations

import json

import pytest
from starlette.requests import Request

from inference.gateway.errors import OpenAIError
from inference.gateway.pipeline import header_map
from inference.gateway.requests import Operation, estimate_tokens, parse_body


def _raw(body: object) -> bytes:
    return json.dumps(body).encode()


def test_chat_request_keeps_unknown_parameters_and_reads_text() -> None:
    parsed = parse_body(
        Operation.CHAT,
        _raw(
            {
                "model": "m",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url"}]},
                ],
                "top_k": 5,
                "stream": True,
                "stream_options": {"include_usage": True},
                "max_tokens": 7,
                "user": "u1",
            }
        ),
    )
    assert parsed.body["top_k"] == 5
    assert parsed.text == "be brief\nhi"
    assert parsed.stream and parsed.wants_usage
    assert parsed.max_output_tokens == 7
    assert parsed.user == "u1"


@pytest.mark.parametrize(
    ("operation", "body", "param"),
    [
        (Operation.CHAT, {"messages": [{"role": "user", "content": "x"}]}, "model"),
        (Operation.CHAT, {"model": "m", "messages": []}, "messages"),
        (Operation.CHAT, {"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        (Operation.CHAT, {"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 0}, "n"),
        (
            Operation.CHAT,
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {}},
            "stream_options",
        ),
        (Operation.COMPLETIONS, {"model": "m"}, "prompt"),
        (Operation.COMPLETIONS, {"model": "m", "prompt": "x", "max_tokens": 0}, "max_tokens"),
        (Operation.EMBEDDINGS, {"model": "m", "input": []}, "input"),
    ],
)
def test_invalid_bodies_name_the_parameter(operation: Operation, body: dict, param: str) -> None:
    with pytest.raises(OpenAIError) as caught:
        parse_body(operation, _raw(body))
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert caught.value.body()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_non_object_json_is_a_400(raw: bytes) -> None:
    with pytest.raises(OpenAIError) as caught:
        parse_body(Operation.CHAT, raw)
    assert caught.value.code == "invalid_json"


def test_token_estimate_grows_with_text() -> None:
    assert estimate_tokens("") == 1
    assert estimate_tokens("x" * 400) > estimate_tokens("x" * 40)


def test_header_map_names_headers_in_lower_case_and_keeps_the_first_of_a_repeated_one() -> None:
    scope = {
        "type": "http",
        "headers": [
            (b"authorization", b"Bearer first"),
            (b"x-session-id", b"s"),
            (b"authorization", b"Bearer 2"),
        ],
    }
    request = Request(scope)
    assert header_map(request) == {"authorization": "Bearer first", "x-session-id": "s"}
    assert header_map(request)["authorization"] == request.headers.get("authorization")
