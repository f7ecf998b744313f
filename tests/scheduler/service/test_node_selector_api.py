"""Node selectors through the API: the platform's ``stic.io/`` labels, placement on matching nodes
only, the pending reason naming the selector, relabelling a node, and 422s naming the field."""

from __future__ import annotations

from tests.conftest import client_for
from tests.scheduler.service.conftest import SchedEnv, cpu_job, in_state
from tests.scheduler.service.test_fault_tolerance import chip_node
from tests.services.builders import ok, unique

REAL = {"stic.io/simulated": "false"}


async def _nodes(sched: SchedEnv) -> dict[str, dict]:
    return {n["name"]: n for n in (await ok(await sched.admin.get("/v1/nodes?limit=500")))["items"]}


async def test_nodes_carry_the_platform_labels(sched: SchedEnv) -> None:
    nodes = await _nodes(sched)
    for node in nodes.values():
        labels = node["labels"]
        assert labels["stic.io/simulated"] == ("true" if node["simulated"] else "false")
        assert labels["stic.io/hostname"] == node["name"] and labels["stic.io/arch"] == node["arch"]
    assert any(n["labels"]["stic.io/simulated"] == "false" for n in nodes.values() if n["local"])
    assert nodes["demo-nv-0"]["labels"]["stic.io/simulated"] == "true"


async def test_a_job_selecting_real_nodes_runs_only_on_real_ones(sched: SchedEnv) -> None:
    # a second real node of this test, so the job can run even if an earlier test left the local
    # node unhealthy on the shared database
    extra = unique("n")
    await ok(
        await sched.admin.post("/v1/nodes", json={**chip_node(extra, unique("chip")), "simulated": False}),
        201,
    )
    try:
        real = {n["name"] for n in (await _nodes(sched)).values() if not n["simulated"]}
        assert extra in real and "demo-nv-0" not in real
        t = await sched.tenant()
        job = await sched.submit(t, cpu_job(replicas=3, node_selector=REAL))
        assert job["spec"]["node_selector"] == REAL
        done = await sched.wait(t, job["id"], in_state("completed", "failed"))
        assert done["state"] == "completed"
        assert {task["node"] for task in done["tasks"]} <= real
        assert not done["simulated"] and not any(task["simulated"] for task in done["tasks"])
        pinned = await sched.submit(t, cpu_job(node_selector={"stic.io/hostname": "demo-mlu-0"}))
        placed = await sched.wait(t, pinned["id"], in_state("completed", "failed"))
        assert placed["tasks"][0]["node"] == "demo-mlu-0" and placed["simulated"]
    finally:
        await sched.cleanup()
        assert (await sched.admin.delete(f"/v1/nodes/{extra}")).status_code == 204


async def test_a_selector_no_node_matches_waits_with_its_reason_until_a_node_is_labelled(
    sched: SchedEnv,
) -> None:
    name, value = unique("n"), unique("v")
    await ok(await sched.admin.post("/v1/nodes", json=chip_node(name, unique("chip"))), 201)
    try:
        t = await sched.tenant()
        job = await sched.submit(t, cpu_job(node_selector={"example.com/pool": value}))
        waiting = await sched.wait(t, job["id"], in_state("unschedulable"))
        assert any(
            f"no node matches node selector {{example.com/pool={value}}}" in r for r in waiting["reasons"]
        )
        labelled = await ok(
            await sched.admin.patch(f"/v1/nodes/{name}/labels", json={"labels": {"example.com/pool": value}})
        )
        assert labelled["labels"]["example.com/pool"] == value
        assert labelled["labels"]["stic.io/simulated"] == "true"  # the platform's label stays
        done = await sched.wait(t, job["id"], in_state("completed", "failed"))
        assert done["state"] == "completed" and done["tasks"][0]["node"] == name
        events = await ok(await sched.admin.get(f"/v1/nodes/{name}/events"))
        assert any(e["kind"] == "labelled" and value in e["message"] for e in events)
        removed = await ok(
            await sched.admin.patch(f"/v1/nodes/{name}/labels", json={"labels": {"example.com/pool": None}})
        )
        assert "example.com/pool" not in removed["labels"]
        again = await sched.submit(t, cpu_job(node_selector={"example.com/pool": value}))
        await sched.wait(t, again["id"], in_state("unschedulable"))
    finally:
        await sched.cleanup()
        assert (await sched.admin.delete(f"/v1/nodes/{name}")).status_code == 204


async def test_bad_selectors_and_reserved_labels_are_refused_naming_the_field(sched: SchedEnv) -> None:
    t = await sched.tenant()
    for selector, field in [
        ({"bad key": "x"}, "node_selector.bad key"),
        ({"zone": "not valid!"}, "node_selector.zone"),
        ({"Example.com/zone": "a"}, "node_selector.Example.com/zone"),
    ]:
        body = await sched.submit(t, cpu_job(node_selector=selector), status=422)
        fields = [p["field"] for p in body["detail"]]
        assert any(field in f for f in fields), (selector, body)
    reserved = await sched.admin.post(
        "/v1/nodes", json={**chip_node(unique("n"), "x"), "labels": {"stic.io/simulated": "false"}}
    )
    assert reserved.status_code == 422 and "labels" in reserved.json()["detail"][0]["field"]
    patch = await sched.admin.patch(
        "/v1/nodes/demo-nv-0/labels", json={"labels": {"stic.io/simulated": "false"}}
    )
    assert patch.status_code == 422
    assert (await _nodes(sched))["demo-nv-0"]["labels"]["stic.io/simulated"] == "true"
    async with client_for(sched.app, t.tokens["tenant-admin"]) as tenant_admin:
        denied = await tenant_admin.patch("/v1/nodes/demo-nv-0/labels", json={"labels": {"zone": "a"}})
    assert denied.status_code == 403
    assert (
        await sched.admin.patch("/v1/nodes/nowhere/labels", json={"labels": {"zone": "a"}})
    ).status_code == 404
