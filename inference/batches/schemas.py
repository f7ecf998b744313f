"""Request and response bodies in the OpenAI shapes (``file``, ``batch``, ``list``).

Times are Unix epoch seconds as in the OpenAI API. STIC adds a few fields the OpenAI SDK
ignores: ``sm3`` and ``encrypted`` on files, ``project_id`` and ``job_id`` on batches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from inference.batches.models import BatchRow, FileRow


def epoch(value: datetime | None) -> int | None:
    """Unix seconds of a timestamp (None stays None)."""
    return int(value.timestamp()) if value is not None else None


class FileObject(BaseModel):
    """The OpenAI ``file`` object."""

    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: str = "processed"
    status_details: str | None = None
    expires_at: int | None = None
    sm3: str = Field(description="SM3 digest of the content (hex)")
    encrypted: bool = Field(description="content sealed at rest with a KMS data key (SM4-GCM)")

    @classmethod
    def of(cls, row: FileRow) -> FileObject:
        """The API view of a stored file."""
        return cls(
            id=row.id,
            bytes=row.bytes,
            created_at=epoch(row.created_at) or 0,
            filename=row.filename,
            purpose=row.purpose,
            sm3=row.sm3,
            encrypted=row.data_key is not None,
        )


class FileDeleted(BaseModel):
    """Answer to ``DELETE /v1/files/{id}``."""

    id: str
    object: Literal["file"] = "file"
    deleted: bool = True


class BatchCreate(BaseModel):
    """``POST /v1/batches``; values are checked by the service (400 naming the field)."""

    input_file_id: str = Field(max_length=64)
    endpoint: str = Field(max_length=64)
    completion_window: str = Field(default="24h", max_length=16)
    metadata: dict[str, str] | None = Field(
        default=None, description="up to 16 pairs; 'project_id' picks the project the job runs in"
    )


class RequestCounts(BaseModel):
    """Lines of the batch: all of them, those answered with 2xx, those failed."""

    total: int
    completed: int
    failed: int


class BatchError(BaseModel):
    """One entry of ``errors.data``."""

    code: str
    message: str
    param: str | None = None
    line: int | None = None


class BatchErrors(BaseModel):
    """``errors`` of a batch."""

    object: Literal["list"] = "list"
    data: list[BatchError]


class BatchObject(BaseModel):
    """The OpenAI ``batch`` object."""

    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    errors: BatchErrors | None = None
    input_file_id: str
    completion_window: str
    status: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: RequestCounts
    metadata: dict[str, str] | None = None
    project_id: str
    job_id: str | None = None

    @classmethod
    def of(cls, row: BatchRow) -> BatchObject:
        """The API view of a batch."""
        return cls(
            id=row.id,
            endpoint=row.endpoint,
            errors=BatchErrors(data=[BatchError(**e) for e in row.errors]) if row.errors else None,
            input_file_id=row.input_file_id,
            completion_window=row.completion_window,
            status=row.status,
            output_file_id=row.output_file_id,
            error_file_id=row.error_file_id,
            created_at=epoch(row.created_at) or 0,
            in_progress_at=epoch(row.in_progress_at),
            expires_at=epoch(row.expires_at),
            finalizing_at=epoch(row.finalizing_at),
            completed_at=epoch(row.completed_at),
            failed_at=epoch(row.failed_at),
            expired_at=epoch(row.expired_at),
            cancelling_at=epoch(row.cancelling_at),
            cancelled_at=epoch(row.cancelled_at),
            request_counts=RequestCounts(total=row.total, completed=row.completed, failed=row.failed),
            metadata=row.batch_metadata,
            project_id=row.project_id,
            job_id=row.job_id,
        )


class ListPage(BaseModel):
    """An OpenAI ``list`` with cursor fields."""

    object: Literal["list"] = "list"
    data: list[Any]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class ResultIn(BaseModel):
    """One line's result reported by the worker: the upstream answer, or an error."""

    custom_id: str = Field(min_length=1, max_length=512, pattern=r"^[^\x00]+$")
    line: int = Field(ge=1)
    status_code: int | None = Field(default=None, ge=100, le=599)
    request_id: str | None = Field(default=None, max_length=128)
    body: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class ResultsIn(BaseModel):
    """``POST /v1/batches/{id}/results``."""

    results: list[ResultIn] = Field(min_length=1, max_length=1000)


class ResultsRecorded(BaseModel):
    """How many results were new, how many were already recorded, and the batch's status now."""

    recorded: int
    duplicates: int
    status: str
    request_counts: RequestCounts
