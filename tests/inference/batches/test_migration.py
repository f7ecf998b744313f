"""The inference_batches migration branch creates exactly the batch service's tables."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from services.kernel.db import create_engine
from services.kernel.migrations import upgrade_database
from services.kernel.model_registry import load_models
from tests.conftest import fresh_database

TABLES = {"inference_files", "inference_batches", "inference_batch_results"}


def _table_of(diff: Any) -> str | None:
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item if isinstance(item, tuple) else (item,):
            name = getattr(part, "name", None) if not isinstance(part, str) else None
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None) in TABLES:
                return str(table.name)
            if name in TABLES:
                return str(name)
            if isinstance(part, str) and part in TABLES:
                return part
    return None


def _check(sync_conn: Any) -> list[Any]:
    assert set(inspect(sync_conn).get_table_names()) >= TABLES
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return [d for d in compare_metadata(context, load_models().metadata) if _table_of(d) is not None]


async def _upgrade_and_diff(url: str) -> list[Any]:
    await upgrade_database(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_check)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_matches_the_models(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        assert asyncio.run(_upgrade_and_diff(url)) == []
