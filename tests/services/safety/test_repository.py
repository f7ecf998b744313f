"""SqlReviewRepository honours the library's ReviewRepository contract, like the in-memory one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from security.safety import review
from security.safety.engine import check
from security.safety.packs import compile_pack
from security.safety.review import (
    ConcurrentUpdateError,
    InMemoryReviewRepository,
    ReviewItem,
    ReviewNotFoundError,
    ReviewQueue,
    ReviewRepository,
    ReviewState,
)
from security.safety.rules import load_pack
from services.kernel.db import Database, new_id
from services.kernel.identity import Tenant
from services.safety.app import DEMO_PACK
from services.safety.repository import SqlReviewRepository
from tests.conftest import PlatformDB

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
PACK = compile_pack(load_pack(Path(DEMO_PACK)))
TEXT = "我不想活了"


def _item(tenant_id: str | None, minutes: int = 0) -> ReviewItem:
    return review.new_item(
        item_id=new_id("rev"),
        tenant_id=tenant_id,
        text=TEXT,
        decision=check(TEXT, pack=PACK),
        submitted_by="gateway",
        at=T0 + timedelta(minutes=minutes),
    )


RepoFactory = Callable[[], AbstractAsyncContextManager[tuple[ReviewRepository, str, str]]]


@pytest.fixture(params=["sql", "memory"])
def repository(request: pytest.FixtureRequest, platform_db: PlatformDB) -> RepoFactory:
    """A repository plus two tenant ids (real tenants for SQL, whose rows reference them)."""

    @asynccontextmanager
    async def sql() -> AsyncIterator[tuple[ReviewRepository, str, str]]:
        database = Database(platform_db.url)
        try:
            async with database.sessionmaker() as session:
                tenants = [Tenant(name=f"repo-{new_id('t')[2:14]}") for _ in range(2)]
                session.add_all(tenants)
                await session.flush()
                yield SqlReviewRepository(session), tenants[0].id, tenants[1].id
                await session.rollback()
        finally:
            await database.dispose()

    @asynccontextmanager
    async def memory() -> AsyncIterator[tuple[ReviewRepository, str, str]]:
        yield InMemoryReviewRepository(), "ten_a", "ten_b"

    return sql if request.param == "sql" else memory


async def test_add_get_list_and_tenant_scoping(repository: RepoFactory) -> None:
    async with repository() as (repo, mine, theirs):
        late, early, other, platform = _item(mine, 5), _item(mine, 1), _item(theirs), _item(None)
        for item in (late, early, other, platform):
            await repo.add(item)
        with pytest.raises(ValueError, match="already exists"):
            await repo.add(early)
        assert await repo.get(tenant_id=mine, item_id=early.id) == early
        with pytest.raises(ReviewNotFoundError):
            await repo.get(tenant_id=theirs, item_id=early.id)
        assert [i.id for i in await repo.list(tenant_id=mine)] == [early.id, late.id]
        assert [i.id for i in await repo.list(tenant_id=mine, limit=1)] == [early.id]
        assert [i.id for i in await repo.list(tenant_id=None)] == [platform.id]
        assert await repo.list(tenant_id=mine, state=ReviewState.CLAIMED) == []


async def test_replace_is_a_compare_and_set_on_version(repository: RepoFactory) -> None:
    async with repository() as (repo, mine, _):
        item = _item(mine)
        await repo.add(item)
        claimed = review.claim(item, actor="alice", at=T0)
        await repo.replace(claimed, expected_version=item.version)
        stored = await repo.get(tenant_id=mine, item_id=item.id)
        assert stored == claimed and stored.history[-1].actor == "alice"
        stale = review.claim(item, actor="bob", at=T0)  # built from the old version
        with pytest.raises(ConcurrentUpdateError, match="at version 2, expected 1"):
            await repo.replace(stale, expected_version=item.version)
        assert (await repo.get(tenant_id=mine, item_id=item.id)).claimed_by == "alice"
        with pytest.raises(ReviewNotFoundError):
            await repo.replace(_item(mine), expected_version=1)


async def test_the_library_queue_runs_on_the_repository(repository: RepoFactory) -> None:
    async with repository() as (repo, mine, _):
        queue = ReviewQueue(repository=repo, clock=lambda: T0)
        submitted = await queue.submit(
            tenant_id=mine, text=TEXT, decision=check(TEXT, pack=PACK), submitted_by="g"
        )
        taken = await queue.claim_next(tenant_id=mine, actor="alice")
        assert taken is not None and taken.id == submitted.id
        done = await queue.reject(tenant_id=mine, item_id=submitted.id, actor="alice", note="no")
        assert done.state is ReviewState.REJECTED and done.version == 3
        assert await queue.claim_next(tenant_id=mine, actor="alice") is None
