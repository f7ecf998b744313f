"""Gaps closed in the scheduling loop: failure windows, avoided nodes, pending reasons, vanishing rows."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.service.jobs import add_event
from scheduler.service.models import JobEventRow, JobRow, NodeRow
from services.kernel.db import utcnow
from tests.scheduler.service.conftest import SchedEnv, cpu_job, in_state
from tests.scheduler.service.test_fault_tolerance import CRASH_FIRST, chip_job, chip_node, recovery
from tests.services.builders import ok, unique


async def _add_nodes(sched: SchedEnv, model: str, count: int) -> list[str]:
    names = [unique("n") for _ in range(count)]
    for name in names:
        await ok(await sched.admin.post("/v1/nodes", json=chip_node(name, model)), 201)
    return names


async def _remove_nodes(sched: SchedEnv, names: list[str]) -> None:
    await sched.cleanup()
    for name in names:
        assert (await sched.admin.delete(f"/v1/nodes/{name}")).status_code == 204


@pytest.mark.parametrize(("age_s", "cordoned"), [(3600.0, False), (5.0, True)])
async def test_node_failures_count_only_within_the_window(
    sched: SchedEnv, age_s: float, cordoned: bool
) -> None:
    """Two earlier failures of other jobs plus one now cordon the node only if they are recent."""
    model = unique("chip")
    [name] = await _add_nodes(sched, model, 1)
    earlier = (utcnow() - timedelta(seconds=age_s)).isoformat()
    async with sched.app.state.database.sessionmaker() as session:
        await session.execute(
            update(NodeRow)
            .where(NodeRow.name == name)
            .values(failed_jobs=[{"job": "job_a", "at": earlier}, {"job": "job_b", "at": earlier}])
        )
        await session.commit()
    assert sched.app.state.scheduler.options.failure_window_s == 600
    t = await sched.tenant()
    job = await sched.submit(t, chip_job(model, CRASH_FIRST, **recovery(policy="restart_in_place")))
    if cordoned:
        await sched.wait(t, job["id"], lambda j: any(e for e in j["tasks"] if e["attempt"] >= 1))
        node = await ok(await sched.admin.get(f"/v1/nodes/{name}"))
        deadline = asyncio.get_running_loop().time() + 5
        while not node["cordoned"] and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
            node = await ok(await sched.admin.get(f"/v1/nodes/{name}"))
        assert node["cordoned"] and "within 600s" in node["cordon_reason"], node
    else:
        done = await sched.wait(t, job["id"], in_state("completed", "failed"))
        assert done["state"] == "completed" and done["retries"] == 1
        node = await ok(await sched.admin.get(f"/v1/nodes/{name}"))
        assert not node["cordoned"], node
    async with sched.app.state.database.sessionmaker() as session:
        row = (await session.execute(select(NodeRow).where(NodeRow.name == name))).scalar_one()
    kept = [r["job"] for r in row.failed_jobs]
    assert kept[-1] == job["id"] and (("job_a" in kept) is cordoned)
    if cordoned:
        await ok(await sched.admin.post(f"/v1/nodes/{name}/uncordon"))
    await _remove_nodes(sched, [name])


async def test_a_rescheduled_job_is_not_placed_again_on_the_node_it_failed_on(sched: SchedEnv) -> None:
    model = unique("chip")
    names = await _add_nodes(sched, model, 2)
    t = await sched.tenant()
    job = await sched.submit(t, chip_job(model, CRASH_FIRST, **recovery(policy="reschedule")))
    done = await sched.wait(t, job["id"], in_state("completed", "failed"))
    events = await sched.events(t, job["id"])
    placed = [e["message"].split()[1] for e in events if e["kind"] == "placed"]
    assert done["state"] == "completed" and len(placed) == 2, events
    assert placed[0] != placed[1] and set(placed) == set(names)
    assert done["avoid_nodes"] == [placed[0]]
    assert any(e["kind"] == "avoid" and e["message"].startswith(placed[0]) for e in events)
    await _remove_nodes(sched, names)


async def test_a_job_that_fits_only_on_its_avoided_node_waits_with_that_reason(sched: SchedEnv) -> None:
    model = unique("chip")
    [bad] = await _add_nodes(sched, model, 1)
    t = await sched.tenant()
    job = await sched.submit(t, chip_job(model, CRASH_FIRST, **recovery(policy="reschedule")))
    waiting = await sched.wait(
        t, job["id"], lambda j: j["state"] == "queued" and any("avoided" in r for r in j["reasons"])
    )
    assert waiting["avoid_nodes"] == [bad] and waiting["retries"] == 1
    assert all(task["node"] is None for task in waiting["tasks"])
    [good] = await _add_nodes(sched, model, 1)
    done = await sched.wait(t, job["id"], in_state("completed", "failed"))
    assert done["state"] == "completed" and done["tasks"][0]["node"] == good
    await _remove_nodes(sched, [bad, good])


async def test_a_job_refused_admission_shows_the_queue_reason(sched: SchedEnv) -> None:
    """Enqueue's reasons reach the job's status (not just a transition message)."""
    t = await sched.tenant()
    queue = await ok(
        await sched.admin.post(f"/v1/tenants/{t.id}/queues", json={"name": "small", "cap": {"cpu": 150}}), 201
    )
    sleeper = cpu_job(code="import time; time.sleep(30)", queue="small")
    first = await sched.submit(t, sleeper)
    await sched.wait(t, first["id"], in_state("running"))
    second = await sched.submit(t, cpu_job(queue="small"))
    waiting = await sched.wait(t, second["id"], lambda j: bool(j["reasons"]))
    assert waiting["state"] == "pending", waiting
    assert any(r.startswith("capacity: queue") and queue["id"] in r for r in waiting["reasons"]), waiting


async def test_deleting_a_tenant_right_after_its_jobs_logs_no_scheduler_error(
    sched: SchedEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stic.scheduler")
    for _ in range(3):
        t = await sched.tenant()
        jobs = [
            await sched.submit(t, cpu_job(code="import time; time.sleep(30)", replicas=2)) for _ in range(2)
        ]
        await sched.wait(t, jobs[0]["id"], in_state("running"))
        for job in jobs:
            assert (await sched.admin.delete(f"/v1/tenants/{t.id}/jobs/{job['id']}")).status_code == 204
        assert (await sched.admin.delete(f"/v1/tenants/{t.id}")).status_code == 204
        sched.tenants.remove(t)
    await asyncio.sleep(1.0)  # several ticks: stop, release, cycle over the vanished rows
    errors = [r for r in caplog.records if r.name == "stic.scheduler" and r.levelno >= logging.WARNING]
    assert errors == [], [(r.getMessage(), r.exc_text) for r in errors]


async def test_a_step_that_loses_its_rows_mid_transaction_is_retried_quietly(
    sched: SchedEnv, caplog: pytest.LogCaptureFixture
) -> None:
    """A job deleted (with its tenant) while the loop holds it: rolled back, no error, nothing left."""
    caplog.set_level(logging.INFO, logger="stic.scheduler")
    t = await sched.tenant()
    job = await sched.submit(t, cpu_job(start=False))
    controller = sched.app.state.scheduler
    database = sched.app.state.database

    async def work(session: AsyncSession) -> None:
        row = await session.get(JobRow, job["id"])
        assert row is not None
        async with database.sessionmaker() as other:  # the API deletes the job meanwhile
            await other.execute(delete(JobRow).where(JobRow.id == job["id"]))
            await other.commit()
        row.reasons = ["the loop still thinks this job exists"]
        add_event(session, row, "note", "written for a job that is gone")

    assert await controller._step(work) is False
    errors = [r for r in caplog.records if r.name == "stic.scheduler" and r.levelno >= logging.WARNING]
    assert errors == []
    assert any(r.getMessage() == "scheduler step retried" for r in caplog.records)
    async with database.sessionmaker() as session:
        assert await session.get(JobRow, job["id"]) is None
        events = await session.execute(select(JobEventRow).where(JobEventRow.job_id == job["id"]))
        assert events.first() is None
