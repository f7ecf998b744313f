"""HTTP routes: ``/v1/files`` and ``/v1/batches`` in the OpenAI shape, plus the worker's two routes.

``GET /v1/batches/{id}/pending`` and ``POST /v1/batches/{id}/results`` are for the batch's own
runner key only (see :mod:`inference.batches.runner`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from inference.batches import batches as batch_service
from inference.batches import files as file_service
from inference.batches.controller import BatchController
from inference.batches.errors import OpenAIErrorRoute
from inference.batches.form import parse_form
from inference.batches.schemas import (
    BatchCreate,
    BatchObject,
    FileDeleted,
    FileObject,
    ListPage,
    RequestCounts,
    ResultsIn,
    ResultsRecorded,
)
from inference.batches.storage import FileStore
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.errors import BadRequest

router = APIRouter(prefix="/v1", tags=["batches"], route_class=OpenAIErrorRoute)

Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
After = Annotated[str | None, Query(max_length=64, description="id of the last item of the previous page")]


def _store(request: Request) -> FileStore:
    store: FileStore = request.app.state.batch_files
    return store


def _wake(request: Request) -> None:
    controller: BatchController | None = getattr(request.app.state, "batch_controller", None)
    if controller is not None:
        controller.wake()


def _page(items: list[dict[str, object]], has_more: bool) -> ListPage:
    first = str(items[0]["id"]) if items else None
    last = str(items[-1]["id"]) if items else None
    return ListPage(data=items, first_id=first, last_id=last, has_more=has_more)


UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "purpose"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "purpose": {"type": "string", "enum": list(file_service.UPLOAD_PURPOSES)},
                    },
                }
            }
        },
    }
}


@router.post("/files", response_model=FileObject, summary="Upload a file", openapi_extra=UPLOAD_SCHEMA)
async def upload_file(request: Request, session: SessionDep, principal: CurrentPrincipal) -> FileObject:
    """Multipart ``file`` + ``purpose``; ``batch`` files are validated line by line (400 naming the line)."""
    principal.require("inference:use", tenant_id=principal.tenant_id)
    form = parse_form(request.headers.get("content-type"), await request.body())
    if "file" not in form:
        raise BadRequest("the form has no 'file' field", detail={"param": "file"})
    if "purpose" not in form:
        raise BadRequest("the form has no 'purpose' field", detail={"param": "purpose"})
    row = await file_service.create_file(
        session=session,
        principal=principal,
        store=_store(request),
        filename=form["file"].filename,
        purpose=form["purpose"].value.decode("utf-8", errors="replace").strip(),
        content=form["file"].value,
    )
    await session.flush()
    return FileObject.of(row)


@router.get("/files", response_model=ListPage, summary="List files")
async def list_files(
    session: SessionDep,
    principal: CurrentPrincipal,
    purpose: Annotated[str | None, Query(max_length=32)] = None,
    after: After = None,
    limit: Limit = 100,
) -> ListPage:
    """The tenant's files, newest first."""
    rows, more = await file_service.list_files(
        session=session, principal=principal, purpose=purpose, after=after, limit=limit
    )
    return _page([FileObject.of(r).model_dump() for r in rows], more)


@router.get("/files/{file_id}", response_model=FileObject, summary="Get a file")
async def get_file(file_id: str, session: SessionDep, principal: CurrentPrincipal) -> FileObject:
    """A file's metadata."""
    return FileObject.of(await file_service.get_file(session=session, principal=principal, file_id=file_id))


@router.get("/files/{file_id}/content", summary="Download a file's content")
async def file_content(
    file_id: str, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """The clear content (decrypted through the KMS when sealed)."""
    row, content = await file_service.file_content(
        session=session, principal=principal, store=_store(request), file_id=file_id
    )
    media = "application/jsonl" if row.filename.endswith(".jsonl") else "application/octet-stream"
    return Response(content, media_type=media, headers={"x-content-sm3": row.sm3})


@router.delete("/files/{file_id}", response_model=FileDeleted, summary="Delete a file")
async def delete_file(
    file_id: str, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> FileDeleted:
    """Delete a file (409 while an unfinished batch reads it)."""
    await file_service.delete_file(
        session=session, principal=principal, store=_store(request), file_id=file_id
    )
    return FileDeleted(id=file_id)


@router.post("/batches", response_model=BatchObject, summary="Create a batch")
async def create_batch(
    body: BatchCreate, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> BatchObject:
    """Validate and accept a batch (status ``validating``); the scheduler runs it."""
    row = await batch_service.create_batch(
        session=session, principal=principal, store=_store(request), batch_in=body
    )
    await session.commit()
    _wake(request)
    return BatchObject.of(row)


@router.get("/batches", response_model=ListPage, summary="List batches")
async def list_batches(
    session: SessionDep, principal: CurrentPrincipal, after: After = None, limit: Limit = 20
) -> ListPage:
    """The tenant's batches, newest first."""
    rows, more = await batch_service.list_batches(
        session=session, principal=principal, after=after, limit=limit
    )
    return _page([BatchObject.of(r).model_dump() for r in rows], more)


@router.get("/batches/{batch_id}", response_model=BatchObject, summary="Get a batch")
async def get_batch(batch_id: str, session: SessionDep, principal: CurrentPrincipal) -> BatchObject:
    """A batch with its status, counts and files."""
    return BatchObject.of(
        await batch_service.get_batch(session=session, principal=principal, batch_id=batch_id)
    )


@router.post("/batches/{batch_id}/cancel", response_model=BatchObject, summary="Cancel a batch")
async def cancel_batch(
    batch_id: str, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> BatchObject:
    """Stop the batch; it is finalised with the lines already done (``cancelling`` → ``cancelled``)."""
    row = await batch_service.cancel_batch(session=session, principal=principal, batch_id=batch_id)
    await session.commit()
    _wake(request)
    return BatchObject.of(row)


@router.get("/batches/{batch_id}/pending", summary="Lines not yet done (the batch's runner only)")
async def pending(
    batch_id: str, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """JSON Lines of ``{"line", "custom_id", "url", "body"}`` without a recorded result."""
    batch, lines = await batch_service.pending_requests(
        session=session, principal=principal, store=_store(request), batch_id=batch_id
    )

    def body() -> Iterator[bytes]:
        for line in lines:
            item = {"line": line.line, "custom_id": line.custom_id, "url": line.url, "body": line.body}
            yield json.dumps(item).encode() + b"\n"

    return StreamingResponse(body(), media_type="application/jsonl", headers={"x-batch-status": batch.status})


@router.post(
    "/batches/{batch_id}/results", response_model=ResultsRecorded, summary="Report results (runner only)"
)
async def report_results(
    batch_id: str, body: ResultsIn, session: SessionDep, principal: CurrentPrincipal
) -> ResultsRecorded:
    """Record each line's result once (duplicates are counted, not stored)."""
    batch, recorded, duplicates = await batch_service.record_results(
        session=session, principal=principal, batch_id=batch_id, results=body.results
    )
    counts = RequestCounts(total=batch.total, completed=batch.completed, failed=batch.failed)
    return ResultsRecorded(
        recorded=recorded, duplicates=duplicates, status=batch.status, request_counts=counts
    )
