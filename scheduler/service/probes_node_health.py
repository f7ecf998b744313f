"""Assessment probes for node sub-health: network-slow nodes (6.2.3.3 d) and lost accelerators (6.4.3 c).

Both register simulated nodes and report their health through the node-agent heartbeat API, as an
agent on real hardware would; the judgement, the placements, the recovery and the processes that run
are real. Clause 6.4.3 c is also covered by the straggler probe; the assessment keeps the weaker
result of the two.
"""

from __future__ import annotations

from typing import Any

from scheduler.service.probe_kit import (
    SLEEP,
    ProbeDomains,
    ProbeJobs,
    ProbeNodes,
    body,
    group,
    running,
    wait_until,
    waiting_with,
)
from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant

HEALTHY_NET = {
    "rtt_us": 120.0,
    "bandwidth_gbps": 180.0,
    "retransmit_ratio": 0.0,
    "method": "probe (simulated)",
}
SLOW_NET = {"rtt_us": 2400.0, "bandwidth_gbps": 40.0, "retransmit_ratio": 0.03, "method": "probe (simulated)"}


async def _heartbeat(ctx: ProbeContext, node: str, report: dict[str, Any]) -> dict[str, Any]:
    response = await ctx.post(f"/v1/nodes/{node}/heartbeat", json=report)
    ctx.require(response.status_code == 200, f"the heartbeat of {node} answered {response.status_code}")
    out: dict[str, Any] = body(response)
    return out


async def _node(ctx: ProbeContext, name: str) -> dict[str, Any]:
    response = await ctx.get(f"/v1/nodes/{name}")
    ctx.require(response.status_code == 200, f"reading node {name} answered {response.status_code}")
    out: dict[str, Any] = body(response)
    return out


async def _event_kinds(ctx: ProbeContext, name: str) -> list[str]:
    response = await ctx.get(f"/v1/nodes/{name}/events")
    ctx.require(response.status_code == 200, f"reading the events of {name} answered {response.status_code}")
    return [e["kind"] for e in body(response)]


