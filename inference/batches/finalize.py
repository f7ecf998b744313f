"""Finalisation: write the output and error files of a batch once, from its recorded results.

Output lines are ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
"error": null}`` in input order; failed lines go to the error file with ``error`` set (and
``response`` when the upstream answered). An expired batch adds a ``batch_expired`` error for
every line that never ran. Files, counts, the final status and the runner's retirement are
committed in one transaction, so a crash part-way leaves the batch to be finalised again.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference.batches import runner
from inference.batches.batches import read_requests
from inference.batches.files import file_row, store_file
from inference.batches.models import BatchResultRow, BatchRow
from inference.batches.options import BatchOptions
from inference.batches.storage import FileStore
from services.kernel.auth import Principal
from services.kernel.db import utcnow

EXPIRED_ERROR = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}
STATUS_TIME = {
    "completed": "completed_at",
    "failed": "failed_at",
    "expired": "expired_at",
    "cancelled": "cancelled_at",
}


def _line(row: BatchResultRow) -> dict[str, Any]:
    response = None
    if row.status_code is not None:
        response = {"status_code": row.status_code, "request_id": row.request_id or "", "body": row.body}
    return {
        "id": f"batch_req_{row.id.split('_', 1)[1]}",
        "custom_id": row.custom_id,
        "response": response,
        "error": row.error,
    }


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in lines)


async def finalize(
    session: AsyncSession,
    *,
    batch: BatchRow,
    status: str,
    store: FileStore,
    system: Principal,
    options: BatchOptions,
    errors: list[dict[str, Any]] | None = None,
) -> None:
    """Produce the batch's files, move it to ``status`` (completed, failed, expired, cancelled), commit.

    If anything fails, the content written for the new files is removed and nothing is committed.
    """
    query = select(BatchResultRow).where(BatchResultRow.batch_id == batch.id).order_by(BatchResultRow.line)
    results = list((await session.execute(query)).scalars())
    good = [_line(r) for r in results if r.ok]
    bad = [_line(r) for r in results if not r.ok]
    if status == "expired":
        source = await file_row(session, tenant_id=batch.tenant_id, file_id=batch.input_file_id)
        requests = await read_requests(
            session,
            store,
            tenant_id=batch.tenant_id,
            file_id=source.id,
            principal_id=system.id,
            data_key=source.data_key,
        )
        done = {r.custom_id for r in results}
        bad += [
            {
                "id": f"batch_req_expired_{r.line}",
                "custom_id": r.custom_id,
                "response": None,
                "error": EXPIRED_ERROR,
            }
            for r in requests
            if r.custom_id not in done
        ]
    # KMS calls (audited in their own transactions) come before this session writes anything
    written = []
    try:
        for lines, suffix in ((good, "output"), (bad, "error")):
            if not lines:
                continue
            row = await store_file(
                session=session,
                store=store,
                tenant_id=batch.tenant_id,
                principal_id=system.id,
                filename=f"{batch.id}_{suffix}.jsonl",
                purpose="batch_output",
                content=_jsonl(lines),
            )
            written.append(row.id)
            if suffix == "output":
                batch.output_file_id = row.id
            else:
                batch.error_file_id = row.id
        now = utcnow()
        batch.completed = len(good)
        batch.failed = len(bad)
        batch.status = status
        batch.finalizing_at = batch.finalizing_at or now
        setattr(batch, STATUS_TIME[status], now)
        if errors:
            batch.errors = [*(batch.errors or []), *errors]
        await runner.retire(session, batch=batch, system=system, options=options)
        await session.commit()
    except BaseException:
        for file_id in written:
            store.remove(batch.tenant_id, file_id)
        raise
