"""Killing one of two real replicas under load loses no non-streaming request through the gateway."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from inference.gateway.settings import GatewaySettings
from inference.modelservice.options import ModelServiceOptions
from scheduler.service.models import TaskRow
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
from tests.services.builders import make_tenant, ok, unique

MODULES = ("iam", "quotas", "scheduler", "kms", "models", "gateway")


@pytest.fixture
def own_db(tmp_path: Path) -> Iterator[PlatformDB]:
    """A database of this test alone (its scheduling loop must not run other tests' replica jobs)."""
    with fresh_database("sqlite", tmp_path) as url:
        asyncio.run(upgrade_database(url))
        key_file = tmp_path / "bootstrap.key"
        key_file.write_text(issue_key(secret=TEST_SECRET).token)
        yield PlatformDB("sqlite", url, key_file.read_text().strip(), key_file)


async def _eventually(check: Any, what: str, timeout_s: float = 240.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


@pytest.mark.timeout(900)
async def test_killing_a_replica_under_load_loses_no_request(
    own_db: PlatformDB, tmp_path: Path, tiny_model_dir: Path
) -> None:
    work = tmp_path / "work"
    app = create_service_app(
        modules=[load_module(m) for m in MODULES], settings=platform_settings(own_db, data_dir=tmp_path)
    )
    app.state.kms_settings = KmsSettings(root_key=TEST_KMS_ROOT_KEY)
    app.state.scheduler_options = SchedulerOptions(
        work_dir=work, tick_s=0.1, cycle_s=0.3, node_heartbeat_s=0.5
    )
    app.state.modelservice_options = ModelServiceOptions(
        tick_s=0.3, unhealthy_after=1, health_timeout_s=1.0, autoscaler_tick_s=60
    )
    app.state.gateway_settings = GatewaySettings(refresh_seconds=0.3, health_interval_seconds=1.0)
    async with app.router.lifespan_context(app), client_for(app, own_db.admin_token) as admin:
        tenant = await make_tenant(admin, roles=("developer",))
        name = unique("tiny")
        async with client_for(app, tenant.tokens["developer"]) as dev:
            base = f"/v1/tenants/{tenant.id}/model-services"
            svc = await ok(
                await dev.post(
                    base,
                    json={
                        "name": name,
                        "project_id": tenant.project_id,
                        "engine": "builtin",
                        "model_dir": str(tiny_model_dir),
                        "resources": {"cpu_milli": 500, "memory_mib": 512},
                        "replicas": 2,
                    },
                ),
                201,
            )

            async def two_ready() -> list[dict[str, Any]] | None:
                replicas = await ok(await dev.get(f"{base}/{svc['id']}/replicas"))
                return replicas if [r["state"] for r in replicas] == ["ready", "ready"] else None

            replicas = await _eventually(two_ready, "two ready replicas")

            async def routable() -> bool:
                entry = app.state.gateway.table.service(tenant.id, name)
                return entry is not None and len(entry.target.replicas) == 2

            await _eventually(routable, "the gateway to route both replicas", 30)
            victim = replicas[1]
            async with app.state.database.sessionmaker() as session:
                task = (
                    await session.execute(select(TaskRow).where(TaskRow.job_id == victim["job_id"]))
                ).scalar_one()
            pid = json.loads((work / "tasks" / f"{task.id}.{task.attempt}" / "pid.json").read_text())["child"]

            body = {"model": name, "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}
            statuses: list[int] = []

            async def one() -> None:
                statuses.append((await dev.post("/v1/chat/completions", json=body)).status_code)

            async def load() -> None:
                for _ in range(10):
                    await asyncio.gather(*(one() for _ in range(4)))

            running = asyncio.create_task(load())
            await _eventually(lambda: _async_true(len(statuses) >= 8), "load to start", 60)
            os.kill(pid, signal.SIGKILL)
            await running
            # replicas are detached processes that outlive the app by design: stop them here
            await ok(await dev.post(f"{base}/{svc['id']}/stop"))

            async def none_left() -> bool:
                replicas = await ok(await dev.get(f"{base}/{svc['id']}/replicas"))
                return not replicas

            await _eventually(none_left, "the replicas to stop", 60)
    assert len(statuses) == 40
    assert statuses.count(200) == 40, f"lost requests: {[s for s in statuses if s != 200]}"


async def _async_true(value: bool) -> bool:
    return value
