"""HTTP routes of the content-safety service. No logic here.

Tenant routes live under ``/v1/tenants/{tenant_id}/safety``; platform (global) packs under
``/v1/safety``. Pack uploads take a raw JSON or YAML body, evaluations a raw JSON Lines body.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from security.safety.review import ReviewState
from services.kernel.auth import Principal
from services.kernel.deps import CurrentPrincipal, SessionDep, SettingsDep
from services.kernel.pagination import Page, PageDep, page_of
from services.kernel.types import ResourceIdPattern
from services.safety import checks, evaluation, masking, reviews, schemas, service
from services.safety.runtime import SafetyRuntime

router = APIRouter(prefix="/v1/tenants/{tenant_id}/safety", tags=["safety"])
platform_router = APIRouter(prefix="/v1/safety", tags=["safety"])

TenantId = Annotated[str, Path(pattern=ResourceIdPattern, description="Tenant id (ten_…)")]
VersionId = Annotated[str, Path(pattern=ResourceIdPattern, description="Pack version id (spk_…)")]
ItemId = Annotated[str, Path(pattern=ResourceIdPattern, description="Review item id (rev_…)")]
PackIdFilter = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]

_PACK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A rule pack (see security/safety/rules.py) as JSON or YAML, at most 256 KiB",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}
_LABELLED_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": 'JSON Lines, one {"text": ..., "labels": [...], "action"?: ..., "direction"?: ...} '
        "per line, at most 512 KiB and 2,000 examples; the body is read as JSON Lines whatever its "
        "Content-Type (application/x-ndjson, application/jsonl, text/plain)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def get_runtime(request: Request) -> SafetyRuntime:
    """The app's safety runtime (compiled packs, semantic stage, audit hook)."""
    runtime: SafetyRuntime = request.app.state.safety
    return runtime


def get_request_id(request: Request) -> str | None:
    """The request id the platform middleware assigned."""
    request_id: str | None = getattr(request.state, "request_id", None)
    return request_id


RuntimeDep = Annotated[SafetyRuntime, Depends(get_runtime)]
RequestIdDep = Annotated[str | None, Depends(get_request_id)]


# --- packs ------------------------------------------------------------------------------------


