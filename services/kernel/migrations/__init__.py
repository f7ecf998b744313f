"""Alembic migrations for the whole platform, applied with :func:`upgrade_database`.

The kernel's chain starts at ``0001``. Each service owns a branch of its own in ``versions/``
(``branch_labels = ("<service>",)``, ``depends_on = "0001"``), so services can add tables
without serialising on one linear history; ``upgrade_database`` applies every head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from services.kernel.db import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at this folder and ``database_url`` (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _run(connection: Connection, database_url: str, revision: str, direction: str) -> None:
    config = alembic_config(database_url)
    config.attributes["connection"] = connection
    if direction == "up":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def upgrade_database(database_url: str, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` on ``database_url`` (SQLite or PostgreSQL)."""
    await _migrate(database_url, revision, "up")


async def downgrade_database(database_url: str, revision: str = "base") -> None:
    """Revert migrations down to ``revision``."""
    await _migrate(database_url, revision, "down")


async def _migrate(database_url: str, revision: str, direction: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run, database_url, revision, direction)
    finally:
        await engine.dispose()
