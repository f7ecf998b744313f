"""Fixtures shared by the whole suite: databases (SQLite and PostgreSQL) and platform apps.

``platform_db`` is parametrised over both backends: every test that uses it (directly or
through ``platform_app`` / ``admin_client``) runs twice. PostgreSQL tests skip with a reason
when no server is reachable, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from services.kernel.auth import issue_key
from services.kernel.migrations import upgrade_database
from services.kernel.settings import Settings

pytest_plugins = ["tests.inference.fixtures"]

POSTGRES_URL = os.environ.get("STIC_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TEST_SECRET = "stic-test-secret-" + secrets.token_hex(8)
TEST_KMS_ROOT_KEY = secrets.token_hex(32)


def postgres_unavailable(reason: str) -> None:
    """Fail under CI (a PostgreSQL test must never silently skip there), skip otherwise."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
    pytest.skip(f"PostgreSQL not reachable: {reason}")


async def _admin_execute(statement: str) -> None:
    url = make_url(POSTGRES_URL)
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """A new, empty database of ``backend`` ("sqlite" or "postgresql"); yields its async URL."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_dir / f'stic-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"stic_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        postgres_unavailable(str(exc))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass(frozen=True)
class PlatformDB:
    """A migrated database shared by the tests of one session, plus its bootstrap admin token."""

    backend: str
    url: str
    admin_token: str
    key_file: Path


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def platform_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlatformDB]:
    """A migrated database per backend; tests isolate themselves with unique tenant names."""
    tmp_dir = tmp_path_factory.mktemp(f"db-{request.param}")
    with fresh_database(request.param, tmp_dir) as url:
        asyncio.run(upgrade_database(url))
        key_file = tmp_dir / "bootstrap.key"
        key_file.write_text(issue_key(secret=TEST_SECRET).token)
        yield PlatformDB(request.param, url, key_file.read_text().strip(), key_file)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def isolated_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlatformDB]:
    """A migrated database per test module and backend, shared with no other module.

    For apps run with their loops off (model services, batches): the jobs they leave pending would
    be launched by the scheduling loop of any later test on the shared ``platform_db``.
    """
    tmp_dir = tmp_path_factory.mktemp(f"isolated-{request.param}")
    with fresh_database(request.param, tmp_dir) as url:
        asyncio.run(upgrade_database(url))
        key_file = tmp_dir / "bootstrap.key"
        key_file.write_text(issue_key(secret=TEST_SECRET).token)
        yield PlatformDB(request.param, url, key_file.read_text().strip(), key_file)


def platform_settings(db: PlatformDB, **overrides: object) -> Settings:
    """Settings for an app on ``db`` (migrations already applied)."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": db.url,
        "secret_key": TEST_SECRET,
        "bootstrap_key_file": db.key_file,
        "run_migrations": False,
        "log_json": False,
        "data_dir": db.key_file.parent,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def platform_app(platform_db: PlatformDB) -> AsyncIterator[FastAPI]:
    """The all-in-one app on ``platform_db``, started (lifespan entered)."""
    from inference.batches.options import BatchOptions
    from services.allinone import create_app
    from services.kms.app import KmsSettings

    app = create_app(platform_settings(platform_db))
    app.state.kms_settings = KmsSettings(root_key=TEST_KMS_ROOT_KEY)
    # batch workers would call back a platform URL this in-process app does not listen on
    app.state.batch_options = BatchOptions(enabled=False)
    async with app.router.lifespan_context(app):
        yield app


def client_for(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    """An in-process client for ``app``, authenticated with ``token`` when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://stic.test", headers=headers
    )


@pytest.fixture
async def admin_client(platform_app: FastAPI, platform_db: PlatformDB) -> AsyncIterator[httpx.AsyncClient]:
    """A client authenticated as the bootstrap platform administrator."""
    async with client_for(platform_app, platform_db.admin_token) as client:
        yield client