async def _upload(
    request: Request,
    response: Response,
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str | None,
    activate: bool,
    request_id: str | None,
) -> object:
    row, created = await service.upload(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        body=await request.body(),
        content_type=request.headers.get("content-type"),
        activate=activate,
        request_id=request_id,
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return row


@router.post(
    "/packs",
    response_model=schemas.PackVersionDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Upload a rule-pack version (201; 200 when identical content is already stored)",
    openapi_extra=_PACK_BODY,
)
async def upload_pack(
    tenant_id: TenantId,
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
    activate: Annotated[bool, Query(description="also make it the tenant's active pack")] = False,
) -> object:
    return await _upload(
        request,
        response,
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        activate=activate,
        request_id=request_id,
    )


@router.get("/packs", response_model=Page[schemas.PackVersionOut], summary="The tenant's pack versions")
async def list_packs(
    tenant_id: TenantId,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    pack_id: PackIdFilter = None,
) -> object:
    items, total = await service.list_versions(
        session=session, principal=principal, tenant_id=tenant_id, page=page, pack_id=pack_id
    )
    return page_of(items, total, page)


@router.get(
    "/packs/{pack_version_id}",
    response_model=schemas.PackVersionDetail,
    summary="A pack version of the tenant, or a platform one",
)
async def get_pack(
    tenant_id: TenantId, pack_version_id: VersionId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.get_version(
        session=session, principal=principal, tenant_id=tenant_id, version_id=pack_version_id
    )


@router.post(
    "/packs/{pack_version_id}/evaluate",
    response_model=schemas.EvaluationOut,
    summary="Precision / recall / F1 of a pack version on a labelled JSON Lines body",
    openapi_extra=_LABELLED_BODY,
)
async def evaluate_pack(
    tenant_id: TenantId,
    pack_version_id: VersionId,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> object:
    return await evaluation.evaluate_version(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        version_id=pack_version_id,
        body=await request.body(),
        request_id=request_id,
    )


@router.get("/active-pack", response_model=schemas.ActivePackOut, summary="The pack that applies")
async def get_active_pack(tenant_id: TenantId, session: SessionDep, principal: CurrentPrincipal) -> object:
    return await service.active_pack(session=session, principal=principal, tenant_id=tenant_id)


@router.put(
    "/active-pack",
    response_model=schemas.ActivePackOut,
    summary="Activate a pack version for the tenant (roll forward or back)",
)
async def set_active_pack(
    tenant_id: TenantId,
    body: schemas.ActivateIn,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> object:
    return await service.activate_version(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        version_id=body.pack_version_id,
        request_id=request_id,
    )


@router.delete(
    "/active-pack",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Drop the tenant's own activation: the platform default applies again",
)
async def clear_active_pack(
    tenant_id: TenantId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> Response:
    await service.deactivate(
        session=session, runtime=runtime, principal=principal, tenant_id=tenant_id, request_id=request_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- checks -----------------------------------------------------------------------------------


@router.post("/check", response_model=schemas.DecisionOut, summary="Check a prompt or an output")
async def check_text(
    tenant_id: TenantId,
    body: schemas.CheckIn,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> object:
    return await checks.check(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        check_in=body,
        request_id=request_id,
    )


@router.post(
    "/check/stream",
    response_model=schemas.StreamCheckOut,
    summary="Replay a streamed output chunk by chunk through the sliding-window checker",
)
async def check_stream(
    tenant_id: TenantId,
    body: schemas.StreamCheckIn,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> object:
    return await checks.check_stream(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        stream_in=body,
        request_id=request_id,
    )


@router.post("/mask", response_model=schemas.MaskOut, summary="De-identify a JSON record")
async def mask_record(
    tenant_id: TenantId,
    body: schemas.MaskIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> object:
    return await masking.mask(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        mask_in=body,
        secret_key=settings.secret_key,
    )


# --- reviews ----------------------------------------------------------------------------------


@router.get("/reviews", response_model=Page[schemas.ReviewItemOut], summary="The review queue")
async def list_reviews(
    tenant_id: TenantId,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    state: Annotated[Literal["pending", "claimed", "approved", "rejected"] | None, Query()] = None,
) -> object:
    items, total = await reviews.list_items(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        state=ReviewState(state) if state is not None else None,
        page=page,
    )
    return page_of(items, total, page)


@router.post(
    "/reviews/claim-next",
    response_model=schemas.ReviewItemOut,
    summary="Claim the oldest pending item (204 when the queue is empty)",
    responses={204: {"description": "no pending item"}},
)
async def claim_next_review(
    tenant_id: TenantId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> object:
    item = await reviews.transition(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        request_id=request_id,
        change=reviews.claim_next(tenant_id, principal.id),
    )
    return item if item is not None else Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/reviews/{item_id}", response_model=schemas.ReviewItemOut, summary="One review item")
async def get_review(
    tenant_id: TenantId, item_id: ItemId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await reviews.get_item(session=session, principal=principal, tenant_id=tenant_id, item_id=item_id)


@router.post("/reviews/{item_id}/claim", response_model=schemas.ReviewItemOut, summary="Claim an item")
async def claim_review(
    tenant_id: TenantId,
    item_id: ItemId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> object:
    return await reviews.transition(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        request_id=request_id,
        change=reviews.claim(tenant_id, item_id, principal.id),
    )


@router.post(
    "/reviews/{item_id}/approve", response_model=schemas.ReviewItemOut, summary="Approve a claimed item"
)
async def approve_review(
    tenant_id: TenantId,
    item_id: ItemId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
    body: schemas.ApproveIn | None = None,
) -> object:
    note = body.note if body is not None else None
    return await reviews.transition(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        request_id=request_id,
        change=reviews.approve(tenant_id, item_id, principal.id, note),
    )


@router.post(
    "/reviews/{item_id}/reject",
    response_model=schemas.ReviewItemOut,
    summary="Reject a claimed item (a note is required)",
)
async def reject_review(
    tenant_id: TenantId,
    item_id: ItemId,
    body: schemas.RejectIn,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> object:
    return await reviews.transition(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        request_id=request_id,
        change=reviews.reject(tenant_id, item_id, principal.id, body.note),
    )


@router.post(
    "/reviews/{item_id}/release",
    response_model=schemas.ReviewItemOut,
    summary="Give a claimed item back to the queue",
)
async def release_review(
    tenant_id: TenantId,
    item_id: ItemId,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> object:
    return await reviews.transition(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        request_id=request_id,
        change=reviews.release(tenant_id, item_id, principal.id),
    )


# --- platform packs ---------------------------------------------------------------------------


@platform_router.post(
    "/packs",
    response_model=schemas.PackVersionDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Upload a platform rule-pack version (platform administrators)",
    openapi_extra=_PACK_BODY,
)
async def upload_platform_pack(
    request: Request,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
    activate: Annotated[bool, Query(description="also make it the platform default")] = False,
) -> object:
    return await _upload(
        request,
        response,
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=None,
        activate=activate,
        request_id=request_id,
    )


@platform_router.get("/packs", response_model=Page[schemas.PackVersionOut], summary="Platform pack versions")
async def list_platform_packs(
    session: SessionDep, principal: CurrentPrincipal, page: PageDep, pack_id: PackIdFilter = None
) -> object:
    items, total = await service.list_versions(
        session=session, principal=principal, tenant_id=None, page=page, pack_id=pack_id
    )
    return page_of(items, total, page)


@platform_router.get(
    "/packs/{pack_version_id}", response_model=schemas.PackVersionDetail, summary="A platform pack version"
)
async def get_platform_pack(
    pack_version_id: VersionId, session: SessionDep, principal: CurrentPrincipal
) -> object:
    return await service.get_version(
        session=session, principal=principal, tenant_id=None, version_id=pack_version_id
    )


@platform_router.get(
    "/active-pack", response_model=schemas.ActivePackOut, summary="The platform default pack"
)
async def get_platform_active_pack(session: SessionDep, principal: CurrentPrincipal) -> object:
    return await service.active_pack(session=session, principal=principal, tenant_id=None)


@platform_router.put(
    "/active-pack",
    response_model=schemas.ActivePackOut,
    summary="Set the platform default pack (platform administrators)",
)
async def set_platform_active_pack(
    body: schemas.ActivateIn,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    request_id: RequestIdDep,
) -> object:
    return await service.activate_version(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=None,
        version_id=body.pack_version_id,
        request_id=request_id,
    )
