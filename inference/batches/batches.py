"""Batch service: create, read, list and cancel batches; the worker's pending list and reports.

A batch is created ``validating``; the controller turns it into a scheduler job
(:mod:`inference.batches.runner`) and finalises it. It runs in the project named by
``metadata["project_id"]`` or, without one, the tenant's oldest project. Creating needs
``inference:use`` in that project, reading ``inference:read`` in the caller's tenant.
Only the batch's own runner key may read its pending lines and report results.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inference.batches.files import file_row, require_file
from inference.batches.jsonl import ENDPOINTS, RequestLine, parse_requests
from inference.batches.listing import cursor_page
from inference.batches.models import BatchResultRow, BatchRow
from inference.batches.schemas import BatchCreate, ResultIn
from inference.batches.storage import FileStore
from services.kernel.auth import Principal
from services.kernel.db import utcnow
from services.kernel.errors import BadRequest, Conflict, Forbidden, NotFound
from services.kernel.identity import Project
from services.kernel.tenancy import scoped

COMPLETION_WINDOWS = {"24h": timedelta(hours=24)}
MAX_METADATA_PAIRS, MAX_METADATA_KEY, MAX_METADATA_VALUE = 16, 64, 512
TERMINAL = ("completed", "failed", "expired", "cancelled")
REPORTABLE = ("in_progress", "cancelling")


def _check_metadata(metadata: dict[str, str] | None) -> None:
    if metadata is None:
        return
    if len(metadata) > MAX_METADATA_PAIRS:
        raise BadRequest(f"metadata holds at most {MAX_METADATA_PAIRS} pairs", detail={"param": "metadata"})
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE:
            raise BadRequest(
                f"metadata keys are at most {MAX_METADATA_KEY} and values {MAX_METADATA_VALUE} characters",
                detail={"param": f"metadata.{key[:MAX_METADATA_KEY]}"},
            )


async def _project(session: AsyncSession, tenant_id: str, metadata: dict[str, str] | None) -> Project:
    wanted = (metadata or {}).get("project_id")
    query = scoped(Project, tenant_id)
    if wanted is not None:
        row = (await session.execute(query.where(Project.id == wanted))).scalar_one_or_none()
        if row is None:
            raise BadRequest(f"metadata.project_id: unknown project '{wanted}'", detail={"param": "metadata"})
        return row
    row = (
        await session.execute(query.order_by(Project.created_at, Project.id).limit(1))
    ).scalar_one_or_none()
    if row is None:
        raise BadRequest("the tenant has no project to run the batch in", detail={"param": "metadata"})
    return row


async def read_requests(
    session: AsyncSession,
    store: FileStore,
    *,
    tenant_id: str,
    file_id: str,
    principal_id: str,
    data_key: str | None,
) -> list[RequestLine]:
    """The request lines of a stored input file."""
    content = await store.load(
        session, tenant_id=tenant_id, file_id=file_id, data_key=data_key, principal_id=principal_id
    )
    return parse_requests(content)


async def create_batch(
    *, session: AsyncSession, principal: Principal, store: FileStore, batch_in: BatchCreate
) -> BatchRow:
    """Validate the request and the input file; store the batch as ``validating``."""
    tenant_id = principal.tenant_id
    principal.require(
        "inference:use", tenant_id=tenant_id, project_id=(batch_in.metadata or {}).get("project_id")
    )
    if batch_in.endpoint not in ENDPOINTS:
        raise BadRequest(
            f"endpoint must be one of {', '.join(ENDPOINTS)}, got {batch_in.endpoint!r}",
            detail={"param": "endpoint"},
        )
    window = COMPLETION_WINDOWS.get(batch_in.completion_window)
    if window is None:
        raise BadRequest(
            f"completion_window must be one of {', '.join(COMPLETION_WINDOWS)}",
            detail={"param": "completion_window"},
        )
    _check_metadata(batch_in.metadata)
    try:
        source = await require_file(session, principal, batch_in.input_file_id, "inference:read")
    except NotFound as exc:
        raise NotFound(exc.message, detail={"param": "input_file_id"}) from exc
    project = await _project(session, tenant_id, batch_in.metadata)
    principal.require("inference:use", tenant_id=tenant_id, project_id=project.id)
    if source.purpose != "batch":
        raise BadRequest(
            f"input_file_id: file '{source.id}' has purpose '{source.purpose}', not 'batch'",
            detail={"param": "input_file_id"},
        )
    requests = await read_requests(
        session,
        store,
        tenant_id=tenant_id,
        file_id=source.id,
        principal_id=principal.id,
        data_key=source.data_key,
    )
    for request in requests:
        if request.url != batch_in.endpoint:
            raise BadRequest(
                f"line {request.line}: url {request.url} differs from the batch endpoint {batch_in.endpoint}",
                detail={"param": "endpoint", "line": request.line},
            )
    now = utcnow()
    batch = BatchRow(
        tenant_id=tenant_id,
        project_id=project.id,
        endpoint=batch_in.endpoint,
        input_file_id=source.id,
        completion_window=batch_in.completion_window,
        status="validating",
        batch_metadata=batch_in.metadata,
        total=len(requests),
        created_by=principal.id,
        created_at=now,
        expires_at=now + window,
    )
    session.add(batch)
    await session.flush()
    return batch


async def _batch(session: AsyncSession, principal: Principal, batch_id: str, permission: str) -> BatchRow:
    principal.require(permission, tenant_id=principal.tenant_id)
    row = (
        await session.execute(scoped(BatchRow, principal.tenant_id).where(BatchRow.id == batch_id))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound.of("batch", batch_id)
    return row


async def get_batch(*, session: AsyncSession, principal: Principal, batch_id: str) -> BatchRow:
    """One batch of the caller's tenant."""
    return await _batch(session, principal, batch_id, "inference:read")


