"""Assessment probes for the scheduler: job lifecycle, job quotas, gang and accelerator-type
placement, shared and exclusive devices, fault detection and recovery. ``PROBES`` also lists the
probes of :mod:`scheduler.service.probes_placement` (topology, binpack/spread, mixed workloads),
:mod:`scheduler.service.probes_queues` (priority and preemption, queue borrowing, elastic jobs) and
:mod:`scheduler.service.probes_health` (stragglers), :mod:`scheduler.service.probes_node_health`
(network-slow nodes, lost accelerators), :mod:`scheduler.service.probes_submission` (CLI and API)
and :mod:`scheduler.service.probes_domestic` (slicing domestic chips).

Every probe works only through the public HTTP API of a running deployment: it builds a throw-away
tenant (:class:`services.iam.probes.ProbeTenant`), submits tiny jobs (``python3 -c ...``) as that
tenant's developer, watches them through ``GET /jobs/{id}``, events and logs, and deletes all it made.

Jobs without accelerators run as real processes; a probe that needed no simulated node reports
``verified``. Probes needing accelerators register their own simulated nodes (``simulated: true``,
a platform-admin call) with products named only for the probe, so nothing else is placed on their
devices, and report ``simulated``: the placement decisions are real, the devices are not.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from scheduler.service.probe_kit import (
    CORDON_WAIT_S,
    POLL_S,
    SLEEP,
    ProbeJobs,
    ProbeNodes,
)
from scheduler.service.probe_kit import body as _body
from scheduler.service.probe_kit import group as _group
from scheduler.service.probe_kit import outcome as _outcome
from scheduler.service.probe_kit import running as _running
from scheduler.service.probe_kit import state as _state
from scheduler.service.probes_domestic import PROBES as DOMESTIC_PROBES
from scheduler.service.probes_health import PROBES as HEALTH_PROBES
from scheduler.service.probes_node_health import PROBES as NODE_HEALTH_PROBES
from scheduler.service.probes_placement import PROBES as PLACEMENT_PROBES
from scheduler.service.probes_queues import PROBES as QUEUE_PROBES
from scheduler.service.probes_submission import PROBES as SUBMISSION_PROBES
from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant


class JobLifecycleProbe:
    """Lifecycle (6.2.4.1 a), job types (c) and job information: state, events, metrics, logs (e)."""

    name = "scheduler.job-lifecycle"
    clause_ids = ("6.2.4.1.a", "6.2.4.1.c", "6.2.4.1.e")

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Create held, start, suspend, resume and delete a job; run a train and an inference job."""
        tenant = ProbeTenant(ctx, "jobs")
        jobs = ProbeJobs(ctx, tenant)
        try:
            await tenant.create("developer")
            held = await jobs.submit({"groups": [_group("worker", SLEEP)], "start": False})
            ctx.require(
                held.get("state") == "suspended", f"a job created with start=false is {held.get('state')!r}"
            )
            job_id = held["id"]
            await jobs.action(job_id, "start")
            started = await jobs.wait(job_id, _running, "ran after start")
            await jobs.action(job_id, "suspend")
            stopped = await jobs.wait(
                job_id,
                lambda j: (
                    j["state"] == "suspended"
                    and all(t["state"] == "pending" and not t["node"] for t in j["tasks"])
                ),
                "stopped its tasks after suspend",
            )
            await jobs.action(job_id, "resume")
            resumed = await jobs.wait(
                job_id, lambda j: _running(j) and j["tasks"][0]["attempt"] >= 1, "ran again"
            )
            kinds = [e["kind"] for e in await jobs.events(job_id)]
            ctx.require(
                "submitted" in kinds and "stopped" in kinds, f"the job's events lack submit/stop: {kinds}"
            )
            await jobs.delete(job_id)
            gone = await jobs.get(job_id)
            ctx.require(gone.status_code == 404, f"a deleted job still answered {gone.status_code}")

            rank_code = "import os; print('rank', os.environ['RANK'], 'of', os.environ['WORLD_SIZE'])"
            train = await jobs.submit({"type": "train", "groups": [_group("trainer", rank_code, replicas=2)]})
            infer = await jobs.submit({"type": "inference", "groups": [_group("server", "print('served')")]})
            done_train = await jobs.wait(train["id"], _state("completed"), "completed")
            done_infer = await jobs.wait(infer["id"], _state("completed"), "completed")
            ctx.require(
                (done_train["type"], done_infer["type"]) == ("train", "inference"),
                f"job types came back as {done_train['type']!r} and {done_infer['type']!r}",
            )
            log = await jobs.logs(train["id"], "trainer-1")
            ctx.require(log.strip() == "rank 1 of 2", f"the train job's rank-1 log reads {log[:200]!r}")
            served = await jobs.logs(infer["id"], "server-0")
            ctx.require("served" in served, f"the inference job's log reads {served[:200]!r}")
            metrics = await jobs.get(train["id"], "/metrics")
            ctx.require(metrics.status_code == 200, f"job metrics answered {metrics.status_code}")
            ctx.require(
                len(_body(metrics).get("tasks", [])) == 2, "job metrics do not list the train job's two tasks"
            )
            transitions = [
                (e["source"], e["target"])
                for e in await jobs.events(train["id"])
                if e["kind"] == "transition"
            ]
            ctx.require(
                ("running", "completed") in transitions, f"the train job's transitions were {transitions}"
            )
            simulated = any(j["simulated"] for j in (started, stopped, resumed, done_train, done_infer))
            return _outcome(
                ctx,
                simulated,
                "job created held, started, suspended (tasks stopped), resumed (new attempt) and deleted; "
                "train and inference jobs ran to completion with state, events, metrics and per-task logs",
            )
        finally:
            await jobs.delete_all()
            await tenant.delete()


