"""Inventory (nodes, topology, simulated flags, cordon/drain) and queues tied to quotas."""

from __future__ import annotations

from tests.conftest import client_for
from tests.scheduler.service.conftest import SchedEnv, command, in_state
from tests.scheduler.service.test_fault_tolerance import chip_job, chip_node
from tests.services.builders import ok, unique


async def test_demo_and_local_nodes_say_whether_they_are_simulated(sched: SchedEnv) -> None:
    t = await sched.tenant()
    async with client_for(sched.app, t.tokens["viewer"]) as viewer:
        nodes = {n["name"]: n for n in (await ok(await viewer.get("/v1/nodes?limit=500")))["items"]}
        topo = await ok(await viewer.get("/v1/topology"))
        assert (await viewer.post("/v1/nodes", json=chip_node(unique("n"), "x"))).status_code == 403
    local = [n for n in nodes.values() if n["local"]]
    assert len(local) == 1 and local[0]["simulated"] is False and local[0]["accelerators"] is None
    vendors = {n["accelerators"]["vendor"] for n in nodes.values() if n["name"].startswith("demo-")}
    assert vendors == {"nvidia", "huawei-ascend", "cambricon", "hygon", "kunlunxin"}
    assert all(n["simulated"] for n in nodes.values() if n["name"].startswith("demo-"))
    assert {n["arch"] for n in nodes.values() if n["name"].startswith("demo-")} == {
        "x86_64",
        "arm64",
        "loongarch64",
    }
    tiers = {d["name"]: d["tier"] for d in topo["domains"]}
    assert tiers["demo-leaf-a"] == "leaf" and tiers["demo-spine"] == "spine" and topo["simulated"]
    assert topo["nodes"]["demo-nv-0"] == "demo-leaf-a" and topo["nodes"]["demo-mlu-0"] == "demo-leaf-b"
    links = {link["kind"] for link in nodes["demo-nv-0"]["links"]}
    assert links == {"nvlink", "pcie-switch"}


async def test_node_registration_errors_name_the_field(sched: SchedEnv) -> None:
    name = unique("n")
    await ok(await sched.admin.post("/v1/nodes", json=chip_node(name, "x")), 201)
    assert (await sched.admin.post("/v1/nodes", json=chip_node(name, "x"))).status_code == 409
    bad_leaf = await sched.admin.post("/v1/nodes", json={**chip_node(unique("n"), "x"), "leaf": "demo-spine"})
    assert bad_leaf.status_code == 400 and bad_leaf.json()["detail"]["field"] == "leaf"
    no_flag = {k: v for k, v in chip_node(unique("n"), "x").items() if k != "simulated"}
    assert (await sched.admin.post("/v1/nodes", json=no_flag)).status_code == 422
    bad_link = {
        **chip_node(unique("n"), "x"),
        "links": [{"kind": "nvlink", "members": [0, 5], "bandwidth_gbps": 1}],
    }
    assert (await sched.admin.post("/v1/nodes", json=bad_link)).status_code == 400
    domain = await sched.admin.put(
        "/v1/topology/domains/bad-leaf", json={"tier": "leaf", "parent": "demo-pod"}
    )
    assert domain.status_code == 400 and domain.json()["detail"]["field"] == "parent"
    assert (await sched.admin.delete(f"/v1/nodes/{name}")).status_code == 204


async def test_drained_node_gives_its_job_to_another_node_without_a_retry(sched: SchedEnv) -> None:
    model = unique("chip")
    names = [unique("n"), unique("n")]
    for name in names:
        await ok(await sched.admin.post("/v1/nodes", json=chip_node(name, model)), 201)
    t = await sched.tenant()
    code = "import os, time; time.sleep(60 if os.environ['STIC_ATTEMPT'] == '0' else 0)"
    job = await sched.submit(t, chip_job(model, code))
    first = (await sched.wait(t, job["id"], in_state("running")))["tasks"][0]["node"]
    drained = await ok(await sched.admin.post(f"/v1/nodes/{first}/drain", json={"reason": "maintenance"}))
    assert drained["cordoned"]
    done = await sched.wait(t, job["id"], in_state("completed"))
    assert done["tasks"][0]["node"] != first and done["retries"] == 0
    assert (await ok(await sched.admin.post(f"/v1/nodes/{first}/uncordon")))["cordoned"] is False
    for name in names:
        assert (await sched.admin.delete(f"/v1/nodes/{name}")).status_code == 204


