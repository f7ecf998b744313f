"""Audit service logic: record events and tool calls, query them tenant-scoped, serve proofs.

Visibility: a principal with ``audit:read`` sees the entries of its own tenant; platform
administrators (and only they) see every tenant and platform-level entries (``tenant_id`` null).
An entry of another tenant is reported as not found. Recording needs ``audit:write``.
Checkpoints, the public key and consistency proofs reveal only tree sizes and hashes, so any
principal with ``audit:read`` may read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from security.auditlog import store
from security.auditlog.canonical import NonCanonicalValue, canonical_json
from security.auditlog.log import AuditLog
from security.auditlog.models import AuditLogCheckpoint, AuditLogEntry
from security.auditlog.records import AuditRecord
from security.auditlog.signing import SM2NoteSigner
from security.crypto import sm3_hex
from services.audit import schemas
from services.kernel.auth import Principal
from services.kernel.errors import BadRequest, Conflict, Forbidden, NotFound


@dataclass(frozen=True)
class AuditRuntime:
    """What the service needs at run time: the running log and its signer."""

    log: AuditLog
    signer: SM2NoteSigner


def _tenant_for(principal: Principal, tenant_id: str | None, permission: str) -> str:
    tenant = tenant_id or principal.tenant_id
    principal.require(permission, tenant_id=tenant)
    return tenant


def _visible(principal: Principal, row: AuditLogEntry) -> bool:
    if principal.is_platform_admin:
        return True
    return row.tenant_id is not None and principal.can("audit:read", tenant_id=row.tenant_id)


async def record_event(
    *, runtime: AuditRuntime, principal: Principal, event_in: schemas.EventIn
) -> schemas.Appended:
    """Append a service-reported event; returns once durable."""
    tenant = _tenant_for(principal, event_in.tenant_id, "audit:write")
    try:
        record = AuditRecord(
            category=event_in.category,
            action=event_in.action,
            service=event_in.service,
            resource=event_in.resource,
            result=event_in.result,
            tenant_id=tenant,
            principal_id=event_in.principal_id or principal.id,
            request_id=event_in.request_id,
            details={**event_in.details, "reported_by": principal.id},
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    appended = await runtime.log.append(record)
    return schemas.Appended(index=appended.index, leaf_hash=schemas.b64(appended.leaf_hash))


async def record_tool_call(
    *, runtime: AuditRuntime, principal: Principal, call_in: schemas.ToolCallIn
) -> schemas.Appended:
    """Append an external tool / plug-in call with its risk decision; arguments are stored as SM3 only."""
    tenant = _tenant_for(principal, call_in.tenant_id, "audit:write")
    try:
        arguments_sm3 = sm3_hex(canonical_json(call_in.arguments))
    except NonCanonicalValue as exc:
        raise BadRequest(f"arguments: {exc}") from exc
    details: dict[str, object] = {
        "caller": call_in.caller or principal.id,
        "arguments_sm3": arguments_sm3,
        "reason": call_in.reason,
        "reported_by": principal.id,
    }
    if call_in.risk_score is not None:
        details["risk_score"] = call_in.risk_score
    record = AuditRecord(
        category="tool_call",
        action=f"tool.{call_in.decision}",
        service="tools",
        resource=call_in.tool,
        tenant_id=tenant,
        principal_id=principal.id,
        request_id=call_in.request_id,
        details=details,
        tool=call_in.tool,
        decision=call_in.decision,
    )
    appended = await runtime.log.append(record)
    return schemas.Appended(index=appended.index, leaf_hash=schemas.b64(appended.leaf_hash))


async def query_entries(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str | None,
    all_tenants: bool,
    category: str | None = None,
    action: str | None = None,
    principal_id: str | None = None,
    tool: str | None = None,
    decision: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int | None = None,
    limit: int = 100,
) -> schemas.EntryPage:
    """Entries in index order; ``all_tenants`` is for platform administrators only."""
    if all_tenants:
        if not principal.is_platform_admin:
            raise Forbidden("a cross-tenant audit query needs the platform administrator")
        scope: str | None = None
    else:
        scope = _tenant_for(principal, tenant_id, "audit:read")
    rows = await store.query_entries(
        session,
        tenant_id=scope,
        category=category,
        action=action,
        principal_id=principal_id,
        tool=tool,
        decision=decision,
        since=since,
        until=until,
        after_index=after,
        limit=limit,
    )
    items = [schemas.EntryOut.from_row(r) for r in rows]
    return schemas.EntryPage(items=items, next_after=items[-1].index if len(items) == limit else None)


def checkpoint_out(row: AuditLogCheckpoint, origin: str) -> schemas.CheckpointOut:
    """Response form of a stored checkpoint."""
    return schemas.CheckpointOut(
        origin=origin,
        size=row.size,
        root_hash=schemas.b64(row.root_hash),
        signed_at=row.signed_at,
        key_name=row.key_name,
        key_fingerprint=row.key_fingerprint,
        note=row.note,
    )


async def latest_checkpoint(
    *, session: AsyncSession, runtime: AuditRuntime, principal: Principal, sign_now: bool = False
) -> schemas.CheckpointOut:
    """The newest signed checkpoint; ``sign_now`` first signs one for the current tree (admin only)."""
    principal.require("audit:read", tenant_id=principal.tenant_id)
    if sign_now:
        if not principal.is_platform_admin:
            raise Forbidden("signing a checkpoint on demand needs the platform administrator")
        await runtime.log.checkpoint()
    row = await store.latest_checkpoint(session)
    if row is None:
        raise NotFound("the audit log has no checkpoint yet")
    return checkpoint_out(row, runtime.log.config.origin)


async def entry_with_proof(
    *, session: AsyncSession, runtime: AuditRuntime, principal: Principal, index: int, tree_size: int | None
) -> schemas.InclusionOut:
    """Entry ``index`` with its inclusion proof in a signed checkpoint (the latest by default)."""
    principal.require("audit:read", tenant_id=principal.tenant_id)
    row = await store.get_entry(session, index=index)
    if row is None or not _visible(principal, row):
        raise NotFound.of("audit entry", str(index))
    checkpoint = (
        await store.latest_checkpoint(session)
        if tree_size is None
        else await store.checkpoint_at(session, size=tree_size)
    )
    if checkpoint is None:
        raise NotFound(f"no signed checkpoint of size {tree_size}" if tree_size else "no checkpoint yet")
    if index >= checkpoint.size:
        raise Conflict(
            f"entry {index} is not yet covered by a signed checkpoint (latest size {checkpoint.size})",
            detail={"checkpoint_size": checkpoint.size},
        )
    proof = await store.inclusion_proof(session, index=index, size=checkpoint.size)
    return schemas.InclusionOut(
        entry=schemas.EntryOut.from_row(row),
        tree_size=checkpoint.size,
        proof=[schemas.b64(p) for p in proof],
        checkpoint=checkpoint_out(checkpoint, runtime.log.config.origin),
    )


async def consistency(
    *, session: AsyncSession, principal: Principal, first: int, second: int
) -> schemas.ConsistencyOut:
    """Consistency proof between two sizes no larger than the committed tree."""
    principal.require("audit:read", tenant_id=principal.tenant_id)
    size = await store.tree_size(session)
    if not 0 <= first <= second <= size:
        raise BadRequest(f"need 0 <= first <= second <= {size} (the tree size), got {first} and {second}")
    proof = await store.consistency_proof(session, old_size=first, new_size=second)
    return schemas.ConsistencyOut(first=first, second=second, proof=[schemas.b64(p) for p in proof])


def public_key(*, runtime: AuditRuntime) -> schemas.PublicKeyOut:
    """The checkpoint verification key."""
    return schemas.PublicKeyOut(
        origin=runtime.log.config.origin,
        key_name=runtime.signer.name,
        key_fingerprint=runtime.signer.fingerprint,
        public_key_pem=runtime.signer.public_key_pem().decode("ascii"),
    )
