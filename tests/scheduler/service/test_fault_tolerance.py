"""Fault tolerance with real processes: crashes, hangs, checkpoints, lost and slow nodes.

Every job here recovers (or fails for good) without anyone acting on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from tests.scheduler.service.conftest import SchedEnv, command, cpu_job, in_state
from tests.services.builders import ok, unique

CRASH_FIRST = "import os, sys; sys.exit(3 if os.environ['STIC_ATTEMPT'] == '0' else 0)"
HANG_FIRST = (
    "import os, time; print('STIC_HEARTBEAT', flush=True); "
    "time.sleep(60 if os.environ['STIC_ATTEMPT'] == '0' else 0)"
)
CHECKPOINTED = """
import os, pathlib, sys, time
ckpt = pathlib.Path(os.environ['STIC_CHECKPOINT_DIR']); ckpt.mkdir(parents=True, exist_ok=True)
resume = os.environ.get('STIC_RESUME_FROM')
start = int(pathlib.Path(resume).read_text()) if resume else 0
print('resumed from', start if resume else 'scratch', flush=True)
for step in range(start + 1, 6):
    (ckpt / f'step-{step}').write_text(str(step)); time.sleep(0.01)
    print('STIC_PROGRESS', step, flush=True)
    if step == 3 and os.environ['STIC_ATTEMPT'] == '0':
        sys.exit(1)
