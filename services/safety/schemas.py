"""Request and response bodies of the content-safety API.

Pack uploads and labelled evaluation files are raw bodies (YAML/JSON and JSON Lines), parsed
by the service; everything else is a JSON body validated here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from security.masking.strategies import Strategy
from security.safety.pii import PiiKind
from services.kernel.types import ResourceId, ResponseModel, StrictModel

MAX_CHECK_CHARS = 32_768
MAX_STREAM_CHUNKS = 2_048
# Any text, but no NUL (PostgreSQL cannot store it in review excerpts).
CheckText = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", max_length=MAX_CHECK_CHARS)]
Chunk = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$", max_length=MAX_CHECK_CHARS)]
DirectionName = Literal["input", "output"]
# Printable text (tabs and newlines allowed), like the kernel's FreeText but up to 1,000 characters.
Note = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$", max_length=1000)]


# --- packs ------------------------------------------------------------------------------------


class PackVersionOut(ResponseModel):
    """A stored pack version (without its document)."""

    id: str = Field(description="pack version id (spk_…)")
    pack_id: str
    version: str
    scope: str = Field(description="'global' or 'tenant:<id>'")
    tenant_id: str | None
    description: str
    digest: str = Field(description="SHA-256 of the canonical pack document")
    source_format: str
    created_by: str
    created_at: datetime


class PackVersionDetail(PackVersionOut):
    """A stored pack version with its validated document."""

    document: dict[str, Any]


class ActivateIn(StrictModel):
    """Make a stored version the active pack (a newer one: roll forward; an older one: roll back)."""

    pack_version_id: ResourceId


class ActivePackOut(BaseModel):
    """Which pack applies and why: the scope's own activation, or the platform default."""

    source: Literal["tenant", "global"]
    activated_by: str
    activated_at: datetime
    pack: PackVersionOut


# --- checks -----------------------------------------------------------------------------------


class CheckIn(StrictModel):
    """A text to check; ``pack_version_id`` tries a stored version instead of the active one."""

    text: CheckText
    direction: DirectionName = "input"
    pack_version_id: ResourceId | None = None


class StreamCheckIn(StrictModel):
    """A streamed output replayed chunk by chunk through the sliding-window checker."""

    chunks: Annotated[list[Chunk], Field(min_length=1, max_length=MAX_STREAM_CHUNKS)]
    direction: DirectionName = "output"
    pack_version_id: ResourceId | None = None


class MatchOut(BaseModel):
    """One rule that fired; ``span`` in offsets of the checked text (null for semantic hits)."""

    category: str
    action: str
    priority: int
    source: str
    rule: str
    span: list[int] | None
    score: float | None


class PackRef(BaseModel):
    """The pack version a decision was taken with."""

    pack_version_id: str
    id: str
    version: str
    scope: str


class DecisionOut(BaseModel):
    """The outcome of a check. ``masked_text`` is set for ``mask``, ``message`` for refuse/review."""

    action: Literal["allow", "mask", "review", "refuse"]
    category: str | None
    categories: list[str]
    matches: list[MatchOut]
    exempted: list[MatchOut]
    masked_text: str | None
    message: str | None
    direction: DirectionName
    pack: PackRef
    semantic: bool = Field(description="whether the semantic stage ran")
    text_sm3: str = Field(description="SM3 of the checked text, as recorded in the audit log")
    review_item_id: str | None = Field(description="the queued review item of a review decision")
    latency_ms: float


class StreamStepOut(BaseModel):
    """What one chunk released: text safe to forward, or a stop."""

    text: str
    stopped: bool


class StreamCheckOut(BaseModel):
    """The replayed stream: per-chunk releases, what was forwarded in total, and the decision."""

    steps: list[StreamStepOut]
    forwarded: str
    stopped: bool
    decision: DecisionOut


# --- reviews ----------------------------------------------------------------------------------


class ReviewEventOut(BaseModel):
    """One transition of a review item: who did what, when."""

    action: str
    actor: str
    at: datetime
    from_state: str | None
    to_state: str
    note: str | None


class ReviewItemOut(BaseModel):
    """A review item with its history (the audit trail of the review)."""

    id: str
    tenant_id: str | None
    pack_id: str
    pack_version: str
    direction: str
    categories: list[str]
    excerpt: str = Field(description="the text with personal information masked")
    text_sm3: str
    state: Literal["pending", "claimed", "approved", "rejected"]
    created_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    version: int
    history: list[ReviewEventOut]


class ApproveIn(StrictModel):
    """An optional note with an approval."""

    note: Note | None = None


class RejectIn(StrictModel):
    """A rejection and its reason (required, not blank)."""

    note: Note

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a rejection needs a reason: note is blank")
        return value


# --- evaluation -------------------------------------------------------------------------------


class CountsOut(BaseModel):
    """Confusion counts and ratios of one category."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


class MissOut(BaseModel):
    """An example the pack got wrong."""

    line: int
    text: str
    expected: list[str]
    predicted: list[str]
    expected_action: str | None
    action: str


class EvaluationOut(BaseModel):
    """Precision / recall / F1 of a pack version on a labelled set."""

    pack_version_id: str
    pack: dict[str, str]
    examples: int
    semantic: bool
    labelled_sm3: str = Field(description="SM3 of the labelled body, as recorded in the audit log")
    per_category: dict[str, CountsOut]
    overall: CountsOut
    flagged: CountsOut
    action_accuracy: float | None
    misses: list[MissOut]


# --- masking ----------------------------------------------------------------------------------


class MaskingPolicyIn(StrictModel):
    """Strategy per PII kind (default ``mask``) and per field name (``redact``/``hash``/``keep``)."""

    kinds: Annotated[dict[PiiKind, Strategy], Field(max_length=16)] = Field(default_factory=dict)
    fields: (
        Annotated[
            dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], Strategy],
            Field(max_length=100),
        ]
        | None
    ) = Field(default=None, description="default: credentials (authorization, api_key, …) redacted")


class MaskIn(StrictModel):
    """A JSON record to de-identify (at most 32 levels deep)."""

    record: Any
    policy: MaskingPolicyIn = Field(default_factory=MaskingPolicyIn)


class MaskOut(BaseModel):
    """The de-identified record."""

    record: Any
