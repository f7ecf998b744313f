"""SQLAlchemy implementation of the review library's :class:`ReviewRepository` protocol.

The repository works inside the caller's session and never commits: the service owns the
unit of work. ``replace`` is a compare-and-set (``UPDATE ... WHERE id = :id AND version =
:expected``), so two reviewers acting on one item at once cannot both win, on SQLite and on
PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from security.safety.review import (
    ConcurrentUpdateError,
    ReviewEvent,
    ReviewItem,
    ReviewNotFoundError,
    ReviewState,
)
from services.safety.models import SafetyReviewItem


def _event_row(event: ReviewEvent) -> dict[str, Any]:
    return {
        "action": event.action,
        "actor": event.actor,
        "at": event.at.isoformat(),
        "from_state": event.from_state.value if event.from_state is not None else None,
        "to_state": event.to_state.value,
        "note": event.note,
    }


def _event(row: dict[str, Any]) -> ReviewEvent:
    return ReviewEvent(
        action=row["action"],
        actor=row["actor"],
        at=datetime.fromisoformat(row["at"]),
        from_state=ReviewState(row["from_state"]) if row["from_state"] is not None else None,
        to_state=ReviewState(row["to_state"]),
        note=row.get("note"),
    )


def _columns(item: ReviewItem) -> dict[str, Any]:
    return {
        "tenant_id": item.tenant_id,
        "pack_id": item.pack_id,
        "pack_version": item.pack_version,
        "direction": item.direction,
        "categories": list(item.categories),
        "excerpt": item.excerpt,
        "text_sm3": item.text_sm3,
        "state": item.state.value,
        "created_at": item.created_at,
        "claimed_by": item.claimed_by,
        "claimed_at": item.claimed_at,
        "decided_by": item.decided_by,
        "decided_at": item.decided_at,
        "note": item.note,
        "version": item.version,
        "history": [_event_row(event) for event in item.history],
    }


def to_item(row: SafetyReviewItem) -> ReviewItem:
    """The library's immutable item for a stored row."""
    return ReviewItem(
        id=row.id,
        tenant_id=row.tenant_id,
        pack_id=row.pack_id,
        pack_version=row.pack_version,
        direction=row.direction,
        categories=tuple(row.categories),
        excerpt=row.excerpt,
        text_sm3=row.text_sm3,
        state=ReviewState(row.state),
        created_at=row.created_at,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.note,
        version=row.version,
        history=tuple(_event(event) for event in row.history),
    )


Items = list[ReviewItem]


def _tenant_is(tenant_id: str | None) -> ColumnElement[bool]:
    column = SafetyReviewItem.tenant_id
    return column.is_(None) if tenant_id is None else column == tenant_id


class SqlReviewRepository:
    """:class:`~security.safety.review.ReviewRepository` over ``safety_review_items``."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, item: ReviewItem) -> None:
        """Store a new item; raises ``ValueError`` if its id exists."""
        if await self._session.get(SafetyReviewItem, item.id) is not None:
            raise ValueError(f"review item {item.id} already exists")
        self._session.add(SafetyReviewItem(id=item.id, **_columns(item)))
        try:
            await self._session.flush()
        except IntegrityError:  # inserted by someone else since the check: this transaction is void
            raise ValueError(f"review item {item.id} already exists") from None

    async def get(self, *, tenant_id: str | None, item_id: str) -> ReviewItem:
        """The item; raises :class:`ReviewNotFoundError` (also for another tenant's item)."""
        row = (
            await self._session.execute(
                select(SafetyReviewItem)
                .where(SafetyReviewItem.id == item_id, _tenant_is(tenant_id))
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if row is None:
            raise ReviewNotFoundError(f"review item {item_id} not found")
        return to_item(row)

    def _query(self, tenant_id: str | None, state: ReviewState | None) -> Select[SafetyReviewItem]:
        query = select(SafetyReviewItem).where(_tenant_is(tenant_id))
        if state is not None:
            query = query.where(SafetyReviewItem.state == state.value)
        return query.order_by(SafetyReviewItem.created_at, SafetyReviewItem.id)

    async def list(
        self, *, tenant_id: str | None, state: ReviewState | None = None, limit: int = 100
    ) -> Items:
        """Items of the tenant, optionally in one state, oldest first."""
        rows = (await self._session.execute(self._query(tenant_id, state).limit(limit))).scalars()
        return [to_item(row) for row in rows]

    async def page(
        self, *, tenant_id: str | None, state: ReviewState | None, limit: int, offset: int
    ) -> tuple[Items, int]:
        """One page of :meth:`list` plus the total number of matching items."""
        query = self._query(tenant_id, state)
        total = (
            await self._session.execute(select(func.count()).select_from(query.order_by(None).subquery()))
        ).scalar_one()
        rows = (await self._session.execute(query.limit(limit).offset(offset))).scalars()
        return [to_item(row) for row in rows], int(total)

    async def replace(self, item: ReviewItem, *, expected_version: int) -> None:
        """Store ``item`` if the stored version is ``expected_version``, else raise ConcurrentUpdateError."""
        result = await self._session.execute(
            update(SafetyReviewItem)
            .where(
                SafetyReviewItem.id == item.id,
                _tenant_is(item.tenant_id),
                SafetyReviewItem.version == expected_version,
            )
            .values(**_columns(item))
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            return
        current = await self.get(tenant_id=item.tenant_id, item_id=item.id)
        raise ConcurrentUpdateError(
            f"review item {item.id} is at version {current.version}, expected {expected_version}"
        )
