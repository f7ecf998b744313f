"""Finding stored request logs: filters shared by the list, the export and the statistics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference.gateway.requestlog.models import InferenceRequestLog as Log
from services.kernel.pagination import PageParams, paginate

Status = Literal["ok", "failed"]


def window(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    """``since <= created_at < until``; times are converted to UTC first (SQLite stores UTC wall time)."""
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(Log.created_at >= since.astimezone(UTC))
    if until is not None:
        conditions.append(Log.created_at < until.astimezone(UTC))
    return conditions


def failed_clause() -> ColumnElement[bool]:
    """SQL for a failed request: an error status or an error after a stream started."""
    return or_(Log.status_code >= 400, Log.error_type.is_not(None))


def ok_clause() -> ColumnElement[bool]:
    """SQL for a successful request."""
    return and_(Log.status_code < 400, Log.error_type.is_(None))


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which of a tenant's logs: every field that is not None must match."""

    tenant_id: str
    model: str | None = None
    service_id: str | None = None
    route_id: str | None = None
    variant: str | None = None
    operation: str | None = None
    status: Status | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[ColumnElement[bool]]:
        """The SQL conditions."""
        conditions: list[ColumnElement[bool]] = [Log.tenant_id == self.tenant_id]
        for column, value in (
            (Log.model, self.model),
            (Log.service_id, self.service_id),
            (Log.route_id, self.route_id),
            (Log.variant, self.variant),
            (Log.operation, self.operation),
        ):
            if value is not None:
                conditions.append(column == value)
        if self.status == "ok":
            conditions.append(ok_clause())
        elif self.status == "failed":
            conditions.append(failed_clause())
        conditions.extend(window(self.since, self.until))
        return conditions

    def select(self) -> Select[Log]:
        """The rows, newest first."""
        return select(Log).where(*self.where()).order_by(Log.created_at.desc(), Log.id.desc())


async def list_logs(session: AsyncSession, log_filter: LogFilter, page: PageParams) -> tuple[list[Log], int]:
    """One page of matching logs (newest first) and the total."""
    return await paginate(session, log_filter.select(), page)


async def get_log(session: AsyncSession, *, tenant_id: str, log_id: str) -> Log | None:
    """One log of the tenant, or None."""
    query = select(Log).where(Log.tenant_id == tenant_id, Log.id == log_id)
    return (await session.execute(query)).scalar_one_or_none()


async def iter_logs(
    sessionmaker: async_sessionmaker[AsyncSession],
    log_filter: LogFilter,
    *,
    limit: int,
    operations: tuple[str, ...] | None = None,
    chunk: int = 500,
) -> AsyncIterator[Log]:
    """Matching logs oldest first, at most ``limit``, read in chunks (keyset on time and id).

    Each chunk uses a short session of its own, so a slow consumer holds no transaction open.
    """
    after: tuple[datetime, str] | None = None
    sent = 0
    while sent < limit:
        conditions: list[Any] = log_filter.where()
        if operations is not None:
            conditions.append(Log.operation.in_(operations))
        if after is not None:
            at, last_id = after
            conditions.append(or_(Log.created_at > at, and_(Log.created_at == at, Log.id > last_id)))
        query = (
            select(Log).where(*conditions).order_by(Log.created_at, Log.id).limit(min(chunk, limit - sent))
        )
        async with sessionmaker() as session:
            rows = list((await session.execute(query)).scalars())
        if not rows:
            return
        for row in rows:
            yield row
        sent += len(rows)
        after = (rows[-1].created_at, rows[-1].id)
