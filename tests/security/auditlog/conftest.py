"""Fixtures: a fresh audit-log database on SQLite (temp file) and on PostgreSQL (scratch database).

PostgreSQL: one scratch database per test module on 127.0.0.1:5432, dropped afterwards. Under
CI=true an unreachable server fails the test; elsewhere the PostgreSQL cases are skipped with
the connection error as the reason.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from security.auditlog.log import AuditLog, LogConfig
from security.auditlog.models import APPEND_ONLY_TABLES
from security.auditlog.records import AuditRecord
from security.auditlog.signing import SM2NoteSigner
from services.kernel.db import Base, Database

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def audit_tables() -> list:
    return [Base.metadata.tables[name] for name in APPEND_ONLY_TABLES]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """URL of a scratch PostgreSQL database for this module."""
    name = f"stic_test_audit_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL at 127.0.0.1:5432 unreachable: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield PG_URL.format(name=name)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL per backend (the PostgreSQL one is shared by the module: tables are reset)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A :class:`Database` with empty audit-log tables."""
    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all, tables=audit_tables())
        await conn.run_sync(Base.metadata.create_all, tables=audit_tables())
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
def signer() -> SM2NoteSigner:
    """One SM2 checkpoint key for the session (key generation is not what is under test)."""
    return SM2NoteSigner.generate(name="stic-audit")


def make_config(**overrides: object) -> LogConfig:
    """Builder for a sequencer config with test-friendly defaults."""
    values: dict[str, object] = {"batch_wait": 0.001, "checkpoint_every": 100, "checkpoint_interval": 3600.0}
    values.update(overrides)
    return LogConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def audit_log(database: Database, signer: SM2NoteSigner) -> AsyncIterator[AuditLog]:
    """A started log with checkpoints every 100 entries."""
    log = AuditLog(database=database, signer=signer, config=make_config())
    await log.start()
    yield log
    await log.close()


BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def build_record(i: int, **overrides: object) -> AuditRecord:
    """The i-th test record: tenants t0..t2 round-robin, a resource request by default."""
    values: dict[str, object] = {
        "category": "resource_request",
        "action": "POST /v1/jobs",
        "service": "scheduler",
        "resource": f"/v1/jobs/{i}",
        "result": 201,
        "tenant_id": f"t{i % 3}",
        "principal_id": f"u{i % 5}",
        "time": BASE_TIME + timedelta(seconds=i),
        "details": {"n": i, "note": "模型 download"},
    }
    values.update(overrides)
    return AuditRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_record() -> Callable[..., AuditRecord]:
    """The :func:`build_record` builder."""
    return build_record