class JobQuotaProbe:
    """Job resource quotas configured at project and department level are enforced (6.2.4.1 d)."""

    name = "scheduler.job-quota"
    clause_ids = ("6.2.4.1.d",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Limit CPU at the project and memory at the department; jobs beyond either are refused 409."""
        tenant = ProbeTenant(ctx, "jobquota")
        jobs = ProbeJobs(ctx, tenant)
        try:
            await tenant.create("developer")
            base = f"/v1/tenants/{tenant.id}"
            limits = {
                f"{base}/departments/{tenant.department_id}/quota": {"memory_mib": 160},
                f"{base}/projects/{tenant.project_id}/quota": {"cpu_millicores": 250},
            }
            for path, limit in limits.items():
                response = await ctx.put(path, json={"limits": limit})
                ctx.require(
                    response.status_code == 200, f"setting quota {limit} answered {response.status_code}"
                )
            held = {"start": False}
            within = await jobs.submit({"groups": [_group("w", "print(1)", replicas=2)], **held})
            lean = {**_group("w", "print(1)"), "memory_mib": 16}
            over_cpu = await jobs.submit({"groups": [lean], **held}, expect=409)
            detail = over_cpu.get("detail") or {}
            ctx.require(
                (detail.get("level"), detail.get("resource")) == ("project", "cpu_millicores"),
                f"the CPU refusal named {detail}, expected the project's cpu_millicores",
            )
            small = {**_group("w", "print(1)"), "cpu_milli": 10}
            over_mem = await jobs.submit({"groups": [small], **held}, expect=409)
            detail = over_mem.get("detail") or {}
            ctx.require(
                (detail.get("level"), detail.get("resource")) == ("department", "memory_mib"),
                f"the memory refusal named {detail}, expected the department's memory_mib",
            )
            used = _body(await ctx.get(f"{base}/projects/{tenant.project_id}/quota")).get("used", {})
            ctx.require(
                used.get("cpu_millicores") == 200, f"the project's CPU in use is {used}, expected 200"
            )
            await jobs.delete(within["id"])
            deadline = time.monotonic() + 5
            while used and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
                used = _body(await ctx.get(f"{base}/projects/{tenant.project_id}/quota")).get("used", {})
            ctx.require(not used, f"after deleting the job the project still uses {used}")
            return ctx.verified(
                "job quotas at project (CPU) and department (memory) level: a job within is accepted and "
                "accounted, jobs beyond are refused 409 naming level and resource, deletion releases it"
            )
        finally:
            await jobs.delete_all()
            await tenant.delete()


class GangAcceleratorProbe:
    """Gang placement (6.2.4.2 b), by accelerator type (c), across kinds of accelerators in one job (j),
    with 1 or 2 devices per task (6.2.1.1 j). Runs on simulated nodes the probe registers."""

    name = "scheduler.gang-accelerator-types"
    clause_ids = ("6.2.4.2.b", "6.2.4.2.c", "6.2.4.2.j", "6.2.1.1.j")

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """A gang that fits only partly waits with nothing placed, then starts whole; then a job of
        two vendors runs."""
        tenant = ProbeTenant(ctx, "gang")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            nv_node, nv = await nodes.add("nv", vendor="nvidia", count=2)
            asc_node, asc = await nodes.add("asc", vendor="huawei-ascend", count=1)
            await tenant.create("developer")
            hog = await jobs.submit({"groups": [_group("hog", SLEEP, accelerators={"types": [nv]})]})
            await jobs.wait(hog["id"], _running, "ran")
            gang = await jobs.submit(
                {
                    "type": "train",
                    "min_available": 2,
                    "groups": [_group("rank", "print('gang up')", replicas=2, accelerators={"types": [nv]})],
                }
            )
            waiting = await jobs.wait(
                gang["id"], lambda j: j["state"] == "queued" and bool(j["reasons"]), "waited"
            )
            await asyncio.sleep(0.5)  # let a scheduling cycle or two pass while one device is free
            waiting = _body(await jobs.get(gang["id"]))
            placed = [t["name"] for t in waiting["tasks"] if t["node"]]
            ctx.require(
                waiting["state"] == "queued" and not placed,
                f"with one of two devices free the gang is {waiting['state']!r} with {placed} placed",
            )
            ctx.note("gang waiting", reasons=waiting["reasons"])
            await jobs.delete(hog["id"])
            whole = await jobs.wait(gang["id"], _state("completed"), "completed")
            ctx.require(
                all(t["node"] == nv_node for t in whole["tasks"]) and len(whole["tasks"]) == 2,
                f"the gang's tasks were placed on {[t['node'] for t in whole['tasks']]}",
            )
            show = "import os; print(os.environ['STIC_NODE'], os.environ.get('STIC_VISIBLE_DEVICES'))"
            mixed = await jobs.submit(
                {
                    "type": "train",
                    "min_available": 2,
                    "groups": [
                        _group("nv", show, accelerators={"types": [nv], "count": 2}),
                        _group("asc", show, accelerators={"types": [asc], "count": 1}),
                    ],
                }
            )
            done = await jobs.wait(mixed["id"], _state("completed"), "completed")
            placement = {t["group"]: (t["node"], len(t["devices"])) for t in done["tasks"]}
            ctx.require(
                placement == {"nv": (nv_node, 2), "asc": (asc_node, 1)},
                f"the two-vendor job was placed as {placement}",
            )
            log = await jobs.logs(mixed["id"], "nv-0")
            ctx.require(nv_node in log, f"the nvidia task's log does not name its node: {log[:200]!r}")
            ctx.require(done["simulated"], "tasks on simulated nodes are not marked simulated")
            return ctx.simulated(
                "gang job waited with no task placed while only part of it fitted, then started whole; "
                "a job with an NVIDIA group (2 devices per task) and an Ascend group (1 device) was placed "
                "by type on matching nodes and ran (nodes and devices simulated, processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


class SharedExclusiveProbe:
    """Shared (fractional) and exclusive use of devices (6.2.4.2 d, 6.2.1.1 k), on simulated nodes."""

    name = "scheduler.shared-exclusive"
    clause_ids = ("6.2.4.2.d", "6.2.1.1.k")

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Two half-device jobs share one device; an exclusive job waits until they leave."""
        tenant = ProbeTenant(ctx, "share")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            node, model = await nodes.add("share", vendor="other", count=1)
            await tenant.create("developer")
            half = {"types": [model], "mode": "shared", "compute_milli": 500, "memory_mib": 4096}
            share_code = (
                "import os, time; print('share', os.environ.get('STIC_ACCEL_COMPUTE_MILLI'), flush=True); "
                "time.sleep(30)"
            )
            shared = [
                await jobs.submit({"groups": [_group("s", share_code, accelerators=half)]}) for _ in range(2)
            ]
            running = [await jobs.wait(j["id"], _running, "ran") for j in shared]
            placements = {(j["tasks"][0]["node"], tuple(j["tasks"][0]["devices"])) for j in running}
            ctx.require(placements == {(node, (0,))}, f"the shared jobs were placed on {placements}")
            shares = [(j["tasks"][0]["accel_milli"], j["tasks"][0]["accel_memory_mib"]) for j in running]
            ctx.require(
                shares == [(500, 4096)] * 2, f"the shared tasks hold {shares}, expected 500 milli / 4096 MiB"
            )
            exclusive = await jobs.submit(
                {"groups": [_group("x", "print('alone')", accelerators={"types": [model]})]}
            )
            await jobs.wait(
                exclusive["id"], lambda j: j["state"] == "queued" and bool(j["reasons"]), "waited"
            )
            for job in shared:
                await jobs.delete(job["id"])
            done = await jobs.wait(exclusive["id"], _state("completed"), "completed")
            task = done["tasks"][0]
            ctx.require(
                (task["node"], task["accel_milli"]) == (node, 1000),
                f"the exclusive task ran on {task['node']} holding {task['accel_milli']} milli",
            )
            return ctx.simulated(
                "two jobs each holding half of one device ran on it at once; an exclusive job for the same "
                "device waited with reasons and ran alone once they left (device simulated, processes real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


CRASH_FIRST = (
    "import os, sys; print('attempt', os.environ['STIC_ATTEMPT']); "
    "sys.exit(3 if os.environ['STIC_ATTEMPT'] == '0' else 0)"
)
HANG_FIRST = (
    "import os, time; print('STIC_HEARTBEAT', flush=True); "
    "time.sleep(30 if os.environ['STIC_ATTEMPT'] == '0' else 0)"
)

RECOVERY_ACTIONS = {
    "abnormal_exit": ("restart",),
    "reschedule": ("reschedule",),
    "hang": ("restart", "reschedule"),
}


class FaultRecoveryProbe:
    """Abnormal exits and hangs are detected (6.2.4.3 a) and recovered by local restart or by
    rescheduling (6.2.4.3 b), without anyone acting on the job.

    The failing jobs run on two simulated nodes the probe registers, never on a real node: the
    platform cordons a node after repeated task failures, and a probe must not cordon real ones.
    """

    name = "scheduler.fault-recovery"
    clause_ids = ("6.2.4.3.a", "6.2.4.3.b")

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Three jobs fail on their first attempt (exit 3, exit 3, hang) and must each complete."""
        tenant = ProbeTenant(ctx, "faults")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            _, model = await nodes.add("fault-a", vendor="other", count=3)
            await nodes.add("fault-b", vendor="other", count=3, model=model)
            await tenant.create("developer")
            device = {"types": [model]}
            cases: dict[str, tuple[str, dict[str, Any]]] = {
                "abnormal_exit": (CRASH_FIRST, {"policy": "restart_in_place"}),
                "reschedule": (CRASH_FIRST, {"policy": "reschedule"}),
                "hang": (HANG_FIRST, {"policy": "restart_in_place", "heartbeat_timeout_seconds": 1.0}),
            }
            submitted = {
                case: await jobs.submit(
                    {
                        "groups": [_group("w", code, accelerators=device)],
                        "recovery": {"backoff_seconds": 0.1, **recovery},
                    }
                )
                for case, (code, recovery) in cases.items()
            }
            for case, job in submitted.items():
                done = await jobs.wait(job["id"], _state("completed"), "completed", limit_s=20)
                ctx.require(done["retries"] >= 1, f"{case}: the job completed with {done['retries']} retries")
                events = await jobs.events(job["id"])
                faults = [e["message"] for e in events if e["kind"] == "fault"]
                recoveries = [e["message"] for e in events if e["kind"] == "recovery"]
                expected = "hang" if case == "hang" else "abnormal_exit"
                ctx.require(
                    any(expected in m for m in faults),
                    f"{case}: no {expected} fault recorded (faults: {faults})",
                )
                # the hang is the third failure: its node may be cordoned by then and the job moved
                actions = RECOVERY_ACTIONS[case]
                ctx.require(
                    any(m.split(":", 1)[0] in actions for m in recoveries),
                    f"{case}: no {' or '.join(actions)} recovery recorded (recoveries: {recoveries})",
                )
            log = await jobs.logs(submitted["abnormal_exit"]["id"], "w-0", attempt=0)
            ctx.require("attempt 0" in log, f"the failed attempt's log reads {log[:200]!r}")
            return ctx.simulated(
                "abnormal exit (code 3) and hang (no heartbeat for 1 s) were detected; jobs recovered by "
                "restart and by rescheduling and then completed, with the failed attempt's log kept "
                "(processes real, their nodes simulated)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


CHECKPOINTED = """
import os, pathlib, sys
ckpt = pathlib.Path(os.environ['STIC_CHECKPOINT_DIR']); ckpt.mkdir(parents=True, exist_ok=True)
resume = os.environ.get('STIC_RESUME_FROM')
start = int(pathlib.Path(resume).read_text()) if resume else 0
print('resumed from', start if resume else 'scratch', 'on', os.environ['STIC_NODE'], flush=True)
for step in range(start + 1, 6):
    (ckpt / f'step-{step}').write_text(str(step))
    print('STIC_PROGRESS', step, flush=True)
    if step == start + 2 and int(os.environ['STIC_ATTEMPT']) < 2:
        sys.exit(1)
print('finished at', step)
"""
FAIL_TWICE = "import os, sys; sys.exit(1 if int(os.environ['STIC_ATTEMPT']) < 2 else 0)"


class NodeIsolationProbe:
    """A node where tasks keep failing is cordoned without anyone acting, and the training job
    restarts from its latest checkpoint on another node (6.4.3 d). Runs on simulated nodes.
    """

    name = "scheduler.node-isolation"
    clause_ids = ("6.4.3.d",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Two jobs fail twice each on one node; it must be cordoned and the checkpointed job resume."""
        tenant = ProbeTenant(ctx, "isolate")
        jobs = ProbeJobs(ctx, tenant)
        nodes = ProbeNodes(ctx)
        try:
            bad, model = await nodes.add("bad", vendor="other", count=2)
            await tenant.create("developer")
            device = {"types": [model]}
            retry = {"policy": "restart_from_checkpoint", "max_retries": 5, "backoff_seconds": 0.1}
            train = await jobs.submit(
                {
                    "type": "train",
                    "groups": [_group("w", CHECKPOINTED, accelerators=device)],
                    "recovery": retry,
                }
            )
            other = await jobs.submit(
                {
                    "groups": [_group("w", FAIL_TWICE, accelerators=device)],
                    "recovery": {**retry, "policy": "restart_in_place"},
                }
            )
            deadline = time.monotonic() + CORDON_WAIT_S
            node: dict[str, Any] = {}
            while time.monotonic() < deadline:
                node = _body(await ctx.get(f"/v1/nodes/{bad}"))
                if node.get("cordoned"):
                    break
                await asyncio.sleep(POLL_S)
            ctx.require(
                bool(node.get("cordoned")),
                f"node {bad} was not cordoned after repeated task failures: {node}",
            )
            ctx.note("node cordoned", node=bad, reason=node.get("cordon_reason"))
            events = await ctx.get(f"/v1/nodes/{bad}/events")
            kinds = [e["kind"] for e in _body(events)] if events.status_code == 200 else []
            ctx.require("cordoned" in kinds, f"the node's events do not record the cordon: {kinds}")
            good, _ = await nodes.add("good", vendor="other", count=2, model=model)
            done = await jobs.wait(train["id"], _state("completed"), "completed", limit_s=20)
            task = done["tasks"][0]
            ctx.require(task["node"] == good, f"the training job finished on {task['node']}, expected {good}")
            log = await jobs.logs(train["id"], "w-0")
            ctx.require(
                "resumed from 4" in log and "finished at 5" in log,
                f"the last attempt did not resume from the latest checkpoint (step 4): {log[:300]!r}",
            )
            await jobs.wait(other["id"], _state("completed"), "completed")
            return ctx.simulated(
                f"after repeated task failures node {bad} was cordoned automatically "
                f"({node.get('cordon_reason')}); the training job restarted from its latest checkpoint "
                "on another node and completed (nodes simulated, processes and checkpoints real)"
            )
        finally:
            await jobs.delete_all()
            await nodes.delete_all()
            await tenant.delete()


PROBES = (
    JobLifecycleProbe(),
    JobQuotaProbe(),
    GangAcceleratorProbe(),
    SharedExclusiveProbe(),
    FaultRecoveryProbe(),
    NodeIsolationProbe(),
    *PLACEMENT_PROBES,
    *QUEUE_PROBES,
    *HEALTH_PROBES,
    *NODE_HEALTH_PROBES,
    *SUBMISSION_PROBES,
    *DOMESTIC_PROBES,
)
