"""Human review of content-safety decisions: a pure state machine, a repository protocol, a queue.

States and transitions (anything else raises :class:`ReviewTransitionError`)::

    pending --claim--> claimed --approve--> approved
                       claimed --reject---> rejected
                       claimed --release--> pending

Only the reviewer holding the claim may approve, reject or release it
(:class:`ReviewPermissionError`), except that a claim older than ``claim_ttl`` may be taken
over by another reviewer. A rejection needs a note. Every transition returns a *new*
:class:`ReviewItem` with ``version`` incremented and a :class:`ReviewEvent` (who, when,
from, to, note) appended to ``history``, which is the item's audit trail.

:class:`ReviewRepository` is the persistence seam (the service implements it with
SQLAlchemy; :class:`InMemoryReviewRepository` is the reference). ``replace`` is a
compare-and-set on ``version``, so two reviewers claiming at once cannot both win.
:class:`ReviewQueue` ties the two together and reports each event to an optional audit hook.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from security.masking.records import MaskingPolicy, mask_text
from security.safety.engine import Decision
from security.safety.rules import Action


class ReviewState(StrEnum):
    """Where an item is in review."""

    PENDING = "pending"
    CLAIMED = "claimed"
    APPROVED = "approved"
    REJECTED = "rejected"


class ReviewError(Exception):
    """Base of review errors."""


class ReviewTransitionError(ReviewError):
    """The action is not allowed from the item's current state."""


class ReviewPermissionError(ReviewError):
    """The actor may not perform the action (someone else holds the claim)."""


class ReviewNotFoundError(ReviewError, LookupError):
    """No such item for this tenant."""


class ConcurrentUpdateError(ReviewError):
    """The item changed since it was read (``version`` mismatch); re-read and retry."""