async def list_batches(
    *, session: AsyncSession, principal: Principal, after: str | None, limit: int
) -> tuple[list[BatchRow], bool]:
    """The tenant's batches, newest first; (page, has_more)."""
    principal.require("inference:read", tenant_id=principal.tenant_id)
    return await cursor_page(
        session, scoped(BatchRow, principal.tenant_id), BatchRow, after=after, limit=limit
    )


async def cancel_batch(*, session: AsyncSession, principal: Principal, batch_id: str) -> BatchRow:
    """Ask for cancellation: ``cancelling`` until the controller has stopped the job and finalised."""
    batch = await _batch(session, principal, batch_id, "inference:use")
    principal.require("inference:use", tenant_id=batch.tenant_id, project_id=batch.project_id)
    if batch.status in ("cancelling", "cancelled"):
        return batch
    if batch.status in TERMINAL:
        raise Conflict(f"cannot cancel a batch that is {batch.status}", detail={"param": "batch_id"})
    batch.status = "cancelling"
    batch.cancelling_at = utcnow()
    await session.flush()
    return batch


async def _runner_batch(session: AsyncSession, principal: Principal, batch_id: str) -> BatchRow:
    """The batch, for its own runner key only (others of the tenant: 403; other tenants: 404)."""
    row = (
        await session.execute(scoped(BatchRow, principal.tenant_id).where(BatchRow.id == batch_id))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound.of("batch", batch_id)
    if row.runner_key_id is None or principal.key_id != row.runner_key_id:
        raise Forbidden("only the batch's runner key may do this", detail={"param": "batch_id"})
    return row


async def done_ids(session: AsyncSession, batch_id: str) -> set[str]:
    """Custom ids whose result is recorded."""
    query = select(BatchResultRow.custom_id).where(BatchResultRow.batch_id == batch_id)
    return set((await session.execute(query)).scalars())


async def pending_requests(
    *, session: AsyncSession, principal: Principal, store: FileStore, batch_id: str
) -> tuple[BatchRow, list[RequestLine]]:
    """The batch and its lines without a recorded result (empty unless in progress)."""
    batch = await _runner_batch(session, principal, batch_id)
    if batch.status != "in_progress":
        return batch, []
    source = await file_row(session, tenant_id=batch.tenant_id, file_id=batch.input_file_id)
    requests = await read_requests(
        session,
        store,
        tenant_id=batch.tenant_id,
        file_id=source.id,
        principal_id=principal.id,
        data_key=source.data_key,
    )
    done = await done_ids(session, batch.id)
    return batch, [r for r in requests if r.custom_id not in done]


def _succeeded(result: ResultIn) -> bool:
    return result.error is None and result.status_code is not None and result.status_code < 400


async def record_results(
    *, session: AsyncSession, principal: Principal, batch_id: str, results: list[ResultIn]
) -> tuple[BatchRow, int, int]:
    """Record each new result once; (batch, recorded, duplicates). Nothing is recorded once final."""
    batch = await _runner_batch(session, principal, batch_id)
    if batch.status not in REPORTABLE:
        return batch, 0, 0
    unique: dict[str, ResultIn] = {}
    for result in results:
        if result.line > batch.total:
            raise BadRequest(
                f"line {result.line} is beyond the batch's {batch.total} lines", detail={"param": "results"}
            )
        unique.setdefault(result.custom_id, result)
    done = await done_ids(session, batch.id)
    fresh = [r for r in unique.values() if r.custom_id not in done]
    for result in fresh:
        session.add(
            BatchResultRow(
                tenant_id=batch.tenant_id,
                batch_id=batch.id,
                custom_id=result.custom_id,
                line=result.line,
                ok=_succeeded(result),
                status_code=result.status_code,
                request_id=result.request_id,
                body=result.body,
                error=_error_of(result),
            )
        )
    try:
        await session.flush()
    except IntegrityError as exc:  # another attempt of the worker reported the same line meanwhile
        raise Conflict(
            "a result was reported concurrently; report again", detail={"param": "results"}
        ) from exc
    counts = dict(
        (
            await session.execute(
                select(BatchResultRow.ok, func.count())
                .where(BatchResultRow.batch_id == batch.id)
                .group_by(BatchResultRow.ok)
            )
        ).all()
    )
    batch.completed, batch.failed = int(counts.get(True, 0)), int(counts.get(False, 0))
    await session.flush()
    return batch, len(fresh), len(results) - len(fresh)


def _error_of(result: ResultIn) -> dict[str, Any] | None:
    if result.error is not None:
        return result.error
    if result.status_code is not None and result.status_code >= 400:
        message = ""
        if isinstance(result.body, dict) and isinstance(result.body.get("error"), dict):
            message = str(result.body["error"].get("message", ""))
        return {
            "code": f"http_{result.status_code}",
            "message": message or f"upstream answered {result.status_code}",
        }
    if result.status_code is None:
        return {"code": "no_response", "message": "the request got no response"}
    return None
