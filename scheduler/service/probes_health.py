"""Assessment probe for sub-health detection: a straggler task marks its node slow (6.4.3 c).

The probe's job runs on four simulated nodes it registers (one task each), so only those nodes can
be marked degraded; the processes and their progress reports are real.
"""

from __future__ import annotations

from typing import Any

from scheduler.service.probe_kit import ProbeJobs, ProbeNodes, body, group, running, wait_until
from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant

# rank 3 reports a tenth of its peers' progress; every rank runs about 4 s (the platform judges a
# task only after it ran a couple of seconds, so start-up jitter is not mistaken for slowness)
PROGRESS = (
    "import os, time\n"
    "slow = os.environ['RANK'] == '3'\n"
    "for step in range(80):\n"
    "    print('STIC_PROGRESS', step // 10 if slow else step, flush=True); time.sleep(0.05)\n"
)
WAIT_S = 15.0


class StragglerProbe:
    """A task far slower than its peers is detected and reported; its node is marked degraded."""

    name = "scheduler.straggler-detection"
    clause_ids = ("6.4.3.c",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Four ranks on four nodes; rank 3 progresses 10x slower: fault event, node degraded."""
        tenant = ProbeTenant(ctx, "straggler")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            _, model = await nodes.add("slow-0", vendor="other", count=1)
            for i in range(1, 4):
                await nodes.add(f"slow-{i}", vendor="other", count=1, model=model)
            await tenant.create("developer")
            job = await jobs.submit(
                {
                    "type": "train",
                    "groups": [group("rank", PROGRESS, replicas=4, accelerators={"types": [model]})],
                }
            )
            started = await jobs.wait(job["id"], running, "ran")
            node_of = {t["rank"]: t["node"] for t in started["tasks"]}
            ctx.require(len(set(node_of.values())) == 4, f"the four ranks share nodes: {node_of}")

            async def straggler_faults() -> list[str]:
                return [
                    e["message"]
                    for e in await jobs.events(job["id"])
                    if e["kind"] == "fault" and "straggler" in e["message"]
                ]

            async def rank_3_flagged() -> list[str]:
                faults = await straggler_faults()
                return faults if any("rank-3 " in m for m in faults) else []

            await wait_until(ctx, rank_3_flagged, "detection of the straggler rank-3", limit_s=WAIT_S)
            verdicts: dict[int, dict[str, Any]] = {
                rank: body(await ctx.get(f"/v1/nodes/{name}")) for rank, name in node_of.items()
            }
            faults = await straggler_faults()  # read after the nodes: every mark seen has its fault
            flagged = {rank for rank in node_of if any(f"rank-{rank} " in m for m in faults)}
            if flagged != {3}:
                ctx.note("peers flagged too (a starved machine makes real stragglers)", faults=faults)
            slow = verdicts[3]
            ctx.require(
                slow.get("health") == "degraded" and float(slow.get("slowdown", 1)) > 2,
                f"the straggler's node reads health {slow.get('health')!r}, slowdown {slow.get('slowdown')}",
            )
            ctx.require(
                any("straggler" in r for r in slow.get("health_reasons", [])),
                f"the straggler's node gives reasons {slow.get('health_reasons')}",
            )
            marked = [r for r in node_of if r not in flagged and verdicts[r].get("health") != "healthy"]
            ctx.require(
                not marked, f"nodes of ranks never flagged were marked: {[verdicts[r] for r in marked]}"
            )
            found = next(m for m in faults if "rank-3 " in m)
            return ctx.simulated(
                f"a rank progressing 10x slower than its three peers was detected ({found}); its node was "
                f"marked degraded with slowdown {slow.get('slowdown')} while nodes of unflagged peers "
                "stayed healthy (nodes simulated, processes and progress reports real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


PROBES = (StragglerProbe(),)
