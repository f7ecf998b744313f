"""Restarting the scheduler service loses no job and places or starts none twice."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.conftest import PlatformDB, client_for
from tests.scheduler.service.conftest import command, options_for, started_app
from tests.services.builders import make_tenant, ok, unique


async def _job(app: object, token: str, tenant: str, job_id: str) -> dict:
    async with client_for(app, token) as client:  # type: ignore[arg-type]
        return await ok(await client.get(f"/v1/tenants/{tenant}/jobs/{job_id}"))


async def test_restart_mid_run_loses_nothing_and_places_nothing_twice(
    platform_db: PlatformDB, tmp_path: Path
) -> None:
    options = options_for(tmp_path / "work")
    app, context = await started_app(platform_db, options)
    try:
        async with client_for(app, platform_db.admin_token) as admin:
            t = await make_tenant(admin, roles=("developer",))
        code = "import time, os; time.sleep(1.5); print('finished', os.environ['STIC_ATTEMPT'])"
        spec = {
            "name": unique("durable"),
            "project_id": t.project_id,
            "groups": [
                {"name": "w", "replicas": 2, "cpu_milli": 100, "memory_mib": 64, "command": command(code)}
            ],
        }
        held = {**spec, "name": unique("held"), "start": False}
        async with client_for(app, t.tokens["developer"]) as dev:
            job = await ok(await dev.post(f"/v1/tenants/{t.id}/jobs", json=spec), 201)
            second = await ok(await dev.post(f"/v1/tenants/{t.id}/jobs", json=held), 201)
        deadline = time.monotonic() + 10
        while (await _job(app, t.tokens["developer"], t.id, job["id"]))["state"] != "running":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
    finally:
        await context.__aexit__(None, None, None)  # the service stops while the tasks run

    app, context = await started_app(platform_db, options)
    try:
        async with client_for(app, t.tokens["developer"]) as dev:
            assert (await ok(await dev.get(f"/v1/tenants/{t.id}/jobs/{second['id']}")))[
                "state"
            ] == "suspended"
            deadline = time.monotonic() + 15
            while (done := await _job(app, t.tokens["developer"], t.id, job["id"]))["state"] != "completed":
                assert done["state"] in ("running", "completed"), done
                assert time.monotonic() < deadline, done
                await asyncio.sleep(0.05)
            events = (await ok(await dev.get(f"/v1/tenants/{t.id}/jobs/{job['id']}/events?limit=500")))[
                "items"
            ]
            logs = await ok(await dev.get(f"/v1/tenants/{t.id}/jobs/{job['id']}/tasks/w-0/logs"))
            await dev.delete(f"/v1/tenants/{t.id}/jobs/{second['id']}")
    finally:
        await context.__aexit__(None, None, None)
    assert [task["attempt"] for task in done["tasks"]] == [0, 0]
    assert sorted(e["task"] for e in events if e["kind"] == "placed") == ["w-0", "w-1"]
    assert sorted(e["task"] for e in events if e["kind"] == "started") == ["w-0", "w-1"]
    assert logs["content"].strip() == "finished 0"