print('finished at', step)
"""


def recovery(**kw: object) -> dict:
    return {"recovery": {"backoff_seconds": 0.1, **kw}}


async def test_abnormal_exit_restarts_in_place_and_completes(sched: SchedEnv) -> None:
    t = await sched.tenant()
    job = await sched.submit(t, cpu_job(code=CRASH_FIRST, **recovery(policy="restart_in_place")))
    done = await sched.wait(t, job["id"], in_state("completed", "failed"))
    assert done["state"] == "completed" and done["retries"] == 1
    assert done["tasks"][0]["attempt"] == 1
    events = await sched.events(t, job["id"])
    assert any(
        e["kind"] == "fault" and "abnormal_exit" in e["message"] and "code 3" in e["message"] for e in events
    )
    assert any(e["kind"] == "recovery" and e["message"].startswith("restart:") for e in events)


async def test_retry_limit_fails_the_job_with_backoff_between_attempts(sched: SchedEnv) -> None:
    t = await sched.tenant()
    job = await sched.submit(
        t, cpu_job(code="import sys; sys.exit(2)", **recovery(policy="reschedule", max_retries=2))
    )
    done = await sched.wait(t, job["id"], in_state("failed"))
    assert done["retries"] == 2 and "retry limit 2 reached" in done["reasons"][0]
    starts = [e["time"] for e in await sched.events(t, job["id"]) if e["kind"] == "started"]
    assert len(starts) == 3


async def test_hang_without_heartbeat_is_detected_and_restarted(sched: SchedEnv) -> None:
    t = await sched.tenant()
    spec = cpu_job(code=HANG_FIRST, **recovery(policy="restart_in_place", heartbeat_timeout_seconds=1.5))
    job = await sched.submit(t, spec)
    done = await sched.wait(t, job["id"], in_state("completed", "failed"))
    assert done["state"] == "completed" and done["retries"] == 1
    assert any(
        e["kind"] == "fault" and e["message"].startswith("hang:") for e in await sched.events(t, job["id"])
    )


async def test_restart_from_latest_checkpoint(sched: SchedEnv) -> None:
    t = await sched.tenant()
    job = await sched.submit(t, cpu_job(code=CHECKPOINTED, **recovery(policy="restart_from_checkpoint")))
    done = await sched.wait(t, job["id"], in_state("completed", "failed"))
    assert done["state"] == "completed"
    async with sched_client(sched, t) as client:
        first = await ok(
            await client.get(f"/v1/tenants/{t.id}/jobs/{job['id']}/tasks/worker-0/logs?attempt=0")
        )
        second = await ok(await client.get(f"/v1/tenants/{t.id}/jobs/{job['id']}/tasks/worker-0/logs"))
    assert "resumed from scratch" in first["content"]
    assert "resumed from 3" in second["content"] and "finished at 5" in second["content"]


@contextlib.asynccontextmanager
async def sched_client(sched: SchedEnv, t: object) -> AsyncIterator[object]:
    from tests.conftest import client_for

    async with client_for(sched.app, t.tokens["developer"]) as client:  # type: ignore[attr-defined]
        yield client


def chip_node(name: str, model: str) -> dict:
    return {
        "name": name,
        "cpu_milli": 4000,
        "memory_mib": 8192,
        "leaf": "local-leaf",
        "simulated": True,
        "accelerators": {
            "vendor": "other",
            "model": model,
            "memory_mib": 1024,
            "compute_units": 1,
            "count": 1,
        },
    }


def chip_job(model: str, code: str, replicas: int = 1, **extra: object) -> dict:
    return {
        "name": unique("chip"),
        "groups": [
            {
                "name": "w",
                "replicas": replicas,
                "cpu_milli": 100,
                "memory_mib": 64,
                "accelerators": {"types": [model]},
                "command": command(code),
            }
        ],
        **extra,
    }


async def test_lost_node_is_cordoned_and_its_job_moves_elsewhere(sched: SchedEnv) -> None:
    model = unique("chip")
    names = [unique("n"), unique("n")]
    for name in names:
        await ok(await sched.admin.post("/v1/nodes", json=chip_node(name, model)), 201)
        await ok(await sched.admin.post(f"/v1/nodes/{name}/heartbeat", json={}))
    sched.app.state.scheduler.options.node_heartbeat_timeout_s = 2.0  # margin for a loaded machine
    sched.app.state.scheduler.monitor.started_at = sched.app.state.scheduler.monitor.started_at.replace(
        year=2000
    )
    beating = set(names)

    async def beat() -> None:  # the node agents: only nodes still in ``beating`` report
        while True:
            for name in list(beating):
                await sched.admin.post(f"/v1/nodes/{name}/heartbeat", json={})
            await asyncio.sleep(0.2)

    agents = asyncio.create_task(beat())
    try:
        t = await sched.tenant()
        code = "import os, time; time.sleep(60 if os.environ['STIC_ATTEMPT'] == '0' else 0)"
        job = await sched.submit(t, chip_job(model, code, **recovery(policy="restart_in_place")))
        running = await sched.wait(t, job["id"], in_state("running"))
        lost = running["tasks"][0]["node"]
        alive = next(n for n in names if n != lost)
        beating.discard(lost)
        done = await sched.wait(t, job["id"], in_state("completed", "failed"), limit_s=20)
    finally:
        agents.cancel()
    assert done["state"] == "completed" and done["tasks"][0]["node"] == alive
    node = await ok(await sched.admin.get(f"/v1/nodes/{lost}"))
    assert node["cordoned"] and "lost" in node["cordon_reason"]
    kinds = [e["kind"] for e in await ok(await sched.admin.get(f"/v1/nodes/{lost}/events"))]
    assert "cordoned" in kinds and "lost" in kinds
    assert any(e["kind"] == "fault" and "node_lost" in e["message"] for e in await sched.events(t, job["id"]))
    await sched.cleanup()
    for name in names:
        assert (await sched.admin.delete(f"/v1/nodes/{name}")).status_code == 204


async def test_straggler_marks_its_node_slow(sched: SchedEnv) -> None:
    model = unique("chip")
    names = [unique("n") for _ in range(3)]
    for name in names:
        await ok(await sched.admin.post("/v1/nodes", json=chip_node(name, model)), 201)
    t = await sched.tenant()
    code = (
        "import os, time\n"
        "slow = os.environ['RANK'] == '2'\n"
        "for step in range(40):\n"
        "    print('STIC_PROGRESS', step // 10 if slow else step, flush=True); time.sleep(0.05)\n"
    )
    job = await sched.submit(t, chip_job(model, code, replicas=3))
    running = await sched.wait(t, job["id"], in_state("running"))
    slow_node = next(task["node"] for task in running["tasks"] if task["rank"] == 2)
    await sched.wait(t, job["id"], in_state("completed"))
    node = await ok(await sched.admin.get(f"/v1/nodes/{slow_node}"))
    assert node["health"] == "degraded" and node["slowdown"] > 2, node
    assert any(e["kind"] == "fault" and "straggler" in e["message"] for e in await sched.events(t, job["id"]))
    for name in names:
        assert (await sched.admin.delete(f"/v1/nodes/{name}")).status_code == 204
