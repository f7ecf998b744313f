"""Actions, statements and the cycle API."""

from __future__ import annotations

import pytest

from scheduler import Binding, JobRecord, Scheduler, Snapshot, load_config
from scheduler.framework.statement import Statement
from scheduler.model import JobEvent, JobState, ModelError, Queue, QueueTree, Resources
from scheduler.testing import ASCEND, config, cycle, job, make_inventory, make_node

DEFAULT = load_config("default")


def test_gang_is_all_or_nothing(two_nodes) -> None:  # type: ignore[no-untyped-def]
    spec = job("big").group(replicas=3, gpus=8).obj()  # needs 24 GPUs, cluster has 16
    snap, result = cycle(Scheduler(DEFAULT), two_nodes, [spec])
    assert result.placements == []
    assert snap.used == [0, 0, 0]  # the discarded statement left nothing behind
    assert result.pending["big"].unschedulable
    assert any("exceeds" in r or "whole accelerators" in r for r in result.pending["big"].reasons)


def test_pending_reasons_name_plugins(two_nodes) -> None:  # type: ignore[no-untyped-def]
    blocker = job("blocker").group(replicas=2, gpus=8).obj()
    snap, _ = cycle(Scheduler(DEFAULT), two_nodes, [blocker])
    snap.add_job(JobRecord(job("late").group(gpus=1).obj()))
    result = Scheduler(DEFAULT).run_cycle(snap)
    info = result.pending["late"]
    assert not info.unschedulable
    assert info.reasons[0].startswith("predicates: 0/2 nodes are available")
    assert "2 without 1 free whole accelerator(s) (any type)" in info.reasons[0]


def test_multi_type_job_places_each_group_on_its_vendor() -> None:
    inv = make_inventory([make_node("nv"), make_node("asc", model=ASCEND)])
    spec = (
        job("mixed")
        .group("trainer", 1, gpus=8, types=("nvidia",))
        .group("rollout", 2, gpus=2, types=("Ascend910B",))
        .obj()
    )
    _, result = cycle(Scheduler(DEFAULT), inv, [spec])
    nodes = {p.task: p.node for p in result.placements}
    assert nodes == {"trainer-0": "nv", "rollout-0": "asc", "rollout-1": "asc"}


def test_shared_placements_report_fraction(two_nodes) -> None:  # type: ignore[no-untyped-def]
    specs = [job(f"s{i}").group(share=400).obj() for i in range(3)]
    _, result = cycle(Scheduler(DEFAULT), two_nodes, specs)
    assert [(p.accel_milli, len(p.devices)) for p in result.placements] == [(400, 1)] * 3
    # FGD with a workload of 400m tasks: stacking two on one device would strand 200m, so each
    # task takes a device whose remaining 600m still fits the next 400m task.
    devices = {(p.node, p.devices) for p in result.placements}
    assert len(devices) == 3


def test_transitions_follow_the_state_machine(two_nodes) -> None:  # type: ignore[no-untyped-def]
    _, result = cycle(Scheduler(DEFAULT), two_nodes, [job("j").group(gpus=1).obj()])
    assert [(t.event, t.target) for t in result.transitions] == [
        (JobEvent.ADMIT, JobState.QUEUED),
        (JobEvent.SCHEDULE, JobState.SCHEDULED),
    ]


def test_existing_bindings_are_respected(two_nodes) -> None:  # type: ignore[no-untyped-def]
    running = JobRecord(
        job("r").group(gpus=8).obj(), JobState.RUNNING, {"w-0": Binding("n0", tuple(range(8)))}
    )
    _, result = cycle(Scheduler(DEFAULT), two_nodes, [job("j").group(gpus=8).obj()], records=[running])
    assert [p.node for p in result.placements] == ["n1"]
    with pytest.raises(ModelError, match="unknown node"):
        Snapshot(
            two_nodes,
            QueueTree.single(),
            [JobRecord(job("x").obj(), JobState.RUNNING, {"w-0": Binding("zz")})],
        )


def test_statement_discard_restores_snapshot(two_nodes) -> None:  # type: ignore[no-untyped-def]
    sched = Scheduler(DEFAULT)
    snap = Snapshot(
        two_nodes, QueueTree.single(), [JobRecord(job("j").group(replicas=2, gpus=4).obj(), JobState.QUEUED)]
    )
    session = sched.open_session(snap)
    before = (snap.used[:], dict(snap.buckets), [n.acc_free[:] for n in snap.nodes])
    stmt = Statement(session)
    j = snap.jobs["j"]
    stmt.allocate(j.tasks[0], snap.nodes[0], (0, 1, 2, 3))
    stmt.move(j, JobEvent.SCHEDULE)
    stmt.discard()
    assert (snap.used, dict(snap.buckets), [n.acc_free for n in snap.nodes]) == before
    assert j.state is JobState.QUEUED and session.result.placements == []


