"""Migrations upgrade and downgrade cleanly on both databases and match the ORM models."""

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from services.kernel.db import create_engine
from services.kernel.migrations import downgrade_database, upgrade_database
from services.kernel.model_registry import load_models
from tests.conftest import fresh_database


def _tables(sync_conn) -> set[str]:
    return set(inspect(sync_conn).get_table_names()) - {"alembic_version"}


def _diff(sync_conn) -> list:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return compare_metadata(context, load_models().metadata)


async def _audit_log_is_append_only(engine) -> None:
    """The migration (not only ``create_all``) installs the append-only triggers."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_log_checkpoints "
                "(size, root_hash, signed_at, key_name, key_fingerprint, note) "
                "VALUES (1, :root, CURRENT_TIMESTAMP, 'k', 'f', 'n')"
            ),
            {"root": b"\x00" * 32},
        )
    for statement in ("UPDATE audit_log_checkpoints SET note = 'x'", "DELETE FROM audit_log_checkpoints"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(statement))


async def _upgrade_downgrade_upgrade(url: str) -> None:
    await upgrade_database(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(load_models().metadata.tables)
            assert await conn.run_sync(_diff) == [], "ORM models and migrations differ: add a migration"
        await downgrade_database(url)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await upgrade_database(url)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(load_models().metadata.tables)
        await _audit_log_is_append_only(engine)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_downgrade_upgrade(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        asyncio.run(_upgrade_downgrade_upgrade(url))
