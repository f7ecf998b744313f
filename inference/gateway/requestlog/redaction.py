"""De-identify and bound a :class:`RequestRecord` before it is stored.

PII in the request body and the response (China resident ID, mobile, bank card, e-mail) is
masked with the content-safety detectors and the tenant's masking salt
(:func:`services.safety.masking.mask_json`; credentials in fields such as ``authorization``
are redacted whole). Then sizes are bounded: each string to ``max_string_chars``, the response
to ``max_response_chars`` (cut strings end with :data:`TRUNCATION_MARKER`), the whole body to
``max_body_bytes`` of JSON (beyond that only a prefix of the masked JSON text is kept).

Masking runs before truncation, so a cut can never expose half of a value the detectors would
have caught. To bound the work, very long strings (:meth:`LogBounds.pre_cut`) are cut *before*
masking; the last :data:`PII_MAX_CHARS` characters before such a cut are then dropped, so a
PII value split by it is not stored either.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from security.masking.records import MaskingPolicy, mask_text
from services.kernel import fastjson
from services.kernel.errors import STICError
from services.safety.masking import mask_json, masking_salt

TRUNCATION_MARKER = "…[truncated]"
PII_MAX_CHARS = 256  # longer than any value the detectors report (an e-mail is at most 254)
_PRE_CUT = "\x00stic-pre-cut\x00"


@dataclass(frozen=True, slots=True)
class LogBounds:
    """Size bounds of a stored row.

    ``pre_mask_chars``: strings longer than this are cut before masking (default: four times
    the string's bound plus :data:`PII_MAX_CHARS`, so the cut almost never shows).
    """

    max_string_chars: int = 8_192
    max_response_chars: int = 32_768
    max_body_bytes: int = 65_536
    pre_mask_chars: int | None = None

    def __post_init__(self) -> None:
        if min(self.max_string_chars, self.max_response_chars, self.max_body_bytes) < 1:
            raise ValueError("log bounds must be positive")
        if self.pre_mask_chars is not None and self.pre_mask_chars <= PII_MAX_CHARS:
            raise ValueError(f"pre_mask_chars must exceed {PII_MAX_CHARS}")

    def pre_cut(self, bound: int) -> int:
        """Where strings bounded by ``bound`` are cut before masking."""
        return self.pre_mask_chars or 4 * bound + PII_MAX_CHARS


@dataclass(frozen=True, slots=True)
class Redacted:
    """What is stored of one record's free-form content."""

    request_body: dict[str, Any]
    response_text: str | None
    truncated: bool


@lru_cache(maxsize=4096)
def _policy(secret_key: str, tenant_id: str) -> MaskingPolicy:
    return MaskingPolicy(salt=masking_salt(secret_key, tenant_id), max_depth=32)


def _pre_cut(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value[:limit] + _PRE_CUT if len(value) > limit else value
    if isinstance(value, dict):
        return {key: _pre_cut(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [_pre_cut(item, limit) for item in value]
    return value


def _cut_text(value: str, limit: int) -> tuple[str, bool]:
    cut = False
    if value.endswith(_PRE_CUT):
        value = value[: -len(_PRE_CUT)][:-PII_MAX_CHARS]
        cut = True
    if len(value) > limit:
        value = value[:limit]
        cut = True
    return (value + TRUNCATION_MARKER if cut else value), cut


def _cut_strings(value: Any, limit: int) -> tuple[Any, bool]:
    cut = False

    def walk(item: Any) -> Any:
        nonlocal cut
        if isinstance(item, str):
            text, was_cut = _cut_text(item, limit)
            cut = cut or was_cut
            return text
        if isinstance(item, dict):
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    return walk(value), cut


def redact(
    *,
    request_body: dict[str, Any],
    response_text: str | None,
    tenant_id: str,
    secret_key: str,
    bounds: LogBounds = LogBounds(),
    body_chars: int | None = None,
) -> Redacted:
    """The masked, bounded request body and response of one record of ``tenant_id``.

    ``body_chars``: the characters of all the body's strings together, when the caller counted
    them; no longer than the pre-cut bound, no string needs cutting before masking.
    """
    policy = _policy(secret_key, tenant_id)
    pre_cut = bounds.pre_cut(bounds.max_string_chars)
    if body_chars is None or body_chars > pre_cut:
        request_body = _pre_cut(request_body, pre_cut)
    try:
        masked = mask_json(request_body, policy=policy)
    except STICError:
        masked = {"_stic_unloggable": f"the body nests deeper than {policy.max_depth} levels"}
    body, truncated = _cut_strings(masked, bounds.max_string_chars)
    encoded = fastjson.dumps(body)
    if len(encoded) > bounds.max_body_bytes:
        prefix = encoded[: bounds.max_body_bytes].decode(errors="ignore")
        body = {"_stic_truncated": {"json_bytes": len(encoded)}, "json_prefix": prefix}
        truncated = True
    response = None
    if response_text is not None:
        pre_cut = _pre_cut(response_text, bounds.pre_cut(bounds.max_response_chars))
        response, response_cut = _cut_text(mask_text(pre_cut, policy), bounds.max_response_chars)
        truncated = truncated or response_cut
    return Redacted(request_body=body, response_text=response, truncated=truncated)
