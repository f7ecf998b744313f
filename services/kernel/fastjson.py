"""JSON on the serving hot path: ``orjson`` where it gives the same answer, the standard library otherwise.

The gateway parses every SSE event and request body and encodes every upstream request; with
the standard library that was ~9 % of its CPU per request. ``orjson`` is several times faster but
stricter, so each function falls back to :mod:`json` where the two differ:

- :func:`loads` — ``orjson`` refuses ``NaN``/``Infinity`` and lone surrogates, which :mod:`json`
  accepts: such input is parsed again by :mod:`json` (same result, same ``json.JSONDecodeError``
  for text that is not JSON at all). ``orjson`` also reads an integer past 64 bits as a float, so
  text with a run of 19 or more digits goes to :mod:`json` directly (exact integers).
- :func:`dumps` — compact UTF-8 (no spaces, non-ASCII characters as they are); values ``orjson``
  cannot encode (integers past 64 bits, non-string keys, lone surrogates, other types) are
  encoded by :mod:`json` (with ``\\u`` escapes). A non-finite float is written ``null`` (JSON has
  no ``NaN``; :mod:`json` would write the invalid token ``NaN``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * 19  # |integers| under 10**18 fit orjson's 64 bits (-2**63 has 19 digits)


def loads(data: str | bytes) -> Any:
    """Parse ``data``; raises ``json.JSONDecodeError`` (a ``ValueError``) when it is not JSON."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if _LONG_DIGIT_RUN in raw.translate(_DIGITS_TO_ZERO):  # a run of 19 digits (a C-speed test)
        return json.loads(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON; raises ``TypeError`` for what :mod:`json` cannot encode either."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        # \u-escaped non-ASCII: a lone surrogate (which orjson refuses) has no UTF-8 form
        return json.dumps(value, separators=(",", ":")).encode()
