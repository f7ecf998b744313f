"""flush_retrying_deadlocks: a cascade PostgreSQL aborts as a deadlock runs again, nothing else does.

The deadlock is real: a "loop" transaction holds a child row and then wants the parent row that
the cascading delete already holds. The loop's ``deadlock_timeout`` is raised so that PostgreSQL
always picks the delete as the victim, which is the case the retry exists for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.kernel.deadlocks import flush_retrying_deadlocks, is_deadlock
from tests.conftest import fresh_database

SCHEMA = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, v INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, v INTEGER NOT NULL DEFAULT 0,"
    " parent_id INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE)",
    "INSERT INTO parent (id) VALUES (1), (2)",
    "INSERT INTO child (id, parent_id) VALUES (10, 1), (20, 2)",
]


async def _create_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for statement in SCHEMA:
            await conn.execute(text(statement))
    await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        asyncio.run(_create_schema(url))
        yield url


@pytest.fixture
def postgres_database(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL only: SQLite has one writer at a time and cannot deadlock."""
    with fresh_database("postgresql", tmp_path) as url:
        asyncio.run(_create_schema(url))
        yield url


async def _asyncpg_connect(url: str) -> asyncpg.Connection:
    parts = make_url(url)
    return await asyncpg.connect(
        host=parts.host,
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        database=parts.database,
    )


async def test_a_cascade_chosen_as_deadlock_victim_is_retried_and_succeeds(postgres_database: str) -> None:
    database = postgres_database
    engine = create_async_engine(database)
    loop_conn = await _asyncpg_connect(database)
    attempts = 0
    try:
        loop_tx = loop_conn.transaction()
        await loop_tx.start()
        await loop_conn.execute("SET LOCAL deadlock_timeout = '20s'")
        await loop_conn.execute("UPDATE child SET v = 1 WHERE id = 10")

        async def delete_parent(session: AsyncSession) -> None:
            nonlocal attempts
            attempts += 1
            await session.execute(text("DELETE FROM parent WHERE id = 1"))

        async def deleter() -> None:
            async with async_sessionmaker(engine)() as session:
                await flush_retrying_deadlocks(session, lambda: delete_parent(session))
                await session.commit()

        deletion = asyncio.create_task(deleter())
        await asyncio.sleep(0.3)  # the delete now holds parent 1 and waits for child 10
        await loop_conn.execute("UPDATE parent SET v = 1 WHERE id = 1")  # closes the cycle
        await loop_tx.commit()
        await asyncio.wait_for(deletion, timeout=30)

        assert attempts == 2, "the first attempt must have been the deadlock victim"
        assert await loop_conn.fetchval("SELECT count(*) FROM parent WHERE id = 1") == 0
        assert await loop_conn.fetchval("SELECT count(*) FROM child WHERE parent_id = 1") == 0
        assert await loop_conn.fetchval("SELECT count(*) FROM parent") == 1
    finally:
        await loop_conn.close()
        await engine.dispose()


async def test_other_errors_are_not_retried(database: str) -> None:
    engine = create_async_engine(database)
    attempts = 0

    async def insert_duplicate(session: AsyncSession) -> None:
        nonlocal attempts
        attempts += 1
        await session.execute(text("INSERT INTO parent (id) VALUES (2)"))

    try:
        async with async_sessionmaker(engine)() as session:
            with pytest.raises(IntegrityError) as raised:
                await flush_retrying_deadlocks(session, lambda: insert_duplicate(session))
            assert not is_deadlock(raised.value)
            # only the savepoint was undone: the caller's transaction goes on
            await session.execute(text("UPDATE parent SET v = 7 WHERE id = 2"))
            await session.commit()
        assert attempts == 1
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT v FROM parent WHERE id = 2"))).scalar_one() == 7
    finally:
        await engine.dispose()


async def test_a_change_without_conflict_runs_once(database: str) -> None:
    engine = create_async_engine(database)
    calls = 0

    async def delete_parent(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        await session.execute(text("DELETE FROM parent WHERE id = 2"))

    try:
        async with async_sessionmaker(engine)() as session:
            await flush_retrying_deadlocks(session, lambda: delete_parent(session))
            await session.commit()
        assert calls == 1
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM parent"))).scalar_one() == 1
    finally:
        await engine.dispose()
