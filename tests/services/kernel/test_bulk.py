"""insert_rows stores on SQLite exactly what SQLAlchemy Core's executemany stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, Column, Float, Integer, MetaData, String, Table, insert, text

from services.kernel.bulk import insert_rows
from services.kernel.db import Database, UTCDateTime

METADATA = MetaData()
SAMPLES = Table(
    "bulk_samples",
    METADATA,
    Column("id", String(64), primary_key=True),
    Column("body", JSON),
    Column("flag", Boolean),
    Column("ratio", Float),
    Column("count", Integer),
    Column("note", String(64), nullable=True),
    Column("at", UTCDateTime()),
)
BEIJING = timezone(timedelta(hours=8))


def _rows(prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}-{n}",
            "body": {"messages": [{"role": "user", "content": f"你好 {n}"}], "stream": n % 2 == 0, "n": None},
            "flag": n % 2 == 0,
            "ratio": n / 3,
            "count": n,
            "note": None if n % 2 else f"note {n}",
            "at": datetime(2026, 11, 29, 8, n, tzinfo=BEIJING if n % 2 else UTC),
        }
        for n in range(6)
    ]


async def _stored(database: Database, prefix: str) -> list[tuple[Any, ...]]:
    async with database.engine.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT substr(id, instr(id, '-')), body, flag, ratio, count, note, at FROM bulk_samples "
                "WHERE id LIKE :prefix ORDER BY id"
            ),
            {"prefix": f"{prefix}-%"},
        )
        return [tuple(row) for row in result]


async def test_sqlite_rows_are_stored_as_core_stores_them(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bulk.db'}")
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(METADATA.create_all)
        async with database.sessionmaker() as session:
            await insert_rows(session, SAMPLES, _rows("fast"))
            await (await session.connection()).execute(insert(SAMPLES), _rows("core"))
            await session.commit()
        fast, core = await _stored(database, "fast"), await _stored(database, "core")
        assert len(fast) == 6 and fast == core
    finally:
        await database.dispose()


async def test_rows_with_other_columns_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'bulk.db'}")
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(METADATA.create_all)
        rows = _rows("bad")
        del rows[3]["note"]
        rows[3]["other"] = 1
        async with database.engine.connect() as connection:
            with pytest.raises(ValueError, match="one lacks 'note'"):
                await insert_rows(connection, SAMPLES, rows)
            with pytest.raises(ValueError, match="got"):
                await insert_rows(connection, SAMPLES, [*_rows("short")[:2], {"id": "short-x"}])
            await connection.commit()
        assert await _stored(database, "bad") == [] and await _stored(database, "short") == []
    finally:
        await database.dispose()