async def test_queue_cap_within_quota_hierarchy_and_cap_enforced_on_jobs(sched: SchedEnv) -> None:
    t = await sched.tenant()
    await ok(await sched.admin.put(f"/v1/tenants/{t.id}/quota", json={"limits": {"cpu_millicores": 8000}}))
    async with client_for(sched.app, t.tokens["tenant-admin"]) as admin:
        base = f"/v1/tenants/{t.id}/queues"
        over = await admin.post(base, json={"name": "big", "cap": {"cpu": 9000}})
        assert over.status_code == 409 and over.json()["detail"]["field"] == "cap.cpu"
        bad = await admin.post(base, json={"name": "bad", "guarantee": {"cpu": 5}, "deserved": {"cpu": 1}})
        assert bad.status_code == 400 and "guarantee" in bad.json()["detail"]["field"]
        team = await ok(
            await admin.post(base, json={"name": "team", "cap": {"cpu": 8000}, "deserved": {"cpu": 4000}}),
            201,
        )
        child = await ok(
            await admin.post(
                base,
                json={
                    "name": "vision",
                    "parent_id": team["id"],
                    "scope_type": "project",
                    "scope_id": t.project_id,
                    "cap": {"cpu": 200},
                    "priority": 5,
                },
            ),
            201,
        )
        assert child["scope_id"] == t.project_id
        listed = await ok(await admin.get(base))
        assert {q["name"] for q in listed["items"]} == {"team", "vision"}
    to_parent = await sched.submit(t, {**small("team")}, status=422)
    assert to_parent["detail"]["field"] == "queue"
    fits = await sched.submit(t, small("vision"))
    await sched.wait(t, fits["id"], in_state("completed"))
    too_big = await sched.submit(
        t, {**small("vision"), "groups": [{**small("vision")["groups"][0], "replicas": 3}]}
    )
    job = await sched.wait(
        t,
        too_big["id"],
        lambda j: bool(j["reasons"]) and j["state"] in ("pending", "unschedulable", "queued"),
    )
    assert any("capacity" in r for r in job["reasons"]), job["reasons"]


def small(queue: str) -> dict:
    return {
        "name": unique("q"),
        "queue": queue,
        "groups": [{"name": "w", "replicas": 1, "cpu_milli": 100, "memory_mib": 64, "command": ["true"]}],
    }


async def test_reclaim_takes_lent_accelerators_back_for_the_queue_that_deserves_them(sched: SchedEnv) -> None:
    from tests.scheduler.service.test_jobs_api import gpu_job

    lender, borrower = await sched.tenant(), await sched.tenant()
    for t in (lender, borrower):
        async with client_for(sched.app, t.tokens["tenant-admin"]) as admin:
            share = {"accelerators": 8000}
            await ok(
                await admin.post(f"/v1/tenants/{t.id}/queues", json={"name": "gpu", "deserved": share}), 201
            )
    elastic = gpu_job(8, replicas=2)
    elastic["groups"][0]["min_replicas"] = 1  # the second replica runs on borrowed devices
    greedy = await sched.submit(borrower, {**elastic, "queue": "gpu"})
    await sched.wait(borrower, greedy["id"], lambda j: all(t["state"] == "running" for t in j["tasks"]))
    owed = await sched.submit(lender, {**gpu_job(8), "queue": "gpu"})
    await sched.wait(lender, owed["id"], in_state("running"))
    shrunk = await sched.wait(
        borrower, greedy["id"], lambda j: sorted(t["state"] for t in j["tasks"]) == ["pending", "running"]
    )
    assert shrunk["state"] == "running"
    events = await sched.events(borrower, greedy["id"])
    assert any(e["kind"] == "evicted" and e["message"].startswith("reclaim") for e in events), events
    assert any(e["kind"] == "stopped" for e in events)


async def test_a_queue_shows_what_its_running_jobs_hold_including_child_queues(sched: SchedEnv) -> None:
    t = await sched.tenant()
    async with client_for(sched.app, t.tokens["tenant-admin"]) as admin:
        base = f"/v1/tenants/{t.id}/queues"
        parent = await ok(await admin.post(base, json={"name": "org"}), 201)
        leaf = await ok(await admin.post(base, json={"name": "team", "parent_id": parent["id"]}), 201)
        assert leaf["allocated"] == {"cpu": 0, "memory": 0, "accelerators": 0}
        spec = small("team")
        spec["groups"][0].update(replicas=2, command=command("import time; time.sleep(30)"))
        job = await sched.submit(t, spec)
        await sched.wait(t, job["id"], in_state("running"))
        held = {"cpu": 200, "memory": 128, "accelerators": 0}
        assert (await ok(await admin.get(f"{base}/{leaf['id']}")))["allocated"] == held
        listed = {q["name"]: q["allocated"] for q in (await ok(await admin.get(base)))["items"]}
        assert listed == {"org": held, "team": held}
        await sched.cleanup()
        assert (await ok(await admin.get(f"{base}/{leaf['id']}")))["allocated"]["cpu"] == 0
