"""File service: upload (validated for ``purpose=batch``), list, read, download and delete.

The tenant is always the caller's own (its API key's): ``inference:use`` uploads and deletes,
``inference:read`` reads. Another tenant's file is not found.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference.batches.jsonl import parse_requests
from inference.batches.listing import cursor_page
from inference.batches.models import BatchRow, FileRow
from inference.batches.storage import FileStore
from security.crypto.sm3 import sm3_hex
from services.kernel.auth import Principal
from services.kernel.db import new_id
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.tenancy import scoped

UPLOAD_PURPOSES = ("batch", "fine-tune", "user_data")
OUTPUT_PURPOSES = ("batch_output",)
ACTIVE_BATCH_STATES = ("validating", "in_progress", "finalizing", "cancelling")
MAX_FILENAME = 255


async def store_file(
    *,
    session: AsyncSession,
    store: FileStore,
    tenant_id: str,
    principal_id: str,
    filename: str,
    purpose: str,
    content: bytes,
    lines: int = 0,
) -> FileRow:
    """Write ``content`` (sealed when the store encrypts) and add its row to ``session``."""
    file_id = new_id(FileRow.id_prefix)
    data_key = await store.save(
        session, tenant_id=tenant_id, file_id=file_id, content=content, principal_id=principal_id
    )
    row = FileRow(
        id=file_id,
        tenant_id=tenant_id,
        filename=filename,
        purpose=purpose,
        bytes=len(content),
        sm3=sm3_hex(content),
        lines=lines,
        data_key=data_key,
        created_by=principal_id,
    )
    session.add(row)
    return row


async def create_file(
    *,
    session: AsyncSession,
    principal: Principal,
    store: FileStore,
    filename: str | None,
    purpose: str,
    content: bytes,
) -> FileRow:
    """Store an upload; ``purpose=batch`` content must be valid batch JSONL (400 naming the line)."""
    tenant_id = principal.tenant_id
    principal.require("inference:use", tenant_id=tenant_id)
    if purpose not in UPLOAD_PURPOSES:
        raise BadRequest(
            f"purpose must be one of {', '.join(UPLOAD_PURPOSES)}, got {purpose!r}",
            detail={"param": "purpose"},
        )
    name = (filename or "upload").replace("\x00", "")[:MAX_FILENAME] or "upload"
    lines = len(parse_requests(content)) if purpose == "batch" else 0
    return await store_file(
        session=session,
        store=store,
        tenant_id=tenant_id,
        principal_id=principal.id,
        filename=name,
        purpose=purpose,
        content=content,
        lines=lines,
    )


async def file_row(session: AsyncSession, *, tenant_id: str, file_id: str) -> FileRow:
    """The file ``file_id`` of ``tenant_id`` (no permission check: for the service's own use)."""
    row = (
        await session.execute(scoped(FileRow, tenant_id).where(FileRow.id == file_id))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound.of("file", file_id)
    return row


async def require_file(session: AsyncSession, principal: Principal, file_id: str, permission: str) -> FileRow:
    """The file of the caller's tenant after checking ``permission`` there."""
    principal.require(permission, tenant_id=principal.tenant_id)
    return await file_row(session, tenant_id=principal.tenant_id, file_id=file_id)


async def get_file(*, session: AsyncSession, principal: Principal, file_id: str) -> FileRow:
    """One file of the caller's tenant."""
    return await require_file(session, principal, file_id, "inference:read")


async def list_files(
    *, session: AsyncSession, principal: Principal, purpose: str | None, after: str | None, limit: int
) -> tuple[list[FileRow], bool]:
    """The tenant's files, newest first, optionally of one purpose; (page, has_more)."""
    principal.require("inference:read", tenant_id=principal.tenant_id)
    query = scoped(FileRow, principal.tenant_id)
    if purpose is not None:
        query = query.where(FileRow.purpose == purpose)
    return await cursor_page(session, query, FileRow, after=after, limit=limit)


async def file_content(
    *, session: AsyncSession, principal: Principal, store: FileStore, file_id: str
) -> tuple[FileRow, bytes]:
    """A file and its clear content."""
    row = await require_file(session, principal, file_id, "inference:read")
    content = await store.load(
        session, tenant_id=row.tenant_id, file_id=row.id, data_key=row.data_key, principal_id=principal.id
    )
    return row, content


async def delete_file(*, session: AsyncSession, principal: Principal, store: FileStore, file_id: str) -> None:
    """Delete a file and its content; 409 while an unfinished batch reads it."""
    row = await require_file(session, principal, file_id, "inference:use")
    busy = (
        await session.execute(
            select(BatchRow.id).where(
                BatchRow.input_file_id == row.id, BatchRow.status.in_(ACTIVE_BATCH_STATES)
            )
        )
    ).first()
    if busy is not None:
        raise Conflict(
            f"file '{file_id}' is the input of batch '{busy[0]}', which has not finished",
            detail={"param": "file_id"},
        )
    await session.delete(row)
    await session.flush()
    store.remove(row.tenant_id, row.id)
