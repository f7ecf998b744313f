"""fastjson reads what json reads, as json reads it, and writes compact UTF-8 JSON."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.kernel import fastjson

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_reads_what_json_writes_exactly_as_json_reads_it(value: object) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert fastjson.loads(text) == json.loads(text)
        assert fastjson.loads(text.encode("utf-8", "surrogatepass")) == json.loads(text)


@given(JSON_VALUES)
def test_writes_compact_json_that_json_reads_back(value: object) -> None:
    encoded = fastjson.dumps(value)
    assert json.loads(encoded) == value
    encoded.decode("utf-8")  # always valid UTF-8 (lone surrogates are escaped)


@pytest.mark.parametrize(
    "text",
    [
        '{"seed": 123456789012345678901234567890}',  # past 64 bits: orjson would read a float
        '{"n": -9999999999999999999}',  # 19 digits, below -2**63
        '{"x": NaN, "y": -Infinity}',  # not JSON, but json reads it
        '"\\ud800"',  # a lone surrogate
        '{"a": 1, "a": 2}',  # the last duplicate wins
        "1e400",  # overflows to inf
    ],
)
def test_input_orjson_reads_differently_is_read_as_json_reads_it(text: str) -> None:
    expected, got = json.loads(text), fastjson.loads(text)
    assert repr(got) == repr(expected) or (isinstance(got, dict) and _nan_equal(got, expected))


def _nan_equal(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(x) and math.isnan(b[k])) or x == b[k] for k, x in a.items()
    )


def test_not_json_raises_json_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        fastjson.loads("not json")
    with pytest.raises(json.JSONDecodeError):
        fastjson.loads(b"")


def test_values_orjson_cannot_encode_are_encoded_by_json() -> None:
    assert fastjson.dumps({"n": 2**70, 1: "x"}) == b'{"n":1180591620717411303424,"1":"x"}'
    assert fastjson.dumps(["\ud800", "你"]) == b'["\\ud800","\\u4f60"]'
    assert fastjson.dumps({"x": float("nan")}) == b'{"x":null}'  # JSON has no NaN
    with pytest.raises(TypeError):
        fastjson.dumps({"x": object()})
