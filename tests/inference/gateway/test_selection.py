"""Choosing a split's variant: overrides, sticky hashing, weights."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from pydantic import ValidationError

from inference.gateway.splits.schemas import RouteCreate, SplitSpec
from inference.gateway.splits.selection import choose_variant


def _split(**extra: object) -> SplitSpec:
    return SplitSpec.model_validate(
        {
            "variants": [
                {"name": "stable", "service": "chat-v1", "weight": 90},
                {"name": "canary", "service": "chat-v2", "weight": 10},
            ],
            **extra,
        }
    )


def test_header_override_wins() -> None:
    spec = _split(overrides=[{"header": "X-Variant", "value": "canary", "variant": "canary"}])
    chosen = choose_variant(spec, route_id="r", user="u", caller="k", headers={"x-variant": "canary"})
    assert chosen.name == "canary"


def test_sticky_by_user_is_stable_and_follows_weights() -> None:
    spec = _split(sticky_by="user")
    first = {
        f"user-{i}": choose_variant(spec, route_id="r", user=f"user-{i}", caller="k", headers={}).name
        for i in range(4000)
    }
    again = {u: choose_variant(spec, route_id="r", user=u, caller="k", headers={}).name for u in first}
    assert first == again
    share = Counter(first.values())["canary"] / len(first)
    assert 0.07 < share < 0.13


def test_sticky_falls_back_to_the_key_when_no_user() -> None:
    spec = _split(sticky_by="user")
    picks = {
        choose_variant(spec, route_id="r", user=None, caller="key-1", headers={}).name for _ in range(50)
    }
    assert len(picks) == 1


def test_sticky_by_header() -> None:
    spec = _split(sticky_by="header", sticky_header="X-Session-Id")
    picks = {
        choose_variant(spec, route_id="r", user=None, caller="k", headers={"x-session-id": "s-42"}).name
        for _ in range(50)
    }
    assert len(picks) == 1


def test_weighted_canary_draws_by_weight() -> None:
    spec = _split(sticky_by="none")
    rng = random.Random(7)
    counts = Counter(
        choose_variant(spec, route_id="r", user="same", caller="k", headers={}, rng=rng).name
        for _ in range(5000)
    )
    assert 0.07 < counts["canary"] / 5000 < 0.13


def test_zero_weight_variant_is_never_drawn() -> None:
    spec = SplitSpec.model_validate(
        {
            "variants": [
                {"name": "a", "service": "s1", "weight": 0},
                {"name": "b", "service": "s2", "weight": 1},
            ]
        }
    )
    assert {
        choose_variant(spec, route_id="r", user=f"u{i}", caller="k", headers={}).name for i in range(200)
    } == {"b"}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "r", "split": {"variants": [{"name": "a", "service": "s", "weight": 0}]}},
        {"name": "r", "split": {"variants": [{"name": "a", "service": "s"}, {"name": "a", "service": "t"}]}},
        {
            "name": "r",
            "split": {
                "variants": [{"name": "a", "service": "s"}],
                "overrides": [{"header": "x", "value": "1", "variant": "nope"}],
            },
        },
        {"name": "r"},
        {"name": "r", "chain": {"steps": [{"service": "only-one"}]}},
    ],
)
def test_invalid_routes_are_rejected(body: dict) -> None:
    with pytest.raises(ValidationError):
        RouteCreate.model_validate(body)
