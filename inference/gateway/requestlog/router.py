"""HTTP routes of the request logs, under ``/v1/tenants/{tenant_id}/inference/request-logs``.

Listing and reading need ``inference:read``; the export needs ``inference:admin``. Everything
served here was masked before it was stored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from inference.gateway.requestlog import export, query
from inference.gateway.requestlog.schemas import ExportIn, OperationName, RequestLogDetail, RequestLogSummary
from services.kernel.auth import Principal
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.errors import BadRequest, NotFound
from services.kernel.identity import Tenant
from services.kernel.pagination import Page, PageDep, page_of
from services.kernel.types import ResourceIdPattern

router = APIRouter(prefix="/v1/tenants/{tenant_id}/inference/request-logs", tags=["inference"])

TenantId = Annotated[str, Path(pattern=ResourceIdPattern, description="Tenant id (ten_…)")]
LogId = Annotated[str, Path(pattern=ResourceIdPattern, description="Request log id (rlog_…)")]
READ = "inference:read"
ADMIN = "inference:admin"


async def _require_tenant(
    session: AsyncSession, principal: Principal, tenant_id: str, permission: str
) -> None:
    principal.require(permission, tenant_id=tenant_id)
    if await session.get(Tenant, tenant_id) is None:
        raise NotFound.of("tenant", tenant_id)


@router.get("", response_model=Page[RequestLogSummary], summary="The tenant's request logs, newest first")
async def list_request_logs(
    tenant_id: TenantId,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    model: Annotated[str | None, Query(max_length=256, description="the model name the client sent")] = None,
    service_id: Annotated[str | None, Query(max_length=64)] = None,
    route_id: Annotated[str | None, Query(max_length=64)] = None,
    variant: Annotated[str | None, Query(max_length=64)] = None,
    operation: OperationName | None = None,
    status: Annotated[
        query.Status | None, Query(description="ok, or failed (error status or broken stream)")
    ] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="created at or after (ISO 8601 with zone)")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="created before (ISO 8601 with zone)")] = None,
) -> dict[str, object]:
    await _require_tenant(session, principal, tenant_id, READ)
    log_filter = query.LogFilter(
        tenant_id=tenant_id,
        model=model,
        service_id=service_id,
        route_id=route_id,
        variant=variant,
        operation=operation,
        status=status,
        since=since,
        until=until,
    )
    rows, total = await query.list_logs(session, log_filter, page)
    return page_of([RequestLogSummary.model_validate(row) for row in rows], total, page)


@router.get("/{log_id}", response_model=RequestLogDetail, summary="One request log with its masked bodies")
async def get_request_log(
    tenant_id: TenantId, log_id: LogId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    principal.require(READ, tenant_id=tenant_id, resource=("request log", log_id))
    row = await query.get_log(session, tenant_id=tenant_id, log_id=log_id)
    if row is None:
        raise NotFound.of("request log", log_id)
    return row


@router.post(
    "/export",
    response_class=StreamingResponse,
    summary="Export matching chat / completion logs as masked JSON Lines (a data set for the data loop)",
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "one chat example per line"}},
)
async def export_request_logs(
    tenant_id: TenantId, body: ExportIn, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> StreamingResponse:
    await _require_tenant(session, principal, tenant_id, ADMIN)
    if body.operation == "embeddings":
        raise BadRequest(
            "operation: the chat-jsonl export covers chat.completions and completions only",
            detail={"field": "operation"},
        )
    lines = export.chat_jsonl(
        request.app.state.database.sessionmaker, body.log_filter(tenant_id), limit=body.limit
    )
    return StreamingResponse(
        lines,
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="request-logs-{tenant_id}.jsonl"'},
    )
