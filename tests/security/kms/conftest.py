"""KMS fixtures: a database with the KMS tables on SQLite and PostgreSQL, a root key, an audit sink.

PostgreSQL: one scratch database per module on 127.0.0.1:5432; under CI=true an unreachable
server fails, elsewhere the PostgreSQL cases are skipped with the connection error as reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from security.kms.models import KmsKey, KmsKeyVersion
from security.kms.rootkey import RootKey
from security.kms.service import Caller, KeyManagementService
from services.kernel.audit import MemoryAuditSink
from services.kernel.db import Base, Database
from tests.conftest import fresh_database

TABLES = [KmsKey.__table__, KmsKeyVersion.__table__]


@pytest.fixture(scope="module")
def postgres_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a scratch PostgreSQL database for this module (fails under CI=true if unreachable)."""
    with fresh_database("postgresql", tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL per backend (PostgreSQL: the module's scratch database)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'kms.db'}"
    return str(request.getfixturevalue("postgres_database"))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A database with empty KMS tables."""
    db = Database(database_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all, tables=TABLES)
        await conn.run_sync(Base.metadata.create_all, tables=TABLES)
    yield db
    await db.dispose()


@pytest.fixture
def root_key() -> RootKey:
    """A fixed test root key."""
    return RootKey(bytes(range(32)))


@pytest.fixture
def audit() -> MemoryAuditSink:
    """Captures every KMS audit event."""
    return MemoryAuditSink()


@pytest.fixture
def kms(root_key: RootKey, audit: MemoryAuditSink) -> KeyManagementService:
    """The service under test."""
    return KeyManagementService(root_key=root_key, audit=audit)


ALICE = Caller(tenant_id="ten_alice", principal_id="usr_alice")
BOB = Caller(tenant_id="ten_bob", principal_id="usr_bob")
