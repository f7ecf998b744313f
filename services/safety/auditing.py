"""Audit events of the safety service: decisions, review transitions, pack changes, evaluations.

Every event goes through the app's audit hub (the Merkle log when the audit service is
mounted) with ``category = "content_safety"``. Texts are never recorded, only their SM3 —
:meth:`security.safety.engine.Decision.audit_record` is nested under ``"decision"`` because
its own ``"category"`` key (the deciding content category) would otherwise collide with the
audit category.
"""

from __future__ import annotations

from typing import Any

from services.kernel.audit import AuditEvent, AuditSink
from services.kernel.auth import Principal

AUDIT_CATEGORY = "content_safety"
SERVICE = "safety"


async def record(
    audit: AuditSink,
    *,
    action: str,
    resource: str,
    principal: Principal,
    tenant_id: str | None,
    request_id: str | None,
    facts: dict[str, Any],
    result: int = 200,
) -> None:
    """Send one ``content_safety`` event for ``action`` on ``resource`` to ``audit``."""
    await audit.record(
        AuditEvent(
            action=action,
            resource=resource,
            result=result,
            principal_id=principal.id,
            tenant_id=tenant_id,
            request_id=request_id,
            service=SERVICE,
            extra={"category": AUDIT_CATEGORY, **facts},
        )
    )
