"""What goes into the audit log: :class:`AuditRecord`, and the leaf document built from it.

A leaf's entry is the canonical JSON of
``{"v": 1, "index": i, "integrated_at": t, "event": {...}}``. The sequencer puts the leaf index
inside the hashed bytes, so moving a row to another index (reordering, insertion, deletion with
renumbering) breaks that row's own hash check instead of only the tree root.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from security.auditlog.canonical import check_canonical, encode_checked, encode_string, encode_text
from services.kernel.audit import AuditEvent
from services.kernel.db import utcnow

ENTRY_VERSION = 1

KNOWN_CATEGORIES = frozenset(
    {
        "request",
        "resource_request",
        "model_download",
        "data_access",
        "tool_call",
        "kms",
        "security",
        "content_safety",
    }
)
"""Categories the platform emits; 6.4.4 b) names resource requests, model downloads and data access,
6.4.2 c) external tool / plug-in calls."""

Decision = Literal["allow", "deny", "review"]
DECISIONS: frozenset[str] = frozenset({"allow", "deny", "review"})
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One auditable fact, before it is sequenced into the log.

    ``details`` must be canonical-JSON-able (no floats) and must not contain secrets.
    ``tool``/``decision`` are set only for ``category="tool_call"`` and are projected into
    indexed columns for queries.
    """

    category: str
    action: str
    service: str
    resource: str = ""
    result: int | None = None
    tenant_id: str | None = None
    principal_id: str | None = None
    request_id: str | None = None
    time: datetime = field(default_factory=utcnow)
    details: dict[str, Any] = field(default_factory=dict)
    tool: str | None = None
    decision: str | None = None

    def __post_init__(self) -> None:
        if self.category not in KNOWN_CATEGORIES and not _CATEGORY.match(self.category):
            raise ValueError(f"audit category {self.category!r} must match {_CATEGORY.pattern}")
        if not self.action or len(self.action) > 200:
            raise ValueError("audit action must be 1..200 characters")
        if not self.service or len(self.service) > 64:
            raise ValueError("audit service must be 1..64 characters")
        if self.time.tzinfo is None:
            raise ValueError("audit record time must be timezone-aware")
        if (self.category == "tool_call") != (self.tool is not None):
            raise ValueError("tool is required for category 'tool_call' and only allowed there")
        if self.tool is not None and self.decision not in DECISIONS:
            raise ValueError(f"tool-call decision must be one of {sorted(DECISIONS)}, got {self.decision!r}")
        if self.tool is None and self.decision is not None:
            raise ValueError("decision is only allowed on tool calls")
        check_canonical(self.details)

    @classmethod
    def from_event(cls, event: AuditEvent) -> AuditRecord:
        """Map a kernel :class:`AuditEvent`; ``extra["category"]`` overrides the default ``request``.

        ``extra`` is made canonical-JSON-able rather than rejected (an audit event must not be
        lost to its formatting): floats become their ``repr`` string, tuples lists, and any other
        non-JSON value its ``str``.
        """
        details = _jsonable(dict(event.extra))
        assert isinstance(details, dict)
        category = str(details.pop("category", "request"))
        return cls(
            category=category,
            action=event.action,
            service=event.service,
            resource=event.resource,
            result=event.result,
            tenant_id=event.tenant_id,
            principal_id=event.principal_id,
            request_id=event.request_id,
            time=event.time,
            details=details,
        )

    def event_document(self) -> dict[str, Any]:
        """The ``event`` object stored (and hashed) in the leaf."""
        document: dict[str, Any] = {
            "category": self.category,
            "action": self.action,
            "service": self.service,
            "resource": self.resource,
            "result": self.result,
            "tenant_id": self.tenant_id,
            "principal_id": self.principal_id,
            "request_id": self.request_id,
            "time": self.time.isoformat(),
            "details": self.details,
        }
        if self.tool is not None:
            document["tool"] = self.tool
            document["decision"] = self.decision
        return document


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 - 1 else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def leaf_document(*, index: int, integrated_at: str, record: AuditRecord) -> dict[str, Any]:
    """The whole leaf document for ``record`` sequenced at ``index``; ``integrated_at`` is the
    ISO 8601 form of the sequencing time (formatted once per batch by the caller)."""
    return {
        "v": ENTRY_VERSION,
        "index": index,
        "integrated_at": integrated_at,
        "event": record.event_document(),
    }


def leaf_entry(*, index: int, integrated_at: str, record: AuditRecord) -> bytes:
    """Canonical JSON bytes of :func:`leaf_document` (the bytes that are leaf-hashed)."""
    # details were checked when the record was built; every other field is a str, int or None.
    return encode_checked(leaf_document(index=index, integrated_at=integrated_at, record=record))


def leaf_entries(*, first_index: int, integrated_at: str, records: Sequence[AuditRecord]) -> list[bytes]:
    """``[leaf_entry(index=first_index + i, ...) for i, record in enumerate(records)]``, faster.

    The envelope around the event is the same for the whole batch but for the index, so only the
    event document goes through the JSON encoder; the canonical key order of the envelope
    (``event`` < ``index`` < ``integrated_at`` < ``v``) is spelled out here. ``test_log.py``
    checks the bytes against :func:`leaf_entry`.
    """
    tail = ',"integrated_at":' + encode_string(integrated_at) + ',"v":' + str(ENTRY_VERSION) + "}"
    return [
        ('{"event":' + encode_text(record.event_document()) + ',"index":' + str(index) + tail).encode("utf-8")
        for index, record in enumerate(records, start=first_index)
    ]
