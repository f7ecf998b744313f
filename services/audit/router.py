"""HTTP routes of the audit service (``/v1/audit/...``). No logic here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status

from services.audit import schemas, service
from services.audit.service import AuditRuntime
from services.kernel.deps import CurrentPrincipal, SessionDep

MAX_INDEX = 2**63 - 1
"""Entry indexes and tree sizes are SQL BIGINTs: larger numbers are refused with 422, not looked up."""

router = APIRouter(prefix="/v1/audit", tags=["audit"])


def get_runtime(request: Request) -> AuditRuntime:
    """The app's running audit log."""
    runtime: AuditRuntime = request.app.state.audit_runtime
    return runtime


RuntimeDep = Annotated[AuditRuntime, Depends(get_runtime)]


@router.post("/events", response_model=schemas.Appended, status_code=status.HTTP_201_CREATED)
async def record_event(body: schemas.EventIn, runtime: RuntimeDep, principal: CurrentPrincipal) -> object:
    """Record a resource request, model download or data access (durable when this returns)."""
    return await service.record_event(runtime=runtime, principal=principal, event_in=body)


@router.get("/events", response_model=schemas.EntryPage)
async def query_events(
    session: SessionDep,
    principal: CurrentPrincipal,
    tenant_id: Annotated[str | None, Query(max_length=64)] = None,
    all_tenants: Annotated[bool, Query(description="platform administrators: every tenant")] = False,
    category: Annotated[str | None, Query(max_length=32)] = None,
    action: Annotated[str | None, Query(max_length=200)] = None,
    principal_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: Annotated[int | None, Query(ge=-1, le=MAX_INDEX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> object:
    """Entries in log order, scoped to a tenant (the caller's by default)."""
    return await service.query_entries(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        all_tenants=all_tenants,
        category=category,
        action=action,
        principal_id=principal_id,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )


@router.post("/tool-calls", response_model=schemas.Appended, status_code=status.HTTP_201_CREATED)
async def record_tool_call(
    body: schemas.ToolCallIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> object:
    """Record an external tool / plug-in call and its risk decision."""
    return await service.record_tool_call(runtime=runtime, principal=principal, call_in=body)


@router.get("/tool-calls", response_model=schemas.EntryPage)
async def query_tool_calls(
    session: SessionDep,
    principal: CurrentPrincipal,
    tenant_id: Annotated[str | None, Query(max_length=64)] = None,
    all_tenants: bool = False,
    tool: Annotated[str | None, Query(max_length=200)] = None,
    decision: Annotated[str | None, Query(pattern="^(allow|deny|review)$")] = None,
    after: Annotated[int | None, Query(ge=-1, le=MAX_INDEX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> object:
    """Tool-call records, filterable by tool and decision."""
    return await service.query_entries(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        all_tenants=all_tenants,
        category="tool_call",
        tool=tool,
        decision=decision,
        after=after,
        limit=limit,
    )


@router.get("/entries/{index}", response_model=schemas.InclusionOut)
async def get_entry(
    index: Annotated[int, Path(ge=0, le=MAX_INDEX)],
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    tree_size: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="a signed checkpoint size; default latest")
    ] = None,
) -> object:
    """One entry with its inclusion proof in a signed checkpoint."""
    return await service.entry_with_proof(
        session=session, runtime=runtime, principal=principal, index=index, tree_size=tree_size
    )


@router.get("/checkpoints/latest", response_model=schemas.CheckpointOut)
async def latest_checkpoint(session: SessionDep, runtime: RuntimeDep, principal: CurrentPrincipal) -> object:
    """The newest signed checkpoint (C2SP signed note)."""
    return await service.latest_checkpoint(session=session, runtime=runtime, principal=principal)


@router.post("/checkpoints", response_model=schemas.CheckpointOut, status_code=status.HTTP_201_CREATED)
async def sign_checkpoint(session: SessionDep, runtime: RuntimeDep, principal: CurrentPrincipal) -> object:
    """Sign a checkpoint of the current tree now (platform administrators)."""
    return await service.latest_checkpoint(
        session=session, runtime=runtime, principal=principal, sign_now=True
    )


@router.get("/consistency", response_model=schemas.ConsistencyOut)
async def consistency(
    session: SessionDep,
    principal: CurrentPrincipal,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> object:
    """RFC 9162 consistency proof between tree sizes ``first`` and ``second``."""
    return await service.consistency(session=session, principal=principal, first=first, second=second)


@router.get("/public-key", response_model=schemas.PublicKeyOut)
async def public_key(runtime: RuntimeDep, principal: CurrentPrincipal) -> object:
    """The SM2 key that signs checkpoints."""
    return service.public_key(runtime=runtime)
