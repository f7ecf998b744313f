"""Node sub-health through the API: heartbeat validation, network-slow judgement, the local node's
real loopback measurement, and lost accelerators recovered end to end with real processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PlatformDB, client_for
from tests.scheduler.service.conftest import SchedEnv, in_state, options_for, started_app
from tests.scheduler.service.test_fault_tolerance import chip_job, chip_node
from tests.services.builders import ok, unique

NET_OK = {"rtt_us": 100.0, "bandwidth_gbps": 100.0, "retransmit_ratio": 0.0}
NET_SLOW = {"rtt_us": 1500.0, "bandwidth_gbps": 100.0, "retransmit_ratio": 0.0}

# checkpoints every step; the first attempt stalls at step 3 (until its device is pulled)
CHECKPOINTED = """
import os, pathlib, time
ckpt = pathlib.Path(os.environ['STIC_CHECKPOINT_DIR']); ckpt.mkdir(parents=True, exist_ok=True)
resume = os.environ.get('STIC_RESUME_FROM')
start = int(pathlib.Path(resume).read_text()) if resume else 0
print('resumed from', start if resume else 'scratch', flush=True)
for step in range(start + 1, 6):
    (ckpt / f'step-{step}').write_text(str(step))
    print('STIC_PROGRESS', step, flush=True)
    time.sleep(0.15)  # progress reports are written at most every 0.1 s
    if step == 3 and os.environ['STIC_ATTEMPT'] == '0':
        print('STIC_PROGRESS', step, flush=True)
        time.sleep(60)
