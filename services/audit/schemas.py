"""Request and response bodies of the audit service (hashes are base64, like checkpoints)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.kernel.types import FreeText, StrictModel

Category = Literal["resource_request", "model_download", "data_access", "security", "request"]


def b64(data: bytes) -> str:
    """Standard base64 text of ``data``."""
    return base64.b64encode(data).decode("ascii")


class EventIn(StrictModel):
    """An event reported by another service (6.4.4 b: resource requests, model downloads, data access)."""

    category: Category
    action: FreeText = Field(min_length=1)
    service: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")
    resource: FreeText = ""
    result: int | None = Field(default=None, ge=100, le=599)
    tenant_id: str | None = Field(default=None, description="defaults to the caller's tenant")
    principal_id: str | None = Field(default=None, max_length=64, description="defaults to the caller")
    request_id: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, description="no floats, no secrets")


class ToolCallIn(StrictModel):
    """An external tool / plug-in call and the risk decision taken on it (6.4.2 c)."""

    tool: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    caller: str | None = Field(
        default=None, max_length=64, description="calling agent or principal; default: caller"
    )
    tenant_id: str | None = Field(default=None, description="defaults to the caller's tenant")
    arguments: dict[str, Any] = Field(default_factory=dict, description="hashed (SM3), never stored")
    decision: Literal["allow", "deny", "review"]
    reason: FreeText = ""
    risk_score: int | None = Field(default=None, ge=0, le=100)
    request_id: str | None = Field(default=None, max_length=64)


class Appended(BaseModel):
    """Where a recorded event landed in the log."""

    index: int
    leaf_hash: str


class EntryOut(BaseModel):
    """One log entry: the hashed document, its leaf hash, and its projection."""

    index: int
    leaf_hash: str
    integrated_at: datetime
    category: str
    action: str
    service: str
    tenant_id: str | None
    principal_id: str | None
    tool: str | None
    decision: str | None
    document: dict[str, Any] = Field(description="the canonical JSON that was hashed, parsed")
    entry_b64: str = Field(description="the exact hashed bytes (base64)")

    @classmethod
    def from_row(cls, row: Any) -> EntryOut:
        """Build from an ``AuditLogEntry`` row."""
        raw = bytes(row.entry)
        return cls(
            index=row.idx,
            leaf_hash=b64(row.leaf_hash),
            integrated_at=row.integrated_at,
            category=row.category,
            action=row.action,
            service=row.service,
            tenant_id=row.tenant_id,
            principal_id=row.principal_id,
            tool=row.tool,
            decision=row.decision,
            document=json.loads(raw),
            entry_b64=b64(raw),
        )


class EntryPage(BaseModel):
    """A page of entries; pass ``next_after`` as ``after`` to continue."""

    items: list[EntryOut]
    next_after: int | None


class CheckpointOut(BaseModel):
    """A signed checkpoint: the signed note and its parsed fields."""

    origin: str
    size: int
    root_hash: str
    signed_at: datetime
    key_name: str
    key_fingerprint: str
    note: str


class InclusionOut(BaseModel):
    """An entry with its RFC 9162 inclusion proof in the tree of ``tree_size`` (a signed checkpoint)."""

    entry: EntryOut
    tree_size: int
    proof: list[str]
    checkpoint: CheckpointOut


class ConsistencyOut(BaseModel):
    """RFC 9162 consistency proof between two tree sizes."""

    first: int
    second: int
    proof: list[str]


class PublicKeyOut(BaseModel):
    """The checkpoint verification key, for auditors and ``stic audit verify --public-key``."""

    origin: str
    key_name: str
    key_fingerprint: str
    public_key_pem: str
