"""Canonical JSON for audit entries: the exact bytes that are hashed into the Merkle tree.

Rules (a subset of RFC 8785 JCS that is sufficient for audit events):

- object keys sorted by code point, no insignificant whitespace (``,`` and ``:`` separators);
- strings as UTF-8 (non-ASCII characters are not escaped), ``ensure_ascii=False``;
- only JSON types: dict with ``str`` keys, list, str, int, bool, None; floats are rejected
  because their textual form is not canonical across implementations (send decimals as strings);
- integers outside the IEEE-754 safe range (±2**53-1) are rejected for the same reason.

Any value that does not follow these rules raises :class:`NonCanonicalValue` naming the path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

SAFE_INTEGER = 2**53 - 1


class NonCanonicalValue(ValueError):
    """A value cannot be represented canonically; the message names its JSON path."""


_SCALARS = (str, bool, type(None))


def _check(value: Any) -> str | None:
    """None if ``value`` is canonical, else the problem, prefixed by the path *below* ``value``.

    Paths are built only on the way out of a failure: a valid value (the common case) costs no
    string formatting.
    """
    kind = type(value)
    if kind in _SCALARS:
        return None
    if kind is int or isinstance(value, int):
        return None if -SAFE_INTEGER <= value <= SAFE_INTEGER else f": integer {value} outside ±2**53-1"
    if isinstance(value, str):
        return None
    if isinstance(value, float):
        return ": floats are not allowed in audit entries (use a string)"
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                return f": object key {key!r} is not a string"
            item_kind = type(item)
            if item_kind in _SCALARS or (item_kind is int and -SAFE_INTEGER <= item <= SAFE_INTEGER):
                continue
            problem = _check(item)
            if problem is not None:
                return f".{key}{problem}"
        return None
    if isinstance(value, list | tuple):
        for position, item in enumerate(value):
            item_kind = type(item)
            if item_kind in _SCALARS or (item_kind is int and -SAFE_INTEGER <= item <= SAFE_INTEGER):
                continue
            problem = _check(item)
            if problem is not None:
                return f"[{position}]{problem}"
        return None
    return f": {type(value).__name__} is not a JSON type"


def check_canonical(value: Any) -> None:
    """Raise :class:`NonCanonicalValue` unless ``value`` can be encoded canonically."""
    problem = _check(value)
    if problem is not None:
        raise NonCanonicalValue(f"${problem}")


def _make_encoder() -> Callable[[Any], str]:
    """The canonical encoder: ``json``'s C encoder built once, not once per call as ``json.dumps``
    does (the build is a third of the cost of encoding an audit event). Same bytes either way."""
    options = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    try:
        encode = make(
            None, options.default, json.encoder.encode_basestring, None, ":", ",", True, False, True
        )
    except TypeError:  # no C accelerator here, or another signature: the public path is as exact
        return options.encode

    def run(value: Any) -> str:
        return "".join(encode(value, 0))

    return run


_encode = _make_encoder()


def encode_text(value: Any) -> str:
    """:func:`encode_checked` as ``str`` (for callers that splice canonical parts together)."""
    return _encode(value)


def encode_string(value: str) -> str:
    """The canonical JSON form of one string (quoted, non-ASCII kept, controls escaped)."""
    return json.encoder.encode_basestring(value)


def encode_checked(value: Any) -> bytes:
    """Canonical encoding of a value the caller has already passed through :func:`check_canonical`
    (or built only from ``str``/``int``/``bool``/``None`` and checked parts)."""
    return _encode(value).encode("utf-8")


def canonical_json(value: Any) -> bytes:
    """Return the canonical UTF-8 JSON encoding of ``value`` (see module docstring)."""
    check_canonical(value)
    return encode_checked(value)


def is_canonical(data: bytes) -> bool:
    """True if ``data`` parses as JSON and re-encodes to exactly the same bytes."""
    try:
        return canonical_json(json.loads(data.decode("utf-8"))) == data
    except (ValueError, UnicodeDecodeError):
        return False
