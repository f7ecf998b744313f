"""Fixtures for model services: an app composed of the modules they need, loops under test control.

``ms_app`` composes IAM, quotas, the scheduler, the KMS and the model-service module on
``isolated_db`` (both databases; never the shared ``platform_db``, whose scheduling loop would
launch the jobs left pending here) with the scheduling loop, the controller and the autoscaler
switched off, so API tests see the jobs a service submits without any process starting. The
end-to-end tests build their own app with every loop on, on their own database (``own_sqlite_db``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from inference.modelservice.options import ModelServiceOptions
from scheduler.service.options import SchedulerOptions
from services.allinone import load_module
from services.kernel.app import create_service_app
from services.kernel.auth import issue_key
from services.kernel.migrations import upgrade_database
from services.kms.app import KmsSettings
from tests.conftest import (
    TEST_KMS_ROOT_KEY,
    TEST_SECRET,
    PlatformDB,
    client_for,
    fresh_database,
    platform_settings,
)

MODULES = ("iam", "quotas", "scheduler", "kms", "models")


def compose(
    db: PlatformDB,
    data_dir: Path,
    *,
    scheduler: SchedulerOptions,
    models: ModelServiceOptions,
    extra: tuple[str, ...] = (),
) -> FastAPI:
    """The modules model services need (plus ``extra`` ones), on ``db``, with the given loop options."""
    app = create_service_app(
        modules=[load_module(name) for name in (*MODULES, *extra)],
        settings=platform_settings(db, data_dir=data_dir),
    )
    app.state.kms_settings = KmsSettings(root_key=TEST_KMS_ROOT_KEY)
    app.state.scheduler_options = scheduler
    app.state.modelservice_options = models
    return app


@pytest.fixture
async def ms_app(isolated_db: PlatformDB, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """Model services with every loop off (see module docs)."""
    app = compose(
        isolated_db,
        tmp_path,
        scheduler=SchedulerOptions(enabled=False, work_dir=tmp_path / "work"),
        models=ModelServiceOptions(enabled=False),
    )
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def ms_admin(ms_app: FastAPI, isolated_db: PlatformDB) -> AsyncIterator[httpx.AsyncClient]:
    """The bootstrap platform administrator on ``ms_app``."""
    async with client_for(ms_app, isolated_db.admin_token) as client:
        yield client


@pytest.fixture
def own_sqlite_db(tmp_path: Path) -> Iterator[PlatformDB]:
    """A migrated SQLite database of this test alone.

    Tests that run the scheduling loop use it: on the shared ``platform_db`` the loop would also
    launch the (never meant to run) replica jobs other tests left pending there.
    """
    with fresh_database("sqlite", tmp_path) as url:
        asyncio.run(upgrade_database(url))
        key_file = tmp_path / "bootstrap.key"
        key_file.write_text(issue_key(secret=TEST_SECRET).token)
        yield PlatformDB("sqlite", url, key_file.read_text().strip(), key_file)


@pytest.fixture(scope="session")
def fake_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory that passes the model-directory check (``config.json``) without weights."""
    path = tmp_path_factory.mktemp("fake-model")
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return path