print('finished at', step)
"""


def two_chip_node(name: str, model: str, leaf: str = "local-leaf") -> dict[str, Any]:
    node = chip_node(name, model)
    return {**node, "leaf": leaf, "accelerators": {**node["accelerators"], "count": 2}}


async def events(sched: SchedEnv, node: str) -> list[dict[str, Any]]:
    return list(await ok(await sched.admin.get(f"/v1/nodes/{node}/events")))


@pytest.mark.parametrize(
    ("report", "field"),
    [
        ({"network": {"rtt_us": -1}}, "body.network.rtt_us"),
        ({"network": {"rtt_us": 10, "bandwidth_gbps": 0}}, "body.network.bandwidth_gbps"),
        ({"network": {"rtt_us": 10, "retransmit_ratio": 1.5}}, "body.network.retransmit_ratio"),
        ({"network": {"bandwidth_gbps": 10}}, "body.network.rtt_us"),
        ({"network": {"rtt_us": 10, "jitter": 1}}, "body.network.jitter"),
        ({"visible_accelerators": [0, 64]}, "body.visible_accelerators.1"),
        ({"visible_accelerators": [0, 2]}, "body.visible_accelerators"),  # the node has 2 devices
        ({"accelerator_errors": [{"index": 5, "kind": "xid"}]}, "body.accelerator_errors"),
        ({"accelerator_errors": [{"index": 0, "kind": "melted"}]}, "body.accelerator_errors.0.kind"),
    ],
)
async def test_bad_heartbeats_are_422_naming_the_field(sched: SchedEnv, report: dict, field: str) -> None:
    name = unique("n")
    await ok(await sched.admin.post("/v1/nodes", json=two_chip_node(name, unique("chip"))), 201)
    response = await sched.admin.post(f"/v1/nodes/{name}/heartbeat", json=report)
    assert response.status_code == 422, response.text
    assert field in [p["field"] for p in response.json()["detail"]], response.json()
    node = await ok(await sched.admin.get(f"/v1/nodes/{name}"))
    assert node["lost_accelerators"] == [] and node["network"]["rtt_us"] is None  # nothing half-applied
    assert (await sched.admin.delete(f"/v1/nodes/{name}")).status_code == 204


async def test_network_slow_is_judged_against_domain_peers_and_recorded(sched: SchedEnv) -> None:
    leaf = unique("leaf")
    await ok(
        await sched.admin.put(f"/v1/topology/domains/{leaf}", json={"tier": "leaf", "parent": "local-spine"})
    )
    names = [unique("n") for _ in range(3)]
    for name in names:
        await ok(await sched.admin.post("/v1/nodes", json=two_chip_node(name, unique("chip"), leaf)), 201)
    first = await ok(await sched.admin.post(f"/v1/nodes/{names[0]}/heartbeat", json={"network": NET_SLOW}))
    assert first["network"]["judged"] is False and "needs 2" in first["network"]["verdict"]
    await ok(await sched.admin.post(f"/v1/nodes/{names[1]}/heartbeat", json={"network": NET_OK}))
    await ok(await sched.admin.post(f"/v1/nodes/{names[2]}/heartbeat", json={"network": NET_OK}))
    slow = await ok(await sched.admin.get(f"/v1/nodes/{names[0]}"))  # judged again when its peers reported
    assert slow["network"]["slow"] is True and slow["network"]["rtt_us"] == 1500.0
    assert slow["health"] == "degraded"
    assert any(r.startswith(f"network-slow in {leaf}: RTT 1500 us is 15.0x") for r in slow["health_reasons"])
    peer = await ok(await sched.admin.get(f"/v1/nodes/{names[1]}"))
    assert (
        peer["network"]["judged"] is True and peer["network"]["slow"] is False and peer["health"] == "healthy"
    )
    flips = [e for e in await events(sched, names[0]) if e["kind"].startswith("network")]
    assert [e["kind"] for e in flips] == ["network_slow"] and "simulated" in flips[0]["message"]
    healed = await ok(await sched.admin.post(f"/v1/nodes/{names[0]}/heartbeat", json={"network": NET_OK}))
    assert healed["network"]["slow"] is False and healed["health"] == "healthy"
    assert [e["kind"] for e in await events(sched, names[0]) if e["kind"].startswith("network")] == [
        "network_slow",
        "network_ok",
    ]
    for name in names:
        assert (await sched.admin.delete(f"/v1/nodes/{name}")).status_code == 204
    assert (await sched.admin.delete(f"/v1/topology/domains/{leaf}")).status_code == 204


async def test_the_local_node_reports_a_real_loopback_measurement_and_is_not_judged_alone(
    sched: SchedEnv,
) -> None:
    nodes = (await ok(await sched.admin.get("/v1/nodes?limit=500")))["items"]
    local = next(n for n in nodes if n["local"])
    deadline = time.monotonic() + 10
    while local["network"]["rtt_us"] is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        local = await ok(await sched.admin.get(f"/v1/nodes/{local['name']}"))
    network = local["network"]
    assert local["simulated"] is False and "loopback" in network["method"]
    assert network["rtt_us"] > 0 and network["bandwidth_gbps"] > 0
    assert network["judged"] is False and network["verdict"].startswith("not judged")


async def test_a_lost_accelerator_is_recovered_from_checkpoint_on_another_device(sched: SchedEnv) -> None:
    model, name = unique("chip"), unique("n")
    await ok(await sched.admin.post("/v1/nodes", json=two_chip_node(name, model)), 201)
    await ok(await sched.admin.post(f"/v1/nodes/{name}/heartbeat", json={"visible_accelerators": [0, 1]}))
    t = await sched.tenant()
    spec = chip_job(
        model, CHECKPOINTED, recovery={"policy": "restart_from_checkpoint", "backoff_seconds": 0.1}
    )
    job = await sched.submit(t, spec)
    stalled = await sched.wait(
        t, job["id"], lambda j: j["state"] == "running" and j["tasks"][0]["progress"] == 3
    )
    lost = stalled["tasks"][0]["devices"][0]
    other = 1 - lost
    report = {
        "visible_accelerators": [0, 1],
        "accelerator_errors": [{"index": lost, "kind": "xid", "detail": "79"}],
    }
    sick = await ok(await sched.admin.post(f"/v1/nodes/{name}/heartbeat", json=report))
    assert [d["index"] for d in sick["lost_accelerators"]] == [lost] and sick["health"] == "degraded"
    assert f"accelerator {lost} lost: xid: 79" in sick["health_reasons"]
    done = await sched.wait(t, job["id"], in_state("completed", "failed"))
    assert done["state"] == "completed" and done["retries"] == 1, done
    assert done["tasks"][0]["node"] == name and done["tasks"][0]["devices"] == [other]
    assert done["avoid_nodes"] == []  # the node's other device stays usable to the job
    job_events = await sched.events(t, job["id"])
    assert any(e["kind"] == "fault" and e["message"].startswith("accelerator_lost:") for e in job_events)
    assert any(e["kind"] == "recovery" and e["message"].startswith("reschedule:") for e in job_events)
    async with client_for(sched.app, t.tokens["developer"]) as client:
        log = await ok(await client.get(f"/v1/tenants/{t.id}/jobs/{job['id']}/tasks/w-0/logs"))
    assert "resumed from 3" in log["content"] and "finished at 5" in log["content"], log

    # the device stays out of service, even once seen again, until an administrator restores it
    restore = f"/v1/nodes/{name}/accelerators/{lost}/restore"
    assert (await sched.admin.post(restore)).status_code == 409
    seen = await ok(
        await sched.admin.post(f"/v1/nodes/{name}/heartbeat", json={"visible_accelerators": [0, 1]})
    )
    assert seen["lost_accelerators"][0]["seen_again"] is True and seen["health"] == "degraded"
    restored = await ok(await sched.admin.post(restore))
    assert restored["lost_accelerators"] == [] and restored["health"] == "healthy"
    assert (await sched.admin.post(restore)).status_code == 200  # nothing to restore: unchanged
    assert (await sched.admin.post(f"/v1/nodes/{name}/accelerators/2/restore")).status_code == 404
    kinds = [e["kind"] for e in await events(sched, name)]
    assert [k for k in kinds if k.startswith("accelerator")] == [
        "accelerator_lost",
        "accelerator_visible",
        "accelerator_restored",
    ]
    assert (await sched.admin.delete(f"/v1/nodes/{name}")).status_code == 204


async def test_a_device_missing_from_the_report_is_lost_and_never_allocated(sched: SchedEnv) -> None:
    model, name = unique("chip"), unique("n")
    await ok(await sched.admin.post("/v1/nodes", json=two_chip_node(name, model)), 201)
    node = await ok(await sched.admin.post(f"/v1/nodes/{name}/heartbeat", json={"visible_accelerators": [1]}))
    assert node["lost_accelerators"][0]["reason"] == "not visible to the node agent"
    t = await sched.tenant()
    pair = await sched.submit(
        t,
        {
            **chip_job(model, "print('pair')"),
            "groups": [
                {
                    **chip_job(model, "print('pair')")["groups"][0],
                    "accelerators": {"types": [model], "count": 2},
                }
            ],
        },
    )
    one = await sched.submit(t, chip_job(model, "print('one')"))
    done = await sched.wait(t, one["id"], in_state("completed"))
    assert done["tasks"][0]["devices"] == [1]
    waiting = await sched.job(t, pair["id"])
    assert waiting["state"] in ("queued", "pending", "unschedulable") and not waiting["tasks"][0]["node"]


async def test_a_slow_verdict_lapses_when_its_domain_stops_reporting(
    platform_db: PlatformDB, tmp_path: Path
) -> None:
    options = options_for(tmp_path / "work", network_max_age_s=1.0, local_network_probe_s=0.2)
    app, context = await started_app(platform_db, options)
    try:
        async with client_for(app, platform_db.admin_token) as admin:
            leaf = unique("leaf")
            await ok(
                await admin.put(
                    f"/v1/topology/domains/{leaf}", json={"tier": "leaf", "parent": "local-spine"}
                )
            )
            names = [unique("n") for _ in range(3)]
            for name, figures in zip(names, (NET_SLOW, NET_OK, NET_OK), strict=True):
                await ok(await admin.post("/v1/nodes", json=two_chip_node(name, unique("chip"), leaf)), 201)
                await ok(await admin.post(f"/v1/nodes/{name}/heartbeat", json={"network": figures}))
            assert (await ok(await admin.get(f"/v1/nodes/{names[0]}")))["network"]["slow"] is True
            deadline = time.monotonic() + 15
            node = {}
            while time.monotonic() < deadline:  # no one reports: the loop judges the leaf again
                node = await ok(await admin.get(f"/v1/nodes/{names[0]}"))
                if not node["network"]["slow"]:
                    break
                await asyncio.sleep(0.1)
            assert node["network"]["slow"] is False and node["health"] == "healthy", node
            assert "older than 1 s" in node["network"]["verdict"]
            kinds = [e["kind"] for e in await ok(await admin.get(f"/v1/nodes/{names[0]}/events"))]
            assert [k for k in kinds if k.startswith("network")] == ["network_slow", "network_ok"]
            for name in names:
                assert (await admin.delete(f"/v1/nodes/{name}")).status_code == 204
            assert (await admin.delete(f"/v1/topology/domains/{leaf}")).status_code == 204
    finally:
        await context.__aexit__(None, None, None)
