""":class:`MerkleAuditSink`: the kernel's ``AuditSink`` backed by the tamper-evident log."""

from __future__ import annotations

import logging

from security.auditlog.log import AuditLog
from security.auditlog.records import AuditRecord
from services.kernel.audit import AuditEvent

log = logging.getLogger("stic.auditlog")


class MerkleAuditSink:
    """Implements ``services.kernel.audit.AuditSink`` by appending to an :class:`AuditLog`.

    ``record`` returns once the event is durable. Per the sink contract it does not raise for a
    well-formed event: a failed write is logged at ERROR together with the event. Callers that
    must fail closed (refuse the action when it cannot be audited) pass ``strict=True``.
    """

    def __init__(self, log_: AuditLog, *, strict: bool = False) -> None:
        self._log = log_
        self._strict = strict

    async def record(self, event: AuditEvent) -> None:
        """Append ``event`` durably (see class docstring for failure handling)."""
        try:
            await self._log.append(AuditRecord.from_event(event))
        except Exception:
            if self._strict:
                raise
            log.exception("audit event could not be appended", extra={"audit_event": event.as_dict()})
