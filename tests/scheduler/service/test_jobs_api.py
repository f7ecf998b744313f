"""Jobs through the API: examples on the demo inventory, pending and unschedulable reasons,
bad specs, quota, lifecycle, logs, events and metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from scheduler.service.jobspec import parse_yaml
from tests.conftest import client_for
from tests.scheduler.service.conftest import SchedEnv, command, cpu_job, in_state
from tests.services.builders import ok, unique

EXAMPLES = Path(__file__).parents[3] / "scheduler" / "examples"
SLEEP = "import time; time.sleep(60)"


def gpu_job(
    gpus: int, *, replicas: int = 1, types: list[str] | None = None, code: str = SLEEP, **extra: object
) -> dict:
    return {
        "name": unique("gpu"),
        "groups": [
            {
                "name": "w",
                "replicas": replicas,
                "cpu_milli": 100,
                "memory_mib": 64,
                "accelerators": {"count": gpus, "types": types or ["A100-SXM4-80GB"]},
                "command": command(code),
            }
        ],
        **extra,
    }


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
async def test_examples_are_placed_and_run_on_the_demo_inventory(sched: SchedEnv, example: str) -> None:
    t = await sched.tenant()
    spec = parse_yaml((EXAMPLES / example).read_text(), project_id=t.project_id).model_dump(mode="json")
    spec["name"] = unique("ex")
    job = await sched.submit(t, spec)
    done = await sched.wait(t, job["id"], in_state("completed", "failed"), limit_s=30)
    assert done["state"] == "completed", await sched.events(t, job["id"])
    assert all(task["node"] for task in done["tasks"])
    if example.startswith("train"):
        nodes = {task["group"]: task["node"] for task in done["tasks"]}
        assert nodes["nv"].startswith("demo-nv") and nodes["ascend"].startswith("demo-ascend")
        assert done["simulated"] and all(task["simulated"] for task in done["tasks"])
        async with client_for(sched.app, t.tokens["viewer"]) as client:
            logs = await ok(await client.get(f"/v1/tenants/{t.id}/jobs/{job['id']}/tasks/ascend-1/logs"))
        assert "rank 3/4" in logs["content"] and "simulated=1" in logs["content"]
    if example.startswith("inference"):
        assert all(task["accel_milli"] == 250 and task["accel_memory_mib"] == 8192 for task in done["tasks"])


async def test_job_that_cannot_fit_now_is_pending_with_each_plugins_reasons(sched: SchedEnv) -> None:
    t = await sched.tenant()
    hog = await sched.submit(t, gpu_job(8, replicas=2))
    await sched.wait(t, hog["id"], in_state("running"))
    waiting = await sched.submit(t, gpu_job(8))
    job = await sched.wait(t, waiting["id"], lambda j: j["state"] == "queued" and j["reasons"])
    assert any(r.startswith("predicates:") for r in job["reasons"]), job["reasons"]
    assert not job["unschedulable"]
    await sched.admin.delete(f"/v1/tenants/{t.id}/jobs/{hog['id']}")
    await sched.wait(t, waiting["id"], in_state("running"))


async def test_job_that_can_never_fit_is_unschedulable_with_reasons(sched: SchedEnv) -> None:
    t = await sched.tenant()
    job = await sched.submit(t, gpu_job(16))
    done = await sched.wait(t, job["id"], in_state("unschedulable"))
    assert done["unschedulable"] and done["reasons"]
    assert any("16" in r or "never" in r or "predicates" in r for r in done["reasons"]), done["reasons"]


BAD_SPECS = [
    (
        {"groups": [{"name": "w", "command": ["true"], "accelerators": {"types": ["tpu-v9"]}}]},
        "groups[0].accelerators.types[0]",
    ),
    ({"min_available": 5}, "min_available"),
    ({"topology": {"tier": "rack"}}, "topology.tier"),
    ({"queue": "nowhere"}, "queue"),
    ({"priority_class": "urgent"}, "priority_class"),
    ({"groups": [{"name": "w", "replicas": 0, "command": ["true"]}]}, "groups.0.replicas"),
    ({"groups": [{"name": "w", "command": ["true"], "colour": "red"}]}, "groups.0.colour"),
    ({"groups": [{"name": "w", "command": ["true"], "min_replicas": 3}]}, "groups[0].min_replicas"),
]


async def test_invalid_specs_are_rejected_with_422_naming_the_field(sched: SchedEnv) -> None:
    t = await sched.tenant()
    for change, field in BAD_SPECS:
        body = await sched.submit(t, {**cpu_job(replicas=2), **change}, status=422)
        detail = body["detail"]
        fields = [detail["field"]] if isinstance(detail, dict) else [p["field"] for p in detail]
        assert any(field in f for f in fields), (change, body)
    page = await ok(await sched.admin.get(f"/v1/tenants/{t.id}/jobs"))
    assert page["total"] == 0


async def test_quota_exceeded_is_a_409_naming_level_and_resource(sched: SchedEnv) -> None:
    t = await sched.tenant()
    await ok(
        await sched.admin.put(
            f"/v1/tenants/{t.id}/projects/{t.project_id}/quota", json={"limits": {"cpu_millicores": 150}}
        )
    )
    body = await sched.submit(t, cpu_job(replicas=2), status=409)
    assert body["error"] == "quota_exceeded"
    assert body["detail"]["level"] == "project" and body["detail"]["resource"] == "cpu_millicores"


async def test_lifecycle_start_suspend_resume_delete_and_quota_release(sched: SchedEnv) -> None:
    t = await sched.tenant()
    job = await sched.submit(t, {**cpu_job(code=SLEEP), "start": False})
    assert job["state"] == "suspended" and job["reasons"]
    async with client_for(sched.app, t.tokens["developer"]) as dev:
        base = f"/v1/tenants/{t.id}/jobs/{job['id']}"
        await ok(await dev.post(f"{base}/start"))
        running = await sched.wait(t, job["id"], in_state("running"))
        assert running["tasks"][0]["state"] == "running"
        suspended = await ok(await dev.post(f"{base}/suspend"))
        assert suspended["state"] == "suspended"
        stopped = await sched.wait(t, job["id"], lambda j: j["tasks"][0]["state"] == "pending")
        assert stopped["tasks"][0]["node"] is None
        assert (await dev.post(f"{base}/start")).status_code == 409
        await ok(await dev.post(f"{base}/resume"))
        again = await sched.wait(
            t, job["id"], lambda j: j["state"] == "running" and j["tasks"][0]["state"] == "running"
        )
        assert again["tasks"][0]["attempt"] == 1
        metrics = await ok(await dev.get(f"{base}/metrics"))
        assert metrics["tasks"][0]["runtime_s"] is not None
        kinds = [e["kind"] for e in await sched.events(t, job["id"])]
        assert kinds[0] == "submitted" and "stopped" in kinds
        assert (await dev.delete(base)).status_code == 204
        assert (await dev.get(base)).status_code == 404
    for _ in range(100):
        quota = await ok(await sched.admin.get(f"/v1/tenants/{t.id}/projects/{t.project_id}/quota"))
        if not quota["used"]:
            break
        await asyncio.sleep(0.05)
    assert quota["used"] == {}, quota


async def test_logs_and_events_of_a_completed_job(sched: SchedEnv) -> None:
    t = await sched.tenant()
    job = await sched.submit(
        t,
        cpu_job(
            replicas=2, code="import os; print('rank', os.environ['RANK'], 'of', os.environ['WORLD_SIZE'])"
        ),
    )
    await sched.wait(t, job["id"], in_state("completed"))
    async with client_for(sched.app, t.tokens["viewer"]) as viewer:
        logs = await ok(await viewer.get(f"/v1/tenants/{t.id}/jobs/{job['id']}/tasks/worker-1/logs"))
        assert logs["content"].strip() == "rank 1 of 2"
        assert (
            await viewer.get(f"/v1/tenants/{t.id}/jobs/{job['id']}/tasks/worker-9/logs")
        ).status_code == 404
    transitions = [
        (e["source"], e["target"]) for e in await sched.events(t, job["id"]) if e["kind"] == "transition"
    ]
    assert transitions == [
        ("pending", "queued"),
        ("queued", "scheduled"),
        ("scheduled", "running"),
        ("running", "completed"),
    ]
