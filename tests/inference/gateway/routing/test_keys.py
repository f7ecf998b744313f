"""request_key_for: the routing key of OpenAI request bodies."""

from __future__ import annotations

from typing import Any

import pytest

from inference.gateway.routing import RequestKey, prompt_prefix, request_key_for


@pytest.mark.parametrize(
    ("body", "prefix"),
    [
        (
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
            "system: Be brief.\nuser: Hi\n",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "a"},
                            {"type": "image_url"},
                            {"type": "text", "text": "b"},
                        ],
                    }
                ]
            },
            "user: ab\n",
        ),
        ({"prompt": "Once upon a time"}, "Once upon a time"),
        ({"prompt": ["first", "second"]}, "first"),
        ({"prompt": [1, 2, 3]}, "1 2 3"),
        ({"input": "embed me"}, "embed me"),
        ({"prompt": ""}, None),
        ({"model": "m"}, None),
    ],
)
def test_prompt_prefix(body: dict[str, Any], prefix: str | None) -> None:
    assert prompt_prefix(body) == prefix


def test_prefix_is_cut_and_shared_system_prompts_collide() -> None:
    system = {"role": "system", "content": "x" * 1000}
    a = prompt_prefix({"messages": [system, {"role": "user", "content": "question one"}]}, chars=100)
    b = prompt_prefix({"messages": [system, {"role": "user", "content": "question two"}]}, chars=100)
    assert a == b and a is not None and len(a) == 100


@pytest.mark.parametrize(
    ("body", "session", "key"),
    [
        ({"prompt": "p", "user": "u1"}, None, RequestKey(user="u1", prefix="p")),
        ({"prompt": "p", "user": ""}, "s1", RequestKey(session="s1", prefix="p")),
        ({"user": 42}, "", RequestKey()),
    ],
)
def test_request_key_for(body: dict[str, Any], session: str | None, key: RequestKey) -> None:
    assert request_key_for(body, session=session) == key


def test_affinity_prefers_session_over_user() -> None:
    assert RequestKey(session="s", user="u").affinity == "s"
    assert RequestKey(user="u").affinity == "u"
    assert RequestKey(prefix="p").affinity is None
