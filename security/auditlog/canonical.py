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
from typing import Any

SAFE_INTEGER = 2**53 - 1


class NonCanonicalValue(ValueError):
    """A value cannot be represented canonically; the message names its JSON path."""


def _check(value: Any, path: str) -> None:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return
    if isinstance(value, int):
        if abs(value) > SAFE_INTEGER:
            raise NonCanonicalValue(f"{path}: integer {value} outside ±2**53-1")
        return
    if isinstance(value, str | bool):
        return
    if isinstance(value, float):
        raise NonCanonicalValue(f"{path}: floats are not allowed in audit entries (use a string)")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NonCanonicalValue(f"{path}: object key {key!r} is not a string")
            _check(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for position, item in enumerate(value):
            _check(item, f"{path}[{position}]")
        return
    raise NonCanonicalValue(f"{path}: {type(value).__name__} is not a JSON type")


def check_canonical(value: Any) -> None:
    """Raise :class:`NonCanonicalValue` unless ``value`` can be encoded canonically."""
    _check(value, "$")


def encode_checked(value: Any) -> bytes:
    """Canonical encoding of a value the caller has already passed through :func:`check_canonical`
    (or built only from ``str``/``int``/``bool``/``None`` and checked parts)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


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
