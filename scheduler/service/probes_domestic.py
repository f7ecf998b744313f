"""Assessment probe for domestic AI chips: slicing, memory isolation and compute aggregation (6.2.1.1 c).

It registers simulated Huawei Ascend and Cambricon nodes and shows, through the job API:

- slicing: two tasks each holding part of one Ascend card (compute share and MiB of card memory) run
  on it at once, each told its own share (``STIC_ACCEL_COMPUTE_MILLI`` / ``STIC_ACCEL_MEMORY_MIB``,
  the limits a device-side limiter such as HAMi-core or an Ascend vNPU template enforces);
- memory isolation: a third slice whose compute share would still fit but whose memory would not is
  refused the card and waits with the reason — card memory is never promised twice;
- compute aggregation: one task of a Cambricon job holds four cards at once and is told all of them
  (``MLU_VISIBLE_DEVICES``).

What it cannot show: no device-side limiter runs here (the cards are simulated), so isolation inside
a real card is the limiter's job on real nodes; the verdict is therefore ``simulated``.
"""

from __future__ import annotations

from typing import Any

from scheduler.service.probe_kit import (
    ProbeJobs,
    ProbeNodes,
    group,
    live_tasks,
    running,
    state,
    wait_until,
    waiting_with,
)
from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant

CARD_MIB = 16384  # what ProbeNodes registers per device
SLICE = {"compute_milli": 300, "memory_mib": 6144}
SHOW_SHARE = (
    "import os, time; print('share', os.environ['STIC_ACCEL_COMPUTE_MILLI'], "
    "os.environ['STIC_ACCEL_MEMORY_MIB'], os.environ['ASCEND_RT_VISIBLE_DEVICES'], flush=True); "
    "time.sleep(30)"
)
SHOW_DEVICES = "import os; print('devices', os.environ['MLU_VISIBLE_DEVICES'])"


class DomesticChipSharingProbe:
    """Slices of an Ascend card with their own memory, a refused over-commit, four Cambricon cards
    aggregated in one task (all simulated devices, real processes)."""

    name = "scheduler.domestic-chip-sharing"
    clause_ids = ("6.2.1.1.c",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Two slices share one card; a third that would over-commit its memory waits; 4 cards in one task."""
        tenant = ProbeTenant(ctx, "domestic")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            asc_node, asc = await nodes.add("ascend", vendor="huawei-ascend", count=1)
            mlu_node, mlu = await nodes.add("cambricon", vendor="cambricon", count=4)
            await tenant.create("developer")
            sliced = {"types": [asc], "mode": "shared", **SLICE}
            slices = [
                await jobs.submit({"groups": [group("slice", SHOW_SHARE, accelerators=sliced)]})
                for _ in range(2)
            ]
            ran = [await jobs.wait(job["id"], running, "ran") for job in slices]
            held = {
                (t["node"], tuple(t["devices"]), t["accel_milli"], t["accel_memory_mib"]) for t in _tasks(ran)
            }
            expected = (asc_node, (0,), SLICE["compute_milli"], SLICE["memory_mib"])
            ctx.require(held == {expected}, f"the two slices hold {held}, expected both {expected}")
            told = f"share {SLICE['compute_milli']} {SLICE['memory_mib']} 0"
            for job in slices:

                async def told_its_share(job_id: str = job["id"]) -> bool:
                    return told in await jobs.logs(job_id, "slice-0")

                await wait_until(ctx, told_its_share, f"a slice printing its limits ({told!r})")

            # compute 300 more would fit (600 of 1000 used); memory 6144 more would not (12288 of 16384)
            greedy = {"types": [asc], "mode": "shared", "compute_milli": 300, "memory_mib": 6144}
            over = await jobs.submit({"groups": [group("over", "print('never')", accelerators=greedy)]})
            waiting = await jobs.wait(over["id"], waiting_with("free compute/memory share"), "waited")
            ctx.require(not live_tasks(waiting), "the over-committing slice runs although the card is full")
            ctx.note("over-commit refused", reasons=waiting["reasons"])

            four = {"types": [mlu], "count": 4}
            aggregate = await jobs.submit({"groups": [group("all", SHOW_DEVICES, accelerators=four)]})
            done = await jobs.wait(aggregate["id"], state("completed"), "completed")
            [task] = done["tasks"]
            ctx.require(
                (task["node"], sorted(task["devices"])) == (mlu_node, [0, 1, 2, 3]),
                f"the aggregating task holds {task['devices']} on {task['node']}",
            )
            log = await jobs.logs(aggregate["id"], "all-0")
            ctx.require("devices 0,1,2,3" in log, f"the task was not told its four cards: {log[:200]!r}")
            ctx.require(
                all(j["simulated"] for j in [*ran, done]), "tasks on simulated nodes not marked simulated"
            )
            return ctx.simulated(
                f"two slices of one Ascend card ({SLICE['compute_milli']} milli, {SLICE['memory_mib']} MiB "
                "each) ran at once, each told its own limits; a third slice whose compute would fit but "
                f"whose memory would exceed the card's {CARD_MIB} MiB waited with the reason; one task held "
                "four Cambricon cards and was told all of them. Cards simulated, processes real; isolation "
                "inside a real card is enforced by the device-side limiter the limits are handed to "
                "(HAMi-core, Ascend vNPU, Cambricon SMLU), which does not run here"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


def _tasks(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [task for job in jobs for task in job["tasks"]]


PROBES = (DomesticChipSharingProbe(),)
