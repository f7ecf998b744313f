"""Assessment probes for sharing the cluster: priority and preemption, queue borrowing and reclaim,
elastic jobs.

As the other scheduler probes, each one registers its own simulated nodes with a product named only
for it, works as a throw-away tenant through the public API, and removes all it made.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scheduler.service.probe_kit import (
    SLEEP,
    Job,
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


def _one_device(model: str, **spec: Any) -> dict[str, Any]:
    return {"groups": [group("w", SLEEP, accelerators={"types": [model]})], **spec}


async def _evicted_by(jobs: ProbeJobs, job_id: str, action: str) -> list[str]:
    return [
        e["message"] for e in await jobs.events(job_id) if e["kind"] == "evicted" and action in e["message"]
    ]


def _waiting(job: Job) -> bool:
    return job.get("state") in ("pending", "queued") and not any(t["node"] for t in job.get("tasks", []))


class PriorityPreemptionProbe:
    """Priority scheduling (6.2.4.2 e) and preemption within a queue (6.2.4.2 f); preemption between
    queues is the reclaim shown by ``scheduler.queue-borrowing``."""

    name = "scheduler.priority-preemption"
    clause_ids = ("6.2.4.2.e", "6.2.4.2.f")

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """On a full 2-device node a high-priority job evicts the preemptible low one, never the
        non-preemptible one; when a device frees, the waiting high job goes before the older low one."""
        tenant = ProbeTenant(ctx, "prio")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            _, model = await nodes.add("prio", vendor="other", count=2)
            await tenant.create("developer")
            low = await jobs.submit(_one_device(model, priority_class="low"))
            keeper = await jobs.submit(_one_device(model, priority_class="low", preemptible=False))
            for job in (low, keeper):
                await jobs.wait(job["id"], running, "ran")
            high = await jobs.submit(_one_device(model, priority_class="high"))
            await jobs.wait(high["id"], running, "ran by preemption")
            evictions = await _evicted_by(jobs, low["id"], "preempt")
            ctx.require(bool(evictions), "the preemptible low-priority job has no preemption event")
            await jobs.wait(low["id"], _waiting, "went back to the queue")
            late = await jobs.submit(_one_device(model, priority_class="high"))
            await jobs.wait(late["id"], waiting_with(""), "waited")
            await asyncio.sleep(0.5)  # cycles in which only a non-preemptible or equal job could make room
            kept = body(await jobs.get(keeper["id"]))
            ctx.require(
                kept["state"] == "running" and kept["tasks"][0]["attempt"] == 0,
                f"the non-preemptible job is {kept['state']} at attempt {kept['tasks'][0]['attempt']}",
            )
            ctx.require(not await _evicted_by(jobs, keeper["id"], ""), "the non-preemptible job was evicted")
            ctx.require(_waiting(body(await jobs.get(late["id"]))), "the second high job did not wait")
            await jobs.delete(high["id"])
            await jobs.wait(late["id"], running, "ran when a device freed")
            behind = body(await jobs.get(low["id"]))
            ctx.require(
                _waiting(behind), f"the older low-priority job is {behind['state']} instead of waiting behind"
            )
            ctx.note("preemption", events=evictions)
            return ctx.simulated(
                "a high-priority job preempted the preemptible low-priority job on a full node and ran; "
                "a non-preemptible low job kept running (attempt 0) and a second high job waited instead "
                "of evicting it; when a device freed, the high job went before the older low job "
                "(node simulated, processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


class QueueBorrowingProbe:
    """A queue short of resources borrows what a sibling queue does not use (6.2.4.2 g), and the
    lender reclaims it when it needs it."""

    name = "scheduler.queue-borrowing"
    clause_ids = ("6.2.4.2.g",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Queues a and b deserve one device each; a runs two jobs by borrowing, b reclaims one."""
        tenant = ProbeTenant(ctx, "borrow")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            _, model = await nodes.add("borrow", vendor="other", count=2)
            await tenant.create("developer", "tenant-admin")
            base = f"/v1/tenants/{tenant.id}/queues"
            admin = tenant.auth("tenant-admin")
            parent = await ctx.post(base, json={"name": "probe-parent"}, authenticated=False, headers=admin)
            ctx.require(parent.status_code == 201, f"creating a parent queue answered {parent.status_code}")
            queues: dict[str, str] = {}
            for name in ("team-a", "team-b"):
                created = await ctx.post(
                    base,
                    json={"name": name, "parent_id": body(parent)["id"], "deserved": {"accelerators": 1000}},
                    authenticated=False,
                    headers=admin,
                )
                ctx.require(
                    created.status_code == 201, f"creating queue {name} answered {created.status_code}"
                )
                queues[name] = body(created)["id"]
            own = await jobs.submit(_one_device(model, queue="team-a"))
            await jobs.wait(own["id"], running, "ran")
            borrower = await jobs.submit(_one_device(model, queue="team-a"))
            await jobs.wait(borrower["id"], running, "ran on borrowed share")
            queue_a = body(await ctx.get(f"{base}/{queues['team-a']}", authenticated=False, headers=admin))
            held = queue_a.get("allocated", {}).get("accelerators", 0)
            ctx.require(
                held == 2000, f"queue team-a holds {held} milli-devices, deserving 1000 (borrowing 1000)"
            )
            lender = await jobs.submit(_one_device(model, queue="team-b"))
            await jobs.wait(lender["id"], running, "ran by reclaiming its share")
            reclaimed = await _evicted_by(jobs, borrower["id"], "reclaim")
            ctx.require(bool(reclaimed), "the borrowing job shows no reclaim eviction")
            back = await jobs.wait(borrower["id"], _waiting, "went back to the queue")
            first = body(await jobs.get(own["id"]))
            ctx.require(
                bool(live_tasks(first)) and first["tasks"][0]["attempt"] == 0,
                "the job within team-a's deserved share was disturbed by the reclaim",
            )
            ctx.note("reclaim", events=reclaimed, waiting=back.get("reasons"))
            return ctx.simulated(
                "queue team-a (deserving one device) ran a second job on the device its idle sibling "
                "team-b lent (2000 milli-devices held); when team-b submitted work it reclaimed its "
                "share: the borrowing job was evicted and queued, the job within team-a's share kept "
                "running (node simulated, processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


class ElasticJobProbe:
    """Elastic scaling of the resources a job uses (6.2.4.1 f): replicas between min and max."""

    name = "scheduler.elastic"
    clause_ids = ("6.2.4.1.f",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """A 1..3-replica job starts with what fits, grows when a node arrives, and shrinks (keeping
        its minimum) when a higher-priority job needs a device."""
        tenant = ProbeTenant(ctx, "elastic")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            _, model = await nodes.add("el-a", vendor="other", count=2)
            await tenant.create("developer")
            spec = {
                "type": "train",
                "groups": [
                    {**group("w", SLEEP, replicas=3, accelerators={"types": [model]}), "min_replicas": 1}
                ],
            }
            elastic = await jobs.submit(spec)
            started = await jobs.wait(elastic["id"], lambda j: len(live_tasks(j)) == 2, "ran 2 of 3 replicas")
            await asyncio.sleep(0.3)
            started = body(await jobs.get(elastic["id"]))
            ctx.require(
                len(live_tasks(started)) == 2 and sum(1 for t in started["tasks"] if not t["node"]) == 1,
                f"with 2 devices the 1..3 job runs {len(live_tasks(started))} replicas",
            )
            await nodes.add("el-b", vendor="other", count=2, model=model)
            grown = await jobs.wait(elastic["id"], lambda j: len(live_tasks(j)) == 3, "grew to 3 replicas")
            await asyncio.sleep(0.3)  # a free device remains: the job must not grow beyond its maximum
            grown = body(await jobs.get(elastic["id"]))
            ctx.require(
                len(grown["tasks"]) == 3 and len(live_tasks(grown)) == 3,
                f"after a node arrived the job runs {len(live_tasks(grown))} of {len(grown['tasks'])} tasks",
            )
            hog = await jobs.submit(
                {
                    "groups": [group("h", SLEEP, replicas=2, accelerators={"types": [model]})],
                    "priority_class": "high",
                }
            )
            await jobs.wait(hog["id"], running, "ran")
            shrunk = await jobs.wait(
                elastic["id"],
                lambda j: j["state"] == "running" and len(live_tasks(j)) == 2,
                "shrank to 2 replicas and kept running",
            )
            ctx.require(
                bool(await _evicted_by(jobs, elastic["id"], "preempt")),
                "the job shows no preemption of an extra",
            )
            return ctx.simulated(
                "an elastic job of 1..3 replicas started with the 2 that fitted, grew to 3 (never more) "
                "when a node arrived, and gave one replica to a higher-priority job while it kept running "
                f"({len(live_tasks(shrunk))} replicas) (nodes simulated, processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


PROBES = (PriorityPreemptionProbe(), QueueBorrowingProbe(), ElasticJobProbe())
