from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from security.safety import review
from security.safety.engine import Decision, check
from security.safety.packs import CompiledPack
from security.safety.review import (
    ConcurrentUpdateError,
    InMemoryReviewRepository,
    ReviewEvent,
    ReviewItem,
    ReviewNotFoundError,
    ReviewPermissionError,
    ReviewQueue,
    ReviewState,
    ReviewTransitionError,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TEXT = "我不想活了，我的电话是13812345678"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def decision(demo_pack: CompiledPack) -> Decision:
    return check(TEXT, pack=demo_pack)


@pytest.fixture
def item(decision: Decision) -> ReviewItem:
    return review.new_item(
        item_id="r1", tenant_id="t1", text=TEXT, decision=decision, submitted_by="gateway", at=T0
    )


def test_new_item_holds_masked_excerpt_and_audit_trail(item: ReviewItem) -> None:
    assert item.state is ReviewState.PENDING
    assert item.excerpt == "我不想活了，我的电话是138****5678"
    assert item.categories == ("pii", "self_harm")
    assert item.history == (ReviewEvent("submit", "gateway", T0, None, ReviewState.PENDING),)
    assert len(item.text_sm3) == 64


def test_only_review_decisions_are_queued(demo_pack: CompiledPack) -> None:
    allow = check("你好", pack=demo_pack)
    with pytest.raises(ValueError, match="only review decisions go to human review, not allow"):
        review.new_item(item_id="x", tenant_id=None, text="你好", decision=allow, submitted_by="g", at=T0)


Step = Callable[[ReviewItem], ReviewItem]
CLAIM: Step = lambda i: review.claim(i, actor="alice", at=T0)  # noqa: E731
RELEASE: Step = lambda i: review.release(i, actor="alice", at=T0)  # noqa: E731
APPROVE: Step = lambda i: review.approve(i, actor="alice", at=T0)  # noqa: E731
REJECT: Step = lambda i: review.reject(i, actor="alice", at=T0, note="unsafe")  # noqa: E731


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([CLAIM], ReviewState.CLAIMED),
        ([CLAIM, APPROVE], ReviewState.APPROVED),
        ([CLAIM, REJECT], ReviewState.REJECTED),
        ([CLAIM, RELEASE], ReviewState.PENDING),
        ([CLAIM, RELEASE, CLAIM, APPROVE], ReviewState.APPROVED),
    ],
)
def test_allowed_transitions(item: ReviewItem, path: list[Step], expected: ReviewState) -> None:
    for step in path:
        item = step(item)
    assert item.state is expected
    assert item.version == len(path) + 1
    assert [event.to_state for event in item.history][-1] is expected


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ([], APPROVE),
        ([], REJECT),
        ([], RELEASE),
        ([CLAIM, APPROVE], CLAIM),
        ([CLAIM, APPROVE], REJECT),
        ([CLAIM, REJECT], APPROVE),
        ([CLAIM, REJECT], RELEASE),
    ],
)
def test_forbidden_transitions(item: ReviewItem, path: list[Step], bad: Step) -> None:
    for step in path:
        item = step(item)
    with pytest.raises(ReviewTransitionError, match=f"review item r1: it is {item.state.value}"):
        bad(item)


def test_only_the_claim_holder_decides(item: ReviewItem) -> None:
    claimed = review.claim(item, actor="alice", at=T0)
    for action in (
        lambda: review.approve(claimed, actor="bob", at=T0),
        lambda: review.reject(claimed, actor="bob", at=T0, note="x"),
        lambda: review.release(claimed, actor="bob", at=T0),
        lambda: review.claim(
            claimed, actor="bob", at=T0 + timedelta(minutes=5), claim_ttl=timedelta(minutes=30)
        ),
    ):
        with pytest.raises(ReviewPermissionError, match="claimed by alice"):
            action()


def test_a_stale_claim_can_be_taken_over(item: ReviewItem) -> None:
    claimed = review.claim(item, actor="alice", at=T0)
    later = T0 + timedelta(minutes=31)
    taken = review.claim(claimed, actor="bob", at=later, claim_ttl=timedelta(minutes=30))
    assert (taken.claimed_by, taken.claimed_at) == ("bob", later)


