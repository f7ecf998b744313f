"""Audit hook: one event for every mutating request, delivered to a pluggable sink.

The kernel records *who* (principal), *tenant*, *action* (HTTP method + route template),
*resource* (concrete path), *result* (status code) and *time* for every POST/PUT/PATCH/DELETE.
Sinks implement :class:`AuditSink`. The default, :class:`DatabaseAuditSink`, appends to the
``audit_events`` table; the tamper-evident Merkle log (``security.auditlog``) is another sink.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, Database, IdMixin, utcnow

log = logging.getLogger("stic.audit")

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audited action. ``extra`` carries action-specific facts (never secrets)."""

    action: str
    resource: str
    result: int
    principal_id: str | None
    tenant_id: str | None
    request_id: str | None
    service: str
    time: datetime = field(default_factory=utcnow)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (time as ISO 8601)."""
        data = asdict(self)
        data["time"] = self.time.isoformat()
        return data


class AuditSink(Protocol):
    """Where audit events go. ``record`` must not raise for a well-formed event."""

    async def record(self, event: AuditEvent) -> None:
        """Persist or forward ``event``."""
        ...


class AuditEventRow(IdMixin, Base):
    """Plain audit table used by :class:`DatabaseAuditSink`."""

    __tablename__ = "audit_events"
    id_prefix = "aud"

    time: Mapped[datetime] = mapped_column(index=True)
    service: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(200))
    resource: Mapped[str] = mapped_column(String(500))
    result: Mapped[int] = mapped_column(Integer)
    principal_id: Mapped[str | None] = mapped_column(String(64), index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DatabaseAuditSink:
    """Appends each event to ``audit_events`` in its own short transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def record(self, event: AuditEvent) -> None:
        """Insert ``event``; failures are logged (the request already completed)."""
        try:
            async with self._database.sessionmaker.begin() as session:
                session.add(
                    AuditEventRow(
                        time=event.time,
                        service=event.service,
                        action=event.action,
                        resource=event.resource,
                        result=event.result,
                        principal_id=event.principal_id,
                        tenant_id=event.tenant_id,
                        request_id=event.request_id,
                        extra=event.extra,
                    )
                )
        except Exception:
            log.exception("audit sink failed", extra={"audit_event": event.as_dict()})


class MemoryAuditSink:
    """Keeps events in a list; for tests and for fan-out composition."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> None:
        """Append ``event``."""
        self.events.append(event)


class AuditHub:
    """The app's audit entry point; the sink behind it can be swapped at start-up.

    The kernel installs :class:`DatabaseAuditSink`; the audit service replaces it with the
    tamper-evident Merkle sink when it is mounted.
    """

    def __init__(self, sink: AuditSink | None = None) -> None:
        self.sink: AuditSink | None = sink

    def set_sink(self, sink: AuditSink) -> None:
        """Route all further events to ``sink``."""
        self.sink = sink

    async def record(self, event: AuditEvent) -> None:
        """Forward ``event`` to the current sink (dropped only if no sink is installed)."""
        if self.sink is not None:
            await self.sink.record(event)
