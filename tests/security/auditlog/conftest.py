"""Fixtures: a fresh audit-log database on SQLite (temp file) and on PostgreSQL (scratch database).

PostgreSQL: one scratch database per test module on 127.0.0.1:5432, dropped afterwards. Under
CI=true an unreachable server fails the test; elsewhere the PostgreSQL cases are skipped with
the connection error as the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from security.auditlog.log import AuditLog, LogConfig
from security.auditlog.models import APPEND_ONLY_TABLES
from security.auditlog.records import AuditRecord
from security.auditlog.signing import SM2NoteSigner
from services.kernel.db import Base, Database
from tests.conftest import fresh_database


def audit_tables() -> list:
    return [Base.metadata.tables[name] for name in APPEND_ONLY_TABLES]


@pytest.fixture(scope="module")
def postgres_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a scratch PostgreSQL database for this module (fails under CI=true if unreachable)."""
    with fresh_database("postgresql", tmp_path_factory.mktemp("pg")) as url:
        yield url


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