def test_rejection_needs_a_reason_and_records_who_and_when(item: ReviewItem) -> None:
    claimed = review.claim(item, actor="alice", at=T0)
    with pytest.raises(ValueError, match="a rejection needs a note"):
        review.reject(claimed, actor="alice", at=T0, note="  ")
    done = review.reject(claimed, actor="alice", at=T0 + timedelta(seconds=9), note="self-harm risk")
    assert (done.decided_by, done.decided_at, done.note) == (
        "alice",
        T0 + timedelta(seconds=9),
        "self-harm risk",
    )
    assert done.history[-1] == ReviewEvent(
        "reject",
        "alice",
        T0 + timedelta(seconds=9),
        ReviewState.CLAIMED,
        ReviewState.REJECTED,
        "self-harm risk",
    )
    assert item.state is ReviewState.PENDING  # transitions never mutate


async def test_queue_flow_with_audit_and_tenant_isolation(decision: Decision) -> None:
    clock = Clock()
    ids = count(1)
    events: list[tuple[str, str, str]] = []

    async def audit(item: ReviewItem, event: ReviewEvent) -> None:
        events.append((item.id, event.action, event.actor))

    queue = ReviewQueue(
        repository=InMemoryReviewRepository(), audit=audit, clock=clock, new_id=lambda: f"r{next(ids)}"
    )
    first = await queue.submit(tenant_id="t1", text=TEXT, decision=decision, submitted_by="gateway")
    clock.advance(seconds=1)
    second = await queue.submit(tenant_id="t1", text=TEXT, decision=decision, submitted_by="gateway")
    await queue.submit(tenant_id="t2", text=TEXT, decision=decision, submitted_by="gateway")
    with pytest.raises(ReviewNotFoundError):
        await queue.claim(tenant_id="t2", item_id=first.id, actor="alice")

    claimed = await queue.claim_next(tenant_id="t1", actor="alice")
    assert claimed is not None and claimed.id == first.id
    approved = await queue.approve(tenant_id="t1", item_id=first.id, actor="alice", note="fine")
    assert approved.state is ReviewState.APPROVED
    nxt = await queue.claim_next(tenant_id="t1", actor="bob")
    assert nxt is not None and nxt.id == second.id
    await queue.release(tenant_id="t1", item_id=second.id, actor="bob")
    await queue.claim(tenant_id="t1", item_id=second.id, actor="carol")
    await queue.reject(tenant_id="t1", item_id=second.id, actor="carol", note="unsafe")
    assert await queue.claim_next(tenant_id="t1", actor="dave") is None

    states = [item.state for item in await queue.list(tenant_id="t1")]
    assert states == [ReviewState.APPROVED, ReviewState.REJECTED]
    assert [item.id for item in await queue.list(tenant_id="t2", state=ReviewState.PENDING)] == ["r3"]
    assert events == [
        ("r1", "submit", "gateway"),
        ("r2", "submit", "gateway"),
        ("r3", "submit", "gateway"),
        ("r1", "claim", "alice"),
        ("r1", "approve", "alice"),
        ("r2", "claim", "bob"),
        ("r2", "release", "bob"),
        ("r2", "claim", "carol"),
        ("r2", "reject", "carol"),
    ]


async def test_repository_compare_and_set(item: ReviewItem) -> None:
    repository = InMemoryReviewRepository()
    await repository.add(item)
    with pytest.raises(ValueError, match="already exists"):
        await repository.add(item)
    by_alice = review.claim(item, actor="alice", at=T0)
    by_bob = review.claim(item, actor="bob", at=T0)
    await repository.replace(by_alice, expected_version=item.version)
    with pytest.raises(ConcurrentUpdateError, match="at version 2, expected 1"):
        await repository.replace(by_bob, expected_version=item.version)
    stored = await repository.get(tenant_id="t1", item_id="r1")
    assert stored.claimed_by == "alice"