@dataclass(frozen=True, slots=True)
class ReviewEvent:
    """One transition: ``action`` by ``actor`` at ``at``, ``from_state`` → ``to_state``."""

    action: str
    actor: str
    at: datetime
    from_state: ReviewState | None
    to_state: ReviewState
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A text held for review. ``excerpt`` is the text with PII masked; the raw text is not kept.

    ``text_sm3`` links the item to the audited decision. ``version`` counts transitions.
    """

    id: str
    tenant_id: str | None
    pack_id: str
    pack_version: str
    direction: str
    categories: tuple[str, ...]
    excerpt: str
    text_sm3: str
    state: ReviewState
    created_at: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    version: int = 1
    history: tuple[ReviewEvent, ...] = ()


EXCERPT_CHARS = 2000


def new_item(
    *,
    item_id: str,
    tenant_id: str | None,
    text: str,
    decision: Decision,
    submitted_by: str,
    at: datetime,
) -> ReviewItem:
    """A pending item for a ``review`` decision; raises ``ValueError`` for any other action."""
    if decision.action is not Action.REVIEW:
        raise ValueError(f"only review decisions go to human review, not {decision.action.value}")
    audit = decision.audit_record(text)
    event = ReviewEvent("submit", submitted_by, at, None, ReviewState.PENDING)
    return ReviewItem(
        id=item_id,
        tenant_id=tenant_id,
        pack_id=decision.pack_id,
        pack_version=decision.pack_version,
        direction=decision.direction.value,
        categories=tuple(sorted(decision.categories)),
        excerpt=mask_text(text[:EXCERPT_CHARS], MaskingPolicy()),
        text_sm3=audit["text_sm3"],
        state=ReviewState.PENDING,
        created_at=at,
        history=(event,),
    )


def _transition(
    item: ReviewItem,
    *,
    action: str,
    actor: str,
    at: datetime,
    to: ReviewState,
    note: str | None,
    **changes: object,
) -> ReviewItem:
    event = ReviewEvent(action, actor, at, item.state, to, note)
    if to in (ReviewState.APPROVED, ReviewState.REJECTED):
        changes["note"] = note
    return replace(item, state=to, version=item.version + 1, history=(*item.history, event), **changes)  # type: ignore[arg-type]


def _require(item: ReviewItem, action: str, *states: ReviewState) -> None:
    if item.state not in states:
        allowed = " or ".join(state.value for state in states)
        raise ReviewTransitionError(
            f"cannot {action} review item {item.id}: it is {item.state.value}, not {allowed}"
        )


def _require_holder(item: ReviewItem, action: str, actor: str) -> None:
    _require(item, action, ReviewState.CLAIMED)
    if item.claimed_by != actor:
        raise ReviewPermissionError(
            f"cannot {action} review item {item.id}: it is claimed by {item.claimed_by}"
        )


def claim(item: ReviewItem, *, actor: str, at: datetime, claim_ttl: timedelta | None = None) -> ReviewItem:
    """Take a pending item (or a claimed one whose claim is older than ``claim_ttl``)."""
    if not actor:
        raise ValueError("actor is empty")
    if item.state is ReviewState.CLAIMED and item.claimed_by != actor:
        expired = claim_ttl is not None and item.claimed_at is not None and at - item.claimed_at >= claim_ttl
        if not expired:
            raise ReviewPermissionError(
                f"cannot claim review item {item.id}: it is claimed by {item.claimed_by}"
            )
    else:
        _require(item, "claim", ReviewState.PENDING)
    return _transition(
        item,
        action="claim",
        actor=actor,
        at=at,
        to=ReviewState.CLAIMED,
        note=None,
        claimed_by=actor,
        claimed_at=at,
    )


def release(item: ReviewItem, *, actor: str, at: datetime) -> ReviewItem:
    """Give a claimed item back to the queue (holder only)."""
    _require_holder(item, "release", actor)
    return _transition(
        item,
        action="release",
        actor=actor,
        at=at,
        to=ReviewState.PENDING,
        note=None,
        claimed_by=None,
        claimed_at=None,
    )


def approve(item: ReviewItem, *, actor: str, at: datetime, note: str | None = None) -> ReviewItem:
    """Approve the content (holder only): the request may proceed."""
    _require_holder(item, "approve", actor)
    return _transition(
        item, action="approve", actor=actor, at=at, to=ReviewState.APPROVED, note=note, decided_by=actor,
        decided_at=at,
    )  # fmt: skip


def reject(item: ReviewItem, *, actor: str, at: datetime, note: str) -> ReviewItem:
    """Reject the content (holder only); ``note`` (the reason) is required."""
    if not note or not note.strip():
        raise ValueError("a rejection needs a note giving the reason")
    _require_holder(item, "reject", actor)
    return _transition(
        item, action="reject", actor=actor, at=at, to=ReviewState.REJECTED, note=note, decided_by=actor,
        decided_at=at,
    )  # fmt: skip


class ReviewRepository(Protocol):
    """Persistence of review items, scoped by tenant (``None`` = platform-level items)."""

    async def add(self, item: ReviewItem) -> None:
        """Store a new item; raises ``ValueError`` if its id exists."""
        ...

    async def get(self, *, tenant_id: str | None, item_id: str) -> ReviewItem:
        """The item; raises :class:`ReviewNotFoundError` (also for another tenant's item)."""
        ...

    async def list(
        self, *, tenant_id: str | None, state: ReviewState | None = None, limit: int = 100
    ) -> list[ReviewItem]:
        """Items of the tenant, optionally in one state, oldest first."""
        ...

    async def replace(self, item: ReviewItem, *, expected_version: int) -> None:
        """Store ``item`` if the stored version is ``expected_version``, else raise ConcurrentUpdateError."""
        ...


class InMemoryReviewRepository:
    """Dict-backed :class:`ReviewRepository` (tests, single-process demos)."""

    def __init__(self) -> None:
        self._items: dict[str, ReviewItem] = {}

    async def add(self, item: ReviewItem) -> None:
        """Store a new item; raises ``ValueError`` if its id exists."""
        if item.id in self._items:
            raise ValueError(f"review item {item.id} already exists")
        self._items[item.id] = item

    async def get(self, *, tenant_id: str | None, item_id: str) -> ReviewItem:
        """The item; raises :class:`ReviewNotFoundError` (also for another tenant's item)."""
        item = self._items.get(item_id)
        if item is None or item.tenant_id != tenant_id:
            raise ReviewNotFoundError(f"review item {item_id} not found")
        return item

    async def list(
        self, *, tenant_id: str | None, state: ReviewState | None = None, limit: int = 100
    ) -> list[ReviewItem]:
        """Items of the tenant, optionally in one state, oldest first."""
        items = [
            item
            for item in self._items.values()
            if item.tenant_id == tenant_id and (state is None or item.state is state)
        ]
        return sorted(items, key=lambda item: (item.created_at, item.id))[:limit]

    async def replace(self, item: ReviewItem, *, expected_version: int) -> None:
        """Compare-and-set on ``version``."""
        current = self._items.get(item.id)
        if current is None:
            raise ReviewNotFoundError(f"review item {item.id} not found")
        if current.version != expected_version:
            raise ConcurrentUpdateError(
                f"review item {item.id} is at version {current.version}, expected {expected_version}"
            )
        self._items[item.id] = item


AuditHook = Callable[[ReviewItem, ReviewEvent], Awaitable[None]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReviewQueue:
    """Submit, claim, approve, reject and release items through a repository.

    ``clock`` and ``new_id`` are seams for tests; ``audit`` is awaited with the item and the
    event after every stored transition (the service forwards it to the audit log).
    """

    def __init__(
        self,
        *,
        repository: ReviewRepository,
        audit: AuditHook | None = None,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = lambda: f"rev_{uuid.uuid4().hex}",
        claim_ttl: timedelta | None = timedelta(minutes=30),
    ) -> None:
        self._repository = repository
        self._audit = audit
        self._clock = clock
        self._new_id = new_id
        self._claim_ttl = claim_ttl

    async def _record(self, item: ReviewItem) -> ReviewItem:
        if self._audit is not None:
            await self._audit(item, item.history[-1])
        return item

    async def submit(
        self, *, tenant_id: str | None, text: str, decision: Decision, submitted_by: str
    ) -> ReviewItem:
        """Queue a ``review`` decision as a pending item."""
        item = new_item(
            item_id=self._new_id(),
            tenant_id=tenant_id,
            text=text,
            decision=decision,
            submitted_by=submitted_by,
            at=self._clock(),
        )
        await self._repository.add(item)
        return await self._record(item)

    async def _apply(
        self, tenant_id: str | None, item_id: str, change: Callable[[ReviewItem], ReviewItem]
    ) -> ReviewItem:
        current = await self._repository.get(tenant_id=tenant_id, item_id=item_id)
        updated = change(current)
        await self._repository.replace(updated, expected_version=current.version)
        return await self._record(updated)

    async def claim(self, *, tenant_id: str | None, item_id: str, actor: str) -> ReviewItem:
        """Claim one item for ``actor``."""
        return await self._apply(
            tenant_id,
            item_id,
            lambda item: claim(item, actor=actor, at=self._clock(), claim_ttl=self._claim_ttl),
        )

    async def claim_next(self, *, tenant_id: str | None, actor: str) -> ReviewItem | None:
        """Claim the oldest pending item, or return ``None`` when the queue is empty."""
        for item in await self._repository.list(tenant_id=tenant_id, state=ReviewState.PENDING):
            try:
                return await self.claim(tenant_id=tenant_id, item_id=item.id, actor=actor)
            except (ConcurrentUpdateError, ReviewTransitionError, ReviewPermissionError):
                continue  # someone else took it between list and claim
        return None

    async def release(self, *, tenant_id: str | None, item_id: str, actor: str) -> ReviewItem:
        """Return a claimed item to the queue."""
        return await self._apply(
            tenant_id, item_id, lambda item: release(item, actor=actor, at=self._clock())
        )

    async def approve(
        self, *, tenant_id: str | None, item_id: str, actor: str, note: str | None = None
    ) -> ReviewItem:
        """Approve a claimed item."""
        return await self._apply(
            tenant_id, item_id, lambda item: approve(item, actor=actor, at=self._clock(), note=note)
        )

    async def reject(self, *, tenant_id: str | None, item_id: str, actor: str, note: str) -> ReviewItem:
        """Reject a claimed item with a reason."""
        return await self._apply(
            tenant_id, item_id, lambda item: reject(item, actor=actor, at=self._clock(), note=note)
        )

    async def list(
        self, *, tenant_id: str | None, state: ReviewState | None = None, limit: int = 100
    ) -> list[ReviewItem]:
        """Items of the tenant, oldest first."""
        return await self._repository.list(tenant_id=tenant_id, state=state, limit=limit)
