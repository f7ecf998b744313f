"""A job's own placement strategy (binpack / spread) and the nodes a rescheduled job avoids."""

from __future__ import annotations

import pytest

from scheduler import JobRecord, Scheduler, Snapshot, load_config
from scheduler.model import PlacementStrategy, QueueTree
from scheduler.testing import cycle, job, make_inventory, make_node

DEFAULT = load_config("default")


@pytest.mark.parametrize(
    ("strategy", "distinct_nodes"),
    [(PlacementStrategy.SPREAD, 4), (PlacementStrategy.BINPACK, 1), (None, None)],
)
def test_job_placement_strategy_decides_how_tasks_spread(
    strategy: PlacementStrategy | None, distinct_nodes: int | None
) -> None:
    inv = make_inventory([make_node(f"n{i}", gpus=4) for i in range(4)])
    spec = job("j").with_(placement=strategy).group(replicas=4, gpus=1).obj()
    _, result = cycle(Scheduler(DEFAULT), inv, [spec])
    nodes = {p.node for p in result.placements}
    assert len(result.placements) == 4
    if distinct_nodes is not None:
        assert len(nodes) == distinct_nodes, nodes


def test_spread_job_prefers_the_emptiest_node_even_against_binpacking_neighbours() -> None:
    inv = make_inventory([make_node("a", gpus=4), make_node("b", gpus=4)])
    packed = job("packed").with_(placement=PlacementStrategy.BINPACK).group(replicas=2, gpus=1).obj()
    snap, first = cycle(Scheduler(DEFAULT), inv, [packed])
    busy = {p.node for p in first.placements}
    assert len(busy) == 1
    snap.add_job(JobRecord(job("spread").with_(placement=PlacementStrategy.SPREAD).group(gpus=1).obj()))
    second = Scheduler(DEFAULT).run_cycle(snap)
    assert [p.node for p in second.placements] == [n for n in ("a", "b") if n not in busy]


def test_a_job_never_returns_to_a_node_it_avoids() -> None:
    inv = make_inventory([make_node("bad", gpus=8), make_node("good", gpus=1)])
    record = JobRecord(job("j").group(gpus=1).obj(), avoid_nodes=frozenset({"bad"}))
    snap = Snapshot(inv, QueueTree.single(), [record])
    result = Scheduler(DEFAULT).run_cycle(snap)
    assert [(p.task, p.node) for p in result.placements] == [("w-0", "good")]


def test_a_job_that_fits_only_on_avoided_nodes_waits_with_that_reason() -> None:
    inv = make_inventory([make_node("bad", gpus=8), make_node("other", gpus=0)])
    record = JobRecord(job("j").group(gpus=1).obj(), avoid_nodes=frozenset({"bad"}))
    snap = Snapshot(inv, QueueTree.single(), [record])
    result = Scheduler(DEFAULT).run_cycle(snap)
    assert result.placements == []
    info = result.pending["j"]
    assert not info.unschedulable  # a job that fails somewhere is not "never fits": the node may be replaced
    assert any("1 health: node where this job's tasks failed (avoided)" in r for r in info.reasons), info


def test_other_jobs_may_still_use_a_node_one_job_avoids() -> None:
    inv = make_inventory([make_node("bad", gpus=1)])
    snap = Snapshot(inv, QueueTree.single(), [JobRecord(job("other").group(gpus=1).obj())])
    snap.add_job(JobRecord(job("j").group(gpus=1).obj(), avoid_nodes=frozenset({"bad"})))
    result = Scheduler(DEFAULT).run_cycle(snap)
    assert [(p.job_id, p.node) for p in result.placements] == [("other", "bad")]
