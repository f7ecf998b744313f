"""Deleting a tenant stops its running work: no process outlives it, no job row is left."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import func, select

from scheduler.service.models import JobRow, TaskRow
from services.kernel.errors import Conflict
from services.kernel.tenant_hooks import tenant_deletion_hooks
from tests.scheduler.service.conftest import SchedEnv, cpu_job
from tests.services.builders import make_tenant, ok


def running(job: dict) -> bool:
    return job["state"] == "running" and all(t["state"] == "running" for t in job["tasks"])


def _processes_with(marker: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "cmdline").read_bytes():
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                continue
        except OSError:
            continue
        found.append(int(entry.name))
    return found


async def _rows(sched: SchedEnv, tenant_id: str) -> tuple[int, int]:
    async with sched.app.state.database.sessionmaker() as session:
        jobs = await session.scalar(
            select(func.count()).select_from(JobRow).where(JobRow.tenant_id == tenant_id)
        )
        tasks = await session.scalar(
            select(func.count()).select_from(TaskRow).where(TaskRow.tenant_id == tenant_id)
        )
    return int(jobs or 0), int(tasks or 0)


async def test_deleting_a_tenant_stops_its_running_processes(sched: SchedEnv) -> None:
    assert "scheduler" in tenant_deletion_hooks(sched.app).names
    t = await make_tenant(sched.admin, roles=("tenant-admin", "developer"))
    marker = f"stic-tenant-delete-{uuid.uuid4().hex}"
    code = f"import time; tag = {marker!r}; print('up', flush=True); time.sleep(60)"
    jobs = [await sched.submit(t, cpu_job(code=code, replicas=2)) for _ in range(2)]
    for job in jobs:
        await sched.wait(t, job["id"], running)
    assert len(_processes_with(marker)) >= 4  # two jobs of two tasks: wrapper and task processes

    await ok(await sched.admin.delete(f"/v1/tenants/{t.id}"), 204)

    assert _processes_with(marker) == []  # gone when the deletion answered, not later
    assert await _rows(sched, t.id) == (0, 0)
    assert (await sched.admin.get(f"/v1/tenants/{t.id}")).status_code == 404


async def test_a_hook_that_refuses_keeps_the_tenant_and_its_work(sched: SchedEnv) -> None:
    t = await sched.tenant()
    job = await sched.submit(t, cpu_job(code="import time; time.sleep(60)"))
    await sched.wait(t, job["id"], running)

    async def refuse(tenant_id: str) -> None:
        raise Conflict(f"tenant {tenant_id} is on legal hold")

    hooks = tenant_deletion_hooks(sched.app)
    hooks.unregister("scheduler")  # only the refusing hook runs: the job must survive untouched
    hooks.register("hold", refuse)
    try:
        refused = await sched.admin.delete(f"/v1/tenants/{t.id}")
    finally:
        hooks.unregister("hold")
    assert refused.status_code == 409 and "legal hold" in refused.text
    assert (await sched.job(t, job["id"]))["state"] == "running"
    assert await _rows(sched, t.id) == (1, 1)
