"""The scheduler probes pass on the real platform, leave nothing behind, and fail when broken."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from scheduler.service.probes import PROBES
from services.assessment.probes.base import Probe, ProbeContext, ProbeFailure, ProbeResult
from services.assessment.status import Status
from tests.conftest import PlatformDB, client_for
from tests.services.faults import FaultInjector, RewriteJSON, RewriteStatus, Rule

JOB = r"/v1/tenants/[^/]+/jobs/[^/]+"


def _place_one_task_of_a_waiting_job(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("state") == "queued" and job.get("tasks"):
        job["tasks"][0]["node"] = "somewhere"
    return job


def _shared_tasks_take_whole_devices(job: dict[str, Any]) -> dict[str, Any]:
    for task in job.get("tasks", []):
        task["accel_milli"] = 1000
    return job


def _drop_fault_events(page: dict[str, Any]) -> dict[str, Any]:
    return {**page, "items": [e for e in page["items"] if e["kind"] != "fault"]}


def _two_device_tasks_get_the_lowest_devices(job: dict[str, Any]) -> dict[str, Any]:
    for task in job.get("tasks", []):
        if len(task["devices"]) == 2:
            task["devices"] = [0, 1]
    return job


def _spread_jobs_land_on_one_node(job: dict[str, Any]) -> dict[str, Any]:
    tasks = job.get("tasks", [])
    if job.get("spec", {}).get("placement") == "spread" and tasks:
        for task in tasks:
            task["node"] = tasks[0]["node"]
    return job


def _overcommitted_slice_runs(job: dict[str, Any]) -> dict[str, Any]:
    tasks = job.get("tasks", [])
    if any(t["name"].startswith("over") for t in tasks):
        job = {**job, "state": "running", "reasons": []}
        job["tasks"] = [{**t, "state": "running", "node": "somewhere"} for t in tasks]
    return job


def _drop_evictions(page: dict[str, Any]) -> dict[str, Any]:
    return {**page, "items": [e for e in page["items"] if e["kind"] != "evicted"]}


BREAKAGES: dict[str, Rule] = {
    # task output is lost: logs come back empty
    "scheduler.job-lifecycle": RewriteJSON("GET", JOB + r"/tasks/[^/]+/logs", lambda d: {**d, "content": ""}),
    # quota enforcement broken: a job beyond the quota is accepted
    "scheduler.job-quota": RewriteStatus("POST", r"/v1/tenants/[^/]+/jobs", 409, 201),
    # gang broken: part of a waiting gang is placed
    "scheduler.gang-accelerator-types": RewriteJSON("GET", JOB, _place_one_task_of_a_waiting_job),
    # sharing broken: a shared task holds a whole device
    "scheduler.shared-exclusive": RewriteJSON("GET", JOB, _shared_tasks_take_whole_devices),
    # fault detection broken: no fault is ever recorded
    "scheduler.fault-recovery": RewriteJSON("GET", JOB + "/events", _drop_fault_events),
    # isolation broken: a failing node never shows as cordoned
    "scheduler.node-isolation": RewriteJSON("GET", r"/v1/nodes/[^/]+", lambda n: {**n, "cordoned": False}),
    # intra-node topology ignored: a 2-device task gets devices 0 and 1, which share only PCIe
    "scheduler.topology-aware": RewriteJSON("GET", JOB, _two_device_tasks_get_the_lowest_devices),
    # placement policy ignored: a spread job's tasks share a node
    "scheduler.binpack-spread": RewriteJSON("GET", JOB, _spread_jobs_land_on_one_node),
    # mixing broken: inference replicas take whole devices
    "scheduler.mixed-train-inference": RewriteJSON("GET", JOB, _shared_tasks_take_whole_devices),
    # preemption broken: nothing is ever evicted
    "scheduler.priority-preemption": RewriteJSON("GET", JOB + "/events", _drop_evictions),
    # borrowing broken: a queue never holds more than nothing
    "scheduler.queue-borrowing": RewriteJSON(
        "GET", r"/v1/tenants/[^/]+/queues/[^/]+", lambda q: {**q, "allocated": {}}
    ),
    # elastic shrink broken: no replica is ever given back
    "scheduler.elastic": RewriteJSON("GET", JOB + "/events", _drop_evictions),
    # listing broken: jobs never show in GET /jobs, so `stic job list` and the API miss both jobs
    "scheduler.submission-paths": RewriteJSON("GET", r"/v1/tenants/[^/]+/jobs", lambda p: {**p, "items": []}),
    # sub-health detection broken: a slow node still reads healthy
    "scheduler.straggler-detection": RewriteJSON(
        "GET", r"/v1/nodes/[^/]+", lambda n: {**n, "health": "healthy"}
    ),
    # network judgement broken: no node ever reads network-slow
    "scheduler.network-slow-node": RewriteJSON(
        "GET", r"/v1/nodes/[^/]+", lambda n: {**n, "network": {**n.get("network", {}), "slow": False}}
    ),
    # lost-card detection broken: a node never lists a lost device
    "scheduler.lost-accelerator": RewriteJSON(
        "GET", r"/v1/nodes/[^/]+", lambda n: {**n, "lost_accelerators": []}
    ),
    # card memory over-committed: a slice beyond the card's memory is placed and runs
    "scheduler.domestic-chip-sharing": RewriteJSON("GET", JOB, _overcommitted_slice_runs),
}
# probes that run on simulated nodes they register
SIMULATED_PROBES = {
    "scheduler.gang-accelerator-types",
    "scheduler.shared-exclusive",
    "scheduler.fault-recovery",
    "scheduler.node-isolation",
    "scheduler.topology-aware",
    "scheduler.binpack-spread",
    "scheduler.mixed-train-inference",
    "scheduler.priority-preemption",
    "scheduler.queue-borrowing",
    "scheduler.elastic",
    "scheduler.straggler-detection",
    "scheduler.network-slow-node",
    "scheduler.lost-accelerator",
    "scheduler.domestic-chip-sharing",
}


async def _run(probe: Probe, app: Any, token: str) -> ProbeResult:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stic.test") as client:
        return await probe.run(ProbeContext(client=client, admin_key=token))


async def _nodes(app: FastAPI, token: str) -> list[dict[str, Any]]:
    async with client_for(app, token) as admin:
        response = await admin.get("/v1/nodes?limit=500")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _probe_tenants(app: FastAPI, token: str) -> list[str]:
    async with client_for(app, token) as admin:
        response = await admin.get("/v1/tenants?limit=500")
    assert response.status_code == 200, response.text
    return [t["name"] for t in response.json()["items"] if t["name"].startswith("probe-")]


async def _probe_domains(app: FastAPI, token: str) -> list[str]:
    async with client_for(app, token) as admin:
        response = await admin.get("/v1/topology")
    assert response.status_code == 200, response.text
    return [d["name"] for d in response.json()["domains"] if d["name"].startswith("probe-")]


def test_every_probe_has_a_breakage() -> None:
    assert {p.name for p in PROBES} == set(BREAKAGES)


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
async def test_probe_passes_on_the_real_platform_and_cleans_up(
    probe: Probe, platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    result = await _run(probe, platform_app, platform_db.admin_token)
    nodes = await _nodes(platform_app, platform_db.admin_token)
    if probe.name in SIMULATED_PROBES:
        assert result.status is Status.SIMULATED, result.message
    elif result.status is not Status.VERIFIED:
        assert result.status is Status.SIMULATED, result.message
        assert any(n["simulated"] for n in nodes), "simulated although no simulated node exists"
    calls = [e for e in result.evidence if e.kind == "http"]
    assert len(calls) >= 8
    assert all(e.details["status_code"] and len(e.details["response_sm3"]) == 64 for e in calls)
    assert not [n["name"] for n in nodes if n["name"].startswith("probe-")]
    assert not await _probe_tenants(platform_app, platform_db.admin_token)
    assert not await _probe_domains(platform_app, platform_db.admin_token)


@pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)  # the breakage is not in the DB
@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
async def test_probe_fails_when_the_capability_is_broken(
    probe: Probe, platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    broken = FaultInjector(platform_app, BREAKAGES[probe.name])
    with pytest.raises(ProbeFailure):
        await _run(probe, broken, platform_db.admin_token)
    nodes = await _nodes(platform_app, platform_db.admin_token)
    assert not [n["name"] for n in nodes if n["name"].startswith("probe-")]
