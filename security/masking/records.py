"""De-identify free text and nested JSON records (request logs) with a :class:`MaskingPolicy`.

PII is found by the content-safety detectors (:func:`security.safety.pii.detect`) on the
folded view of the text, so full-width digits and ``＠`` are caught, and each span is
replaced in the *original* text by its de-identified form. Whole fields can be redacted,
hashed or left unscanned by key name (for secrets such as ``authorization`` or for ids).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from security.crypto.sm3 import hmac_sm3
from security.masking.strategies import REDACTED, SALT_MIN_BYTES, Strategy, apply
from security.safety.normalize import fold
from security.safety.pii import PiiKind, cannot_hold_pii, detect

_DEFAULT_FIELDS: Mapping[str, Strategy] = {
    "authorization": Strategy.REDACT,
    "api_key": Strategy.REDACT,
    "password": Strategy.REDACT,
    "secret": Strategy.REDACT,
    "cookie": Strategy.REDACT,
}


@dataclass(frozen=True, slots=True)
class MaskingPolicy:
    """How each PII kind and each named field is de-identified.

    ``kinds``: strategy per PII kind (kinds not listed are masked). ``fields``: strategy for
    the whole value of a key, matched case-insensitively (``redact``, ``hash`` or ``keep`` =
    leave unscanned); by default credentials are redacted. ``salt`` is required as soon as
    any strategy is ``hash`` (at least 16 bytes; see
    :func:`security.masking.strategies.derive_salt`). ``max_depth`` bounds nesting.
    """

    kinds: Mapping[PiiKind, Strategy] = field(default_factory=dict)
    fields: Mapping[str, Strategy] = field(default_factory=lambda: dict(_DEFAULT_FIELDS))
    salt: bytes | None = None
    max_depth: int = 64
    field_strategies: Mapping[str, Strategy] = field(init=False, repr=False, compare=False)
    """``fields`` by lower-cased name, as :func:`mask_record` looks them up (derived, not passed)."""

    def __post_init__(self) -> None:
        for kind, strategy in self.kinds.items():
            PiiKind(kind)
            Strategy(strategy)
        for name, strategy in self.fields.items():
            if Strategy(strategy) not in (Strategy.REDACT, Strategy.HASH, Strategy.KEEP):
                raise ValueError(f"field {name!r}: strategy must be redact, hash or keep, not {strategy}")
        uses_hash = Strategy.HASH in set(self.kinds.values()) | set(self.fields.values())
        if uses_hash and (self.salt is None or len(self.salt) < SALT_MIN_BYTES):
            raise ValueError(f"a policy that hashes needs a salt of at least {SALT_MIN_BYTES} bytes")
        if self.max_depth < 1:
            raise ValueError(f"max_depth must be positive, got {self.max_depth}")
        lowered = {name.lower(): Strategy(strategy) for name, strategy in self.fields.items()}
        object.__setattr__(self, "field_strategies", lowered)

    def strategy_for(self, kind: PiiKind) -> Strategy:
        """The strategy for one PII kind (``mask`` when not configured)."""
        return Strategy(self.kinds.get(kind, Strategy.MASK))


def mask_text(text: str, policy: MaskingPolicy) -> str:
    """``text`` with every detected PII span replaced according to ``policy``."""
    if cannot_hold_pii(text):
        return text  # most strings of a record: names, roles, plain prose
    view = fold(text)  # the detectors' view; the compact (keyword) view is not needed here
    spans = detect(view.text)
    if not spans:
        return text
    out: list[str] = []
    cursor = 0
    for span in spans:
        start, end = view.original_span(span.start, span.end)
        out.append(text[cursor:start])
        out.append(apply(policy.strategy_for(span.kind), span.value, span.kind, salt=policy.salt))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _field_value(name: str, value: Any, strategy: Strategy, policy: MaskingPolicy) -> Any:
    if strategy is Strategy.KEEP:
        return value
    if strategy is Strategy.REDACT:
        return REDACTED
    assert policy.salt is not None  # guaranteed by MaskingPolicy.__post_init__
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return "hmac-sm3:" + hmac_sm3(policy.salt, f"field:{name}:{canonical}".encode()).hex()


def mask_record(record: Any, policy: MaskingPolicy) -> Any:
    """A de-identified deep copy of a JSON-like value (dicts, lists, strings, numbers).

    Strings are scanned with :func:`mask_text`; integers that spell a PII value (a phone
    number logged as a number) become the masked string; named fields follow
    ``policy.fields``. Raises ``ValueError`` past ``policy.max_depth`` levels of nesting.
    """
    fields = policy.field_strategies

    def walk(value: Any, depth: int) -> Any:
        if depth > policy.max_depth:
            raise ValueError(f"record nests deeper than max_depth={policy.max_depth}")
        if isinstance(value, str):
            return mask_text(value, policy)
        if isinstance(value, bool) or value is None or isinstance(value, float):
            return value
        if isinstance(value, int):
            masked = mask_text(str(value), policy)
            return value if masked == str(value) else masked
        if isinstance(value, Mapping):
            out = {}
            for key, item in value.items():
                strategy = fields.get(str(key).lower())
                out[key] = (
                    walk(item, depth + 1) if strategy is None else _field_value(key, item, strategy, policy)
                )
            return out
        if isinstance(value, list | tuple):
            return [walk(item, depth + 1) for item in value]
        raise ValueError(f"cannot mask a value of type {type(value).__name__}; records must be JSON-like")

    return walk(record, 0)
