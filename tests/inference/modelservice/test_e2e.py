"""End to end on this machine: a builtin-engine service with the tiny model, replicas as real
scheduler jobs run by the local executor.

One test walks the whole life (replica starts take seconds on 2 cores): create → running →
``/test`` answers → scale to 2 (two ready replicas on different ports) → kill one replica's
process → the scheduler restarts it in place and it is ready again → the directory lists both →
stop → the jobs are gone and the ports closed. SQLite only: the database does not change what
is exercised here, and the API tests run on both.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from inference.modelservice.directory import load_directory
from inference.modelservice.options import ModelServiceOptions
from scheduler.service.models import TaskRow
from scheduler.service.options import SchedulerOptions
from tests.conftest import PlatformDB, client_for
from tests.inference.modelservice.conftest import compose
from tests.services.builders import make_tenant, ok, unique

START_LIMIT_S = 240.0


async def eventually(probe: Callable[[], Awaitable[Any]], until: Callable[[Any], bool], what: str) -> Any:
    """Poll ``probe`` until ``until(value)``; fails naming ``what`` and the last value."""
    deadline = time.monotonic() + START_LIMIT_S
    value = None
    while time.monotonic() < deadline:
        value = await probe()
        if until(value):
            return value
        await asyncio.sleep(0.5)
    raise AssertionError(f"{what} did not happen in {START_LIMIT_S} s; last: {value}")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_builtin_service_lifecycle_on_real_replicas(
    own_sqlite_db: PlatformDB, tmp_path: Path, tiny_model_dir: Path
) -> None:
    work = tmp_path / "work"
    app = compose(
        own_sqlite_db,
        tmp_path,
        scheduler=SchedulerOptions(work_dir=work, tick_s=0.1, cycle_s=0.3, node_heartbeat_s=0.5),
        models=ModelServiceOptions(tick_s=0.3, unhealthy_after=1, health_timeout_s=1.0, autoscaler_tick_s=60),
    )
    async with app.router.lifespan_context(app), client_for(app, own_sqlite_db.admin_token) as admin:
        t = await make_tenant(admin, roles=("developer",))
        async with client_for(app, t.tokens["developer"]) as dev:
            base = f"/v1/tenants/{t.id}/model-services"
            body = {
                "name": unique("tiny"),
                "project_id": t.project_id,
                "engine": "builtin",
                "model_dir": str(tiny_model_dir),
                "served_model_name": "tiny-test",
                "resources": {"cpu_milli": 500, "memory_mib": 512},
            }
            svc = await ok(await dev.post(base, json=body), 201)
            url = f"{base}/{svc['id']}"

            async def service() -> dict[str, Any]:
                return await ok(await dev.get(url))

            async def replicas() -> list[dict[str, Any]]:
                return list(await ok(await dev.get(f"{url}/replicas")))

            try:
                await eventually(service, lambda s: s["state"] == "running", "first replica ready")
                answer = await ok(await dev.post(f"{url}/test", json={"prompt": "Hello", "max_tokens": 4}))
                assert isinstance(answer["answer"], str) and answer["latency_ms"] > 0
                assert answer["usage"]["completion_tokens"] >= 1 and answer["simulated"] is False

                await ok(await dev.post(f"{url}/scale", json={"replicas": 2}))
                both = await eventually(
                    replicas, lambda rs: [r["state"] for r in rs] == ["ready", "ready"], "two ready replicas"
                )
                assert len({r["port"] for r in both}) == 2
                assert {r["node"] for r in both} == {app.state.scheduler.local_node}

                victim = both[1]
                async with app.state.database.sessionmaker() as session:
                    task = (
                        await session.execute(select(TaskRow).where(TaskRow.job_id == victim["job_id"]))
                    ).scalar_one()
                pid = json.loads((work / "tasks" / f"{task.id}.{task.attempt}" / "pid.json").read_text())[
                    "child"
                ]
                os.kill(pid, signal.SIGKILL)
                back = await eventually(
                    replicas,
                    lambda rs: rs[1]["attempt"] == task.attempt + 1 and rs[1]["state"] == "ready",
                    "the killed replica restarted in place and ready",
                )
                assert back[1]["port"] == victim["port"] and back[1]["job_id"] == victim["job_id"]
                kinds = {e["kind"] for e in (await ok(await dev.get(f"{url}/events?limit=200")))["items"]}
                assert {"replica-restarted", "replica-ready"} <= kinds

                async with app.state.database.sessionmaker() as session:
                    [target] = [s for s in await load_directory(session) if s.service_id == svc["id"]]
                assert sorted(r.api_base for r in target.replicas) == sorted(r["api_base"] for r in back)
                status = await ok(await dev.get(f"{url}/status"))
                assert status["replicas"]["by_state"] == {"ready": 2}
                assert all(d["rss_mib"] and d["rss_mib"] > 0 for d in status["replicas"]["details"])

                await ok(await dev.post(f"{url}/stop"))
                await eventually(service, lambda s: s["state"] == "stopped", "service stopped")
                jobs = await ok(await dev.get(f"/v1/tenants/{t.id}/jobs"))
                assert jobs["items"] == [], "stopping deletes the replicas' jobs"
                await eventually(
                    lambda: asyncio.sleep(0, result=[port_open(r["port"]) for r in back]),
                    lambda opened: not any(opened),
                    "replica ports closed",
                )
            finally:
                await dev.delete(url)
