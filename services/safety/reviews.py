"""The human-review queue over HTTP: list, claim, approve, reject and release review items.

The state machine is the library's (:mod:`security.safety.review`); this module runs it on
:class:`~services.safety.repository.SqlReviewRepository` inside the request's session, commits,
and only then sends one ``content_safety`` audit event per transition, so the audit log never
records a transition that was rolled back. Everything needs ``safety:review`` in the tenant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from security.safety.engine import Decision
from security.safety.review import (
    ConcurrentUpdateError,
    ReviewError,
    ReviewEvent,
    ReviewItem,
    ReviewNotFoundError,
    ReviewPermissionError,
    ReviewQueue,
    ReviewState,
    ReviewTransitionError,
)
from services.kernel.auth import Principal
from services.kernel.errors import BadRequest, Conflict, NotFound
from services.kernel.pagination import PageParams
from services.safety import auditing, schemas
from services.safety.repository import SqlReviewRepository
from services.safety.runtime import SafetyRuntime
from services.safety.service import require_tenant

REVIEW_KIND = "review item"
PERMISSION = "safety:review"


def item_out(item: ReviewItem) -> schemas.ReviewItemOut:
    """Response form of a review item."""
    return schemas.ReviewItemOut(
        id=item.id,
        tenant_id=item.tenant_id,
        pack_id=item.pack_id,
        pack_version=item.pack_version,
        direction=item.direction,
        categories=list(item.categories),
        excerpt=item.excerpt,
        text_sm3=item.text_sm3,
        state=item.state.value,
        created_at=item.created_at,
        claimed_by=item.claimed_by,
        claimed_at=item.claimed_at,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        note=item.note,
        version=item.version,
        history=[
            schemas.ReviewEventOut(
                action=event.action,
                actor=event.actor,
                at=event.at,
                from_state=event.from_state.value if event.from_state is not None else None,
                to_state=event.to_state.value,
                note=event.note,
            )
            for event in item.history
        ],
    )


@asynccontextmanager
async def _queue(
    session: AsyncSession,
    runtime: SafetyRuntime,
    *,
    principal: Principal,
    tenant_id: str,
    request_id: str | None,
) -> AsyncIterator[ReviewQueue]:
    """A queue on the request's session; commits, then audits every transition it made."""
    made: list[tuple[ReviewItem, ReviewEvent]] = []

    async def collect(item: ReviewItem, event: ReviewEvent) -> None:
        made.append((item, event))

    try:
        yield ReviewQueue(repository=SqlReviewRepository(session), audit=collect)
    except ReviewNotFoundError as exc:
        raise NotFound(str(exc), detail={"kind": REVIEW_KIND}) from None
    except (ReviewTransitionError, ReviewPermissionError, ConcurrentUpdateError) as exc:
        raise Conflict(str(exc)) from None
    except (ReviewError, ValueError) as exc:
        raise BadRequest(str(exc)) from None
    await session.commit()
    for item, event in made:
        await auditing.record(
            runtime.audit,
            action=f"safety.review.{event.action}",
            resource=f"safety-review:{item.id}",
            principal=principal,
            tenant_id=tenant_id,
            request_id=request_id,
            facts={
                "review": {
                    "item_id": item.id,
                    "from": event.from_state.value if event.from_state is not None else None,
                    "to": event.to_state.value,
                    "actor": event.actor,
                    "version": item.version,
                    "note": event.note,
                    "text_sm3": item.text_sm3,
                    "categories": list(item.categories),
                }
            },
        )


async def submit(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    text: str,
    decision: Decision,
    request_id: str | None,
) -> ReviewItem:
    """Queue a ``review`` decision (the checked text is kept only as a PII-masked excerpt)."""
    async with _queue(session, runtime, principal=principal, tenant_id=tenant_id, request_id=request_id) as q:
        return await q.submit(tenant_id=tenant_id, text=text, decision=decision, submitted_by=principal.id)


async def list_items(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    state: ReviewState | None,
    page: PageParams,
) -> tuple[list[schemas.ReviewItemOut], int]:
    """One page of the tenant's items, oldest first, optionally in one state."""
    await require_tenant(session, principal, tenant_id, PERMISSION)
    items, total = await SqlReviewRepository(session).page(
        tenant_id=tenant_id, state=state, limit=page.limit, offset=page.offset
    )
    return [item_out(item) for item in items], total


async def get_item(
    *, session: AsyncSession, principal: Principal, tenant_id: str, item_id: str
) -> schemas.ReviewItemOut:
    """One item of the tenant (404 for another tenant's)."""
    await require_tenant(session, principal, tenant_id, PERMISSION)
    try:
        return item_out(await SqlReviewRepository(session).get(tenant_id=tenant_id, item_id=item_id))
    except ReviewNotFoundError:
        raise NotFound.of(REVIEW_KIND, item_id) from None


Transition = Callable[[ReviewQueue], Awaitable[ReviewItem | None]]


async def transition(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    request_id: str | None,
    change: Transition,
) -> schemas.ReviewItemOut | None:
    """Apply one queue operation as ``principal``; maps the library's errors to HTTP ones.

    Another tenant's item is a 404; a transition the item's state or claim does not allow, or
    that lost a race with another reviewer, is a 409.
    """
    await require_tenant(session, principal, tenant_id, PERMISSION)
    async with _queue(
        session, runtime, principal=principal, tenant_id=tenant_id, request_id=request_id
    ) as queue:
        item = await change(queue)
    return item_out(item) if item is not None else None


def claim(tenant_id: str, item_id: str, actor: str) -> Transition:
    """Claim ``item_id`` for ``actor``."""
    return lambda queue: queue.claim(tenant_id=tenant_id, item_id=item_id, actor=actor)


def claim_next(tenant_id: str, actor: str) -> Transition:
    """Claim the oldest pending item (``None`` when the queue is empty)."""
    return lambda queue: queue.claim_next(tenant_id=tenant_id, actor=actor)


def approve(tenant_id: str, item_id: str, actor: str, note: str | None) -> Transition:
    """Approve ``item_id`` (claimed by ``actor``)."""
    return lambda queue: queue.approve(tenant_id=tenant_id, item_id=item_id, actor=actor, note=note)


def reject(tenant_id: str, item_id: str, actor: str, note: str) -> Transition:
    """Reject ``item_id`` (claimed by ``actor``) with a reason."""
    return lambda queue: queue.reject(tenant_id=tenant_id, item_id=item_id, actor=actor, note=note)


def release(tenant_id: str, item_id: str, actor: str) -> Transition:
    """Give ``item_id`` (claimed by ``actor``) back to the queue."""
    return lambda queue: queue.release(tenant_id=tenant_id, item_id=item_id, actor=actor)
