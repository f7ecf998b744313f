"""Assessment probes for placement: topology awareness, binpack/spread, mixed training and inference.

Each probe registers its own simulated nodes (and switch domains) with products named only for it,
so no other work lands on them and the real node is never touched; placement decisions are real,
devices are not, and the probes report ``simulated``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scheduler.service.probe_kit import (
    SLEEP,
    Job,
    ProbeDomains,
    ProbeJobs,
    ProbeNodes,
    body,
    group,
    live_tasks,
    running,
    waiting_with,
)
from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant


def _gang(code: str, replicas: int, model: str, **spec: Any) -> dict[str, Any]:
    """A gang of ``replicas`` one-device tasks of ``model``."""
    accelerators = {"types": [model]}
    return {
        "min_available": replicas,
        "groups": [group("rank", code, replicas=replicas, accelerators=accelerators)],
        **spec,
    }


def _nodes_of(job: Job) -> list[str]:
    return [t["node"] for t in job["tasks"] if t["node"]]


LEAF = {"tier": "leaf", "mode": "required"}


class TopologyProbe:
    """Topology-aware scheduling (6.2.4.2 a): accelerator links inside a node (6.2.3.3 b) and the
    switch tree between nodes (6.2.3.3 c)."""

    name = "scheduler.topology-aware"
    clause_ids = ("6.2.4.2.a", "6.2.3.3.b", "6.2.3.3.c")

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """A 2-device task gets the NVLink pair; gangs needing one leaf land inside one leaf, wait with
        the network-topology reason when no leaf has room, and are refused when no leaf ever could."""
        tenant = ProbeTenant(ctx, "topo")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        domains = ProbeDomains(ctx, nodes.tag)
        try:
            links = [
                {"kind": "nvlink", "members": [1, 2], "bandwidth_gbps": 600},
                {"kind": "pcie-switch", "members": [0, 1, 2, 3], "bandwidth_gbps": 64},
            ]
            linked, linked_model = await nodes.add("links", vendor="nvidia", count=4, links=links)
            spine = await domains.add("spine", tier="spine", parent="local-pod")
            leaves = {side: await domains.add(f"leaf{side}", tier="leaf", parent=spine) for side in "ab"}
            leaf_of: dict[str, str] = {}
            model = ""
            for side, leaf in leaves.items():
                for i in range(2):
                    name, model = await nodes.add(
                        f"{side}{i}", vendor="other", count=2, model=model or None, leaf=leaf
                    )
                    leaf_of[name] = leaf
            await tenant.create("developer")

            pair = await jobs.submit(
                {"groups": [group("pair", SLEEP, accelerators={"types": [linked_model], "count": 2})]}
            )
            pair_run = await jobs.wait(pair["id"], running, "ran")
            devices = pair_run["tasks"][0]["devices"]
            ctx.require(
                pair_run["tasks"][0]["node"] == linked and sorted(devices) == [1, 2],
                f"a 2-device task got devices {devices} on {pair_run['tasks'][0]['node']}, "
                "not the NVLink pair [1, 2] (devices 0 and 1 share only PCIe)",
            )
            await jobs.delete(pair["id"])

            first = await jobs.submit(_gang(SLEEP, 3, model, topology=LEAF))
            second = await jobs.submit(_gang(SLEEP, 3, model, topology=LEAF))
            placed = [await jobs.wait(j["id"], running, "ran") for j in (first, second)]
            used = [{leaf_of.get(n, n) for n in _nodes_of(j)} for j in placed]
            ctx.require(
                all(len(u) == 1 for u in used) and used[0] != used[1],
                f"two 3-task gangs requiring one leaf were placed across leaves {used}",
            )
            squeezed = await jobs.submit(_gang(SLEEP, 2, model, topology=LEAF))
            waiting = await jobs.wait(squeezed["id"], waiting_with("network-topology"), "waited for a leaf")
            ctx.note("gang waiting for a leaf", reasons=waiting["reasons"])
            free_anywhere = await jobs.submit(_gang(SLEEP, 2, model))
            anywhere = await jobs.wait(free_anywhere["id"], running, "ran without a topology constraint")
            spread_over = {leaf_of.get(n, n) for n in _nodes_of(anywhere)}
            ctx.require(
                len(spread_over) == 2,
                f"the unconstrained gang used leaves {spread_over}: one free device per leaf was expected",
            )
            await asyncio.sleep(0.3)  # a cycle or two with the devices of both leaves split
            still = body(await jobs.get(squeezed["id"]))
            ctx.require(
                still["state"] == "queued" and not _nodes_of(still),
                f"the leaf-bound gang is {still['state']} on {_nodes_of(still)} while no leaf had room",
            )
            await jobs.delete(free_anywhere["id"])
            await jobs.delete(first["id"])
            moved = await jobs.wait(squeezed["id"], running, "ran once a leaf had room")
            ctx.require(
                len({leaf_of.get(n, n) for n in _nodes_of(moved)}) == 1,
                f"the leaf-bound gang ran across leaves: {_nodes_of(moved)}",
            )
            never = await jobs.submit(_gang(SLEEP, 5, model, topology=LEAF))
            refused = await jobs.wait(never["id"], lambda j: j["state"] == "unschedulable", "was refused")
            ctx.require(
                any(r.startswith("network-topology") for r in refused["reasons"]),
                f"a gang larger than any leaf is unschedulable for {refused['reasons']}",
            )
            return ctx.simulated(
                "a 2-device task got the NVLink-linked pair, not the lowest-numbered devices; 3-task gangs "
                "requiring one leaf switch each landed inside one leaf; a 2-task gang waited with the "
                "network-topology reason while the free devices were split across leaves (an unconstrained "
                "gang ran on them) and ran inside one leaf once one had room; a 5-task gang larger than any "
                "leaf was marked unschedulable (nodes, links and switches simulated, processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await domains.delete_all()
            await tenant.delete()


class PlacementStrategyProbe:
    """Several scheduling policies, binpack and spread (6.2.4.2 h), chosen per job."""

    name = "scheduler.binpack-spread"
    clause_ids = ("6.2.4.2.h",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Two identical 2-task jobs on two empty 4-device nodes: spread uses both, binpack one."""
        tenant = ProbeTenant(ctx, "policy")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            _, model = await nodes.add("pol-a", vendor="other", count=4)
            await nodes.add("pol-b", vendor="other", count=4, model=model)
            await tenant.create("developer")
            spread = await jobs.submit(_gang(SLEEP, 2, model, placement="spread"))
            spread_run = await jobs.wait(spread["id"], running, "ran")
            packed = await jobs.submit(_gang(SLEEP, 2, model, placement="binpack"))
            packed_run = await jobs.wait(packed["id"], running, "ran")
            ctx.require(
                spread_run["spec"].get("placement") == "spread", "the job does not echo its placement policy"
            )
            spread_nodes, packed_nodes = _nodes_of(spread_run), _nodes_of(packed_run)
            ctx.require(
                len(set(spread_nodes)) == 2, f"the spread job's two tasks share a node: {spread_nodes}"
            )
            ctx.require(
                len(packed_nodes) == 2 and len(set(packed_nodes)) == 1,
                f"the binpack job's two tasks were put on {packed_nodes}, expected one node",
            )
            return ctx.simulated(
                "a job with placement spread had its two tasks put on two nodes, an identical job with "
                "placement binpack had both on one node (nodes simulated, processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


class MixedWorkloadProbe:
    """Training and inference jobs scheduled together on the same resources (6.2.4.2 i)."""

    name = "scheduler.mixed-train-inference"
    clause_ids = ("6.2.4.2.i",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """A training job takes one device whole while two inference replicas share the other."""
        tenant = ProbeTenant(ctx, "mixed")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            node, model = await nodes.add("mixed", vendor="other", count=2)
            await tenant.create("developer")
            share = {"types": [model], "mode": "shared", "compute_milli": 300, "memory_mib": 2048}
            train = await jobs.submit(
                {"type": "train", "groups": [group("trainer", SLEEP, accelerators={"types": [model]})]}
            )
            infer = await jobs.submit(
                {"type": "inference", "groups": [group("server", SLEEP, replicas=2, accelerators=share)]}
            )
            trained = await jobs.wait(train["id"], running, "ran")
            served = await jobs.wait(infer["id"], running, "ran")
            trained = body(await jobs.get(train["id"]))
            ctx.require(bool(live_tasks(trained)), "the training job stopped while the inference job started")
            train_devices = set(trained["tasks"][0]["devices"])
            shares = [(t["node"], tuple(t["devices"]), t["accel_milli"]) for t in served["tasks"]]
            ctx.require(
                trained["tasks"][0]["node"] == node and len(train_devices) == 1,
                f"the training task holds {sorted(train_devices)} on {trained['tasks'][0]['node']}",
            )
            ctx.require(
                all(n == node and len(d) == 1 and m == 300 for n, d, m in shares)
                and not train_devices & {d[0] for _, d, _ in shares},
                f"inference replicas hold {shares} while training holds device {sorted(train_devices)}",
            )
            ctx.require(
                (trained["type"], served["type"]) == ("train", "inference"),
                f"job types came back as {trained['type']!r} and {served['type']!r}",
            )
            return ctx.simulated(
                "a training job (one whole device) and an inference job (two replicas with 300 milli of "
                "the other device each) ran at the same time on one node, placed by the same scheduler "
                "(node simulated, processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


PROBES = (TopologyProbe(), PlacementStrategyProbe(), MixedWorkloadProbe())
