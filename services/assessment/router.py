"""HTTP routes of the assessment service. No logic here."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.assessment import schemas, service
from services.kernel.auth import extract_token
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.errors import Conflict
from services.kernel.pagination import Page, PageDep, page_of
from services.kernel.types import ResourceIdPattern

router = APIRouter(prefix="/v1/assessment", tags=["assessment"])

RunId = Annotated[str, Path(pattern=ResourceIdPattern, description="Run id (asr_…)")]


def _out(row: object, *, with_report: bool) -> schemas.RunOut:
    out = schemas.RunOut.model_validate(row)
    if with_report:
        out.report = getattr(row, "report_json", None)
    return out


@router.get("/catalogue", summary="Every clause of sections 5–6 and every 8.2.3 performance row")
async def catalogue(principal: CurrentPrincipal) -> Response:
    return Response(service.catalogue_document(), media_type="application/json")


@router.post("/runs", response_model=schemas.RunOut, status_code=status.HTTP_202_ACCEPTED)
async def start_run(
    body: schemas.RunCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> object:
    token = extract_token(request.headers.get("authorization"), request.headers.get("x-api-key"))
    row = await service.start_run(
        session=session,
        principal=principal,
        token=token,
        app=request.app,
        target_url=str(body.target_url) if body.target_url else None,
    )
    return _out(row, with_report=False)


@router.get("/runs", response_model=Page[schemas.RunOut])
async def list_runs(session: SessionDep, principal: CurrentPrincipal, page: PageDep) -> object:
    items, total = await service.list_runs(session=session, principal=principal, page=page)
    return page_of([_out(row, with_report=False) for row in items], total, page)


@router.get(
    "/runs/{run_id}",
    response_model=schemas.RunOut,
    responses={200: {"content": {"text/html": {}, "application/json": {}}}},
    summary="A run; format=html or oscal returns the finished report in that format",
)
async def get_run(
    run_id: RunId,
    session: SessionDep,
    principal: CurrentPrincipal,
    format: Annotated[Literal["json", "html", "oscal"], Query()] = "json",
) -> object:
    row = await service.get_run(session=session, principal=principal, run_id=run_id)
    if format == "json":
        return _out(row, with_report=True)
    if row.status != "finished":
        raise Conflict(f"run '{run_id}' is {row.status}; the {format} report exists once it has finished")
    if format == "html":
        return HTMLResponse(row.report_html or "")
    return JSONResponse(row.report_oscal)