class NetworkSlowNodeProbe:
    """A node whose reported network is far slower than its leaf peers' is judged network-slow and
    multi-node gangs avoid it, while single tasks may still use it."""

    name = "scheduler.network-slow-node"
    clause_ids = ("6.2.3.3.d",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Four one-device nodes in a fresh leaf; node 0 reports 20x the RTT of its peers."""
        tenant = ProbeTenant(ctx, "netslow")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        domains = ProbeDomains(ctx, nodes.tag)
        try:
            spine = await domains.add("net-spine", tier="spine", parent="local-pod")
            leaf = await domains.add("net-leaf", tier="leaf", parent=spine)
            slow, model = await nodes.add("net-0", vendor="other", count=1, leaf=leaf)
            peers = [
                (await nodes.add(f"net-{i}", vendor="other", count=1, model=model, leaf=leaf))[0]
                for i in (1, 2, 3)
            ]
            for name in peers:
                await _heartbeat(ctx, name, {"network": HEALTHY_NET})
            await _heartbeat(ctx, slow, {"network": SLOW_NET})
            judged = await _node(ctx, slow)
            network = judged.get("network", {})
            ctx.require(network.get("slow") is True, f"node {slow} was not judged network-slow: {network}")
            reasons = judged.get("health_reasons", [])
            ctx.require(
                any("network-slow" in r for r in reasons), f"node {slow} gives no such reason: {reasons}"
            )
            ctx.require("network_slow" in await _event_kinds(ctx, slow), f"no network_slow event on {slow}")
            peer = await _node(ctx, peers[0])
            ctx.require(
                peer.get("network", {}).get("judged") is True and peer["network"].get("slow") is False,
                f"a peer with ordinary figures reads {peer.get('network')}",
            )
            await tenant.create("developer")
            accel = {"types": [model]}
            whole = await jobs.submit(
                {"type": "train", "groups": [group("r", SLEEP, replicas=4, accelerators=accel)]}
            )
            waiting = await jobs.wait(
                whole["id"], waiting_with("network-slow"), "waited for lack of healthy nodes"
            )
            await jobs.delete(whole["id"])
            gang = await jobs.submit(
                {"type": "train", "groups": [group("r", SLEEP, replicas=3, accelerators=accel)]}
            )
            placed = await jobs.wait(gang["id"], running, "ran")
            used = {t["node"] for t in placed["tasks"]}
            ctx.require(
                used == set(peers), f"the 3-task gang ran on {sorted(used)}, expected {sorted(peers)}"
            )
            single = await jobs.submit({"type": "batch", "groups": [group("s", SLEEP, accelerators=accel)]})
            alone = await jobs.wait(single["id"], running, "ran")
            ctx.require(
                alone["tasks"][0]["node"] == slow,
                f"a single task ran on {alone['tasks'][0]['node']}, not {slow}",
            )
            return ctx.simulated(
                f"node {slow} reporting RTT {SLOW_NET['rtt_us']:g} us against peers at "
                f"{HEALTHY_NET['rtt_us']:g} us "
                f"was judged network-slow ({network.get('verdict')}); a 4-task gang that needed it waited "
                f"({waiting.get('reasons')}), a 3-task gang ran on its three peers, and a single task could "
                "still use it (nodes and figures simulated, judgement, placement and processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await domains.delete_all()
            await tenant.delete()


class LostAcceleratorProbe:
    """A device that drops off its node ("掉卡") is taken out of service and the task that held it is
    recovered on another device without anyone acting; an administrator returns it once it is back."""

    name = "scheduler.lost-accelerator"
    clause_ids = ("6.4.3.c",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """One two-device node; the device the task holds vanishes from the agent's report."""
        tenant = ProbeTenant(ctx, "lostcard")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            node, model = await nodes.add("card", vendor="other", count=2)
            await _heartbeat(ctx, node, {"visible_accelerators": [0, 1]})
            await tenant.create("developer")
            accel = {"types": [model]}
            job = await jobs.submit({"type": "train", "groups": [group("w", SLEEP, accelerators=accel)]})
            first = (await jobs.wait(job["id"], running, "ran"))["tasks"][0]
            lost = first["devices"][0]
            other = 1 - lost
            await _heartbeat(ctx, node, {"visible_accelerators": [other]})

            def moved(j: dict[str, Any]) -> bool:
                return (
                    running(j)
                    and j["tasks"][0]["devices"] == [other]
                    and j["tasks"][0]["attempt"] > first["attempt"]
                )

            again = await jobs.wait(job["id"], moved, f"recovered off device {lost}")
            faults = [e["message"] for e in await jobs.events(job["id"]) if e["kind"] == "fault"]
            ctx.require(any("accelerator_lost" in m for m in faults), f"no accelerator_lost fault: {faults}")
            sick = await _node(ctx, node)
            gone = [d.get("index") for d in sick.get("lost_accelerators", [])]
            ctx.require(gone == [lost], f"node {node} lists lost devices {gone}, expected [{lost}]")
            ctx.require(sick.get("health") == "degraded", f"node {node} reads health {sick.get('health')!r}")
            ctx.require(
                any(f"accelerator {lost} lost" in r for r in sick.get("health_reasons", [])),
                f"node {node} gives reasons {sick.get('health_reasons')}",
            )
            ctx.require(
                "accelerator_lost" in await _event_kinds(ctx, node), f"no accelerator_lost event on {node}"
            )
            second = await jobs.submit({"type": "batch", "groups": [group("w", SLEEP, accelerators=accel)]})
            await jobs.wait(
                second["id"], waiting_with("nodes are available"), "waited: its only free device is lost"
            )
            early = await ctx.post(f"/v1/nodes/{node}/accelerators/{lost}/restore")
            ctx.require(
                early.status_code == 409, f"restoring a still missing device answered {early.status_code}"
            )
            await _heartbeat(ctx, node, {"visible_accelerators": [0, 1]})
            restored = await ctx.post(f"/v1/nodes/{node}/accelerators/{lost}/restore")
            ctx.require(
                restored.status_code == 200, f"restoring device {lost} answered {restored.status_code}"
            )
            back = await jobs.wait(second["id"], running, "ran on the restored device")
            ctx.require(
                back["tasks"][0]["devices"] == [lost], f"the second job holds {back['tasks'][0]['devices']}"
            )

            async def healthy() -> bool:
                return (await _node(ctx, node)).get("health") == "healthy"

            await wait_until(ctx, healthy, f"node {node} reading healthy after the restore")
            return ctx.simulated(
                f"device {lost} of {node} vanished from the agent's report: it was marked lost (node "
                f"degraded), the task on it was recovered on device {other} "
                f"(attempt {again['tasks'][0]['attempt']}) without anyone acting, a new job could not get "
                "the lost device, and an administrator returned it to service once the agent saw it again "
                "(node and devices simulated, processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


PROBES = (NetworkSlowNodeProbe(), LostAcceleratorProbe())