def test_preempt_within_queue_evicts_lower_priority() -> None:
    inv = make_inventory([make_node("n0")])
    low = JobRecord(
        job("low").group(gpus=8).with_(priority_class="low").obj(),
        JobState.RUNNING,
        {"w-0": Binding("n0", tuple(range(8)))},
    )
    high = job("high").group(gpus=8).with_(priority_class="high").obj()
    snap, result = cycle(Scheduler(DEFAULT), inv, [high], records=[low])
    assert [(e.job_id, e.action) for e in result.evictions] == [("low", "preempt")]
    assert [p.job_id for p in result.placements] == ["high"]
    assert snap.jobs["low"].state is JobState.QUEUED


def test_preempt_spares_non_preemptible_and_equal_priority() -> None:
    inv = make_inventory([make_node("n0")])
    guarded = JobRecord(
        job("g").group(gpus=8).with_(priority_class="low", preemptible=False).obj(),
        JobState.RUNNING,
        {"w-0": Binding("n0", tuple(range(8)))},
    )
    _, result = cycle(
        Scheduler(DEFAULT),
        inv,
        [job("h").group(gpus=8).with_(priority_class="high").obj()],
        records=[guarded],
    )
    assert result.evictions == [] and "h" in result.pending


def test_reclaim_takes_back_lent_resources() -> None:
    inv = make_inventory([make_node("n0"), make_node("n1")])
    share = Resources(10**9, 10**9, 8000)
    queues = QueueTree([Queue("a", deserved=share), Queue("b", deserved=share)])
    borrower = [
        JobRecord(
            job(f"b{i}").on("b").group(gpus=8).obj(),
            JobState.RUNNING,
            {"w-0": Binding(f"n{i}", tuple(range(8)))},
        )
        for i in range(2)
    ]
    _, result = cycle(
        Scheduler(DEFAULT), inv, [job("a1").on("a").group(gpus=8).obj()], queues=queues, records=borrower
    )
    assert [e.action for e in result.evictions] == ["reclaim"]
    assert [p.job_id for p in result.placements] == ["a1"]


def test_reclaim_never_goes_below_deserved() -> None:
    inv = make_inventory([make_node("n0"), make_node("n1")])
    share = Resources(10**9, 10**9, 8000)
    queues = QueueTree([Queue("a", deserved=share), Queue("b", deserved=share)])
    records = [
        JobRecord(
            job("a0").on("a").group(gpus=8).obj(), JobState.RUNNING, {"w-0": Binding("n0", tuple(range(8)))}
        ),
        JobRecord(
            job("b0").on("b").group(gpus=8).obj(), JobState.RUNNING, {"w-0": Binding("n1", tuple(range(8)))}
        ),
    ]
    _, result = cycle(
        Scheduler(DEFAULT), inv, [job("a1").on("a").group(gpus=8).obj()], queues=queues, records=records
    )
    assert result.evictions == []


def test_backfill_grows_elastic_jobs() -> None:
    inv = make_inventory([make_node("n0", gpus=4)])
    spec = job("el").group(replicas=6, gpus=1, min_replicas=2).obj()
    _, result = cycle(Scheduler(DEFAULT), inv, [spec])
    assert (
        len(result.placements) == 4
    )  # gang of 2 by allocate, then 2 more by backfill until the node is full
    _, only_allocate = cycle(Scheduler(config(["gang", "predicates"])), inv, [spec])
    assert len(only_allocate.placements) == 2


def test_failed_jobs_wait_for_a_release(two_nodes) -> None:  # type: ignore[no-untyped-def]
    sched = Scheduler(DEFAULT)
    snap, _ = cycle(sched, two_nodes, [job("a").group(replicas=2, gpus=8).obj()])
    snap.add_job(JobRecord(job("b").group(gpus=8).obj()))
    assert sched.run_cycle(snap).placements == []
    skipped = sched.run_cycle(snap).pending["b"]
    assert skipped.reasons == ("allocate: no resources released since last attempt",)
    snap.finish_job("a")
    assert [p.job_id for p in sched.run_cycle(snap).placements] == ["b"]
