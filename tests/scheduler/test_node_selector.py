"""Node selectors (Kubernetes ``nodeSelector`` semantics): label syntax, matching, the predicate and
its pending reason, gangs, feasibility, spec validation, and the platform's ``stic.io/`` labels."""

from __future__ import annotations

import pytest

from scheduler import Scheduler, Snapshot
from scheduler.framework.snapshot import JobRecord
from scheduler.model import JobSpecError, QueueTree, validate_job
from scheduler.model import labels as node_labels
from scheduler.plugins.predicates import fits
from scheduler.testing import config, cycle, job, make_inventory, make_node

REAL = {node_labels.SIMULATED: "false"}
SIM = {node_labels.SIMULATED: "true"}


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("zone", True),
        ("stic.io/simulated", True),
        ("example.com/gpu-class", True),
        ("a.b-c.d/Name_1.x", True),
        ("x" * 63, True),
        ("x" * 64, False),
        ("-zone", False),
        ("zone-", False),
        ("has space", False),
        ("/name", False),
        ("Example.com/name", False),  # prefix must be a lower-case DNS subdomain
        ("a/b/c", False),  # the prefix 'a/b' is no DNS subdomain
        ("", False),
    ],
)
def test_label_key_syntax(key: str, ok: bool) -> None:
    assert (node_labels.key_problem(key) is None) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("false", True), ("v1.2_3-x", True), ("-x", False), ("x" * 64, False), ("a b", False)],
)
def test_label_value_syntax(value: str, ok: bool) -> None:
    assert (node_labels.value_problem(value) is None) is ok


def test_every_pair_must_match() -> None:
    labels = {"zone": "a", "tier": "gold"}
    assert node_labels.matches((), labels)
    assert node_labels.matches((("zone", "a"),), labels)
    assert node_labels.matches((("tier", "gold"), ("zone", "a")), labels)
    assert not node_labels.matches((("tier", "gold"), ("zone", "b")), labels)
    assert not node_labels.matches((("rack", "1"),), labels)


def test_platform_labels_win_over_stored_ones() -> None:
    merged = node_labels.with_platform_labels(
        {"zone": "a", node_labels.SIMULATED: "false"}, name="n0", arch="x86_64", simulated=True
    )
    assert merged == {
        "zone": "a",
        node_labels.SIMULATED: "true",
        node_labels.HOSTNAME: "n0",
        "stic.io/arch": "x86_64",
    }


def test_predicate_refuses_a_node_without_the_labels_and_names_the_selector() -> None:
    inv = make_inventory([make_node("sim", labels=SIM), make_node("real", labels=REAL)])
    spec = job("j").select(REAL).obj()
    snap = Snapshot(inv, QueueTree.single(), [JobRecord(spec)])
    task = snap.jobs["j"].tasks[0]
    refused = fits(task, snap.by_name["sim"])
    assert not refused.ok and refused.plugin == "predicates"
    assert refused.reasons == ("node(s) didn't match node selector {stic.io/simulated=false}",)
    assert fits(task, snap.by_name["real"]).ok


@pytest.mark.parametrize("policy", ["firstfit", "binpack"])
def test_tasks_land_only_on_matching_nodes(policy: str) -> None:
    # the simulated nodes come first and are emptier: without the selector first-fit would take them
    nodes = [make_node(f"sim{i}", labels=SIM) for i in range(3)] + [make_node("real", labels=REAL)]
    sched = Scheduler(config(["gang", "predicates", policy]))
    _, result = cycle(sched, make_inventory(nodes), [job("j").group(replicas=4).select(REAL).obj()])
    assert len(result.placements) == 4
    assert {p.node for p in result.placements} == {"real"}
    _, free = cycle(sched, make_inventory(nodes), [job("k").group(replicas=1).obj()])
    assert free.placements[0].node == "sim0"  # the same job without a selector goes anywhere


def test_gang_waits_whole_when_matching_nodes_are_full_with_a_reason_naming_the_selector() -> None:
    nodes = [make_node("sim0", labels=SIM), make_node("real", cpu=2000, labels=REAL)]
    spec = job("j").group(replicas=3, cpu=1000).select(REAL).obj()
    blocker = job("b").group(cpu=1000).select(REAL).obj()
    snap = Snapshot(make_inventory(nodes), QueueTree.single(), [JobRecord(blocker), JobRecord(spec)])
    result = Scheduler(config(["gang", "predicates"])).run_cycle(snap)
    assert [p.job_id for p in result.placements] == ["b"]  # no task of the gang placed alone
    info = result.pending["j"]
    assert not info.unschedulable  # the real node could hold it once it frees up
    assert any("didn't match node selector {stic.io/simulated=false}" in r for r in info.reasons), (
        info.reasons
    )


def test_selector_no_node_carries_is_unschedulable_naming_it() -> None:
    inv = make_inventory([make_node("sim0", labels=SIM), make_node("sim1", labels=SIM)])
    _, result = cycle(Scheduler(config(["gang", "predicates"])), inv, [job("j").select(REAL).obj()])
    assert not result.placements
    info = result.pending["j"]
    assert info.unschedulable
    assert "predicates: no node matches node selector {stic.io/simulated=false}" in info.reasons


def test_selector_whose_nodes_are_too_small_is_unschedulable() -> None:
    inv = make_inventory(
        [make_node("big", cpu=64_000, labels=SIM), make_node("small", cpu=2000, labels=REAL)]
    )
    spec = job("j").group(cpu=8000).select(REAL).obj()
    _, result = cycle(Scheduler(config(["gang", "predicates"])), inv, [spec])
    info = result.pending["j"]
    assert info.unschedulable and not result.placements
    assert any("fits no node matching node selector {stic.io/simulated=false}" in r for r in info.reasons)


def test_preemption_evicts_only_on_a_node_the_selector_admits() -> None:
    nodes = [make_node("sim0", cpu=2000, labels=SIM), make_node("real", cpu=2000, labels=REAL)]
    lows = [job(f"low{i}").group(cpu=2000).with_(priority=-100).obj() for i in range(2)]
    high = job("high").group(cpu=2000).with_(priority=100).select(REAL).obj()
    sched = Scheduler(config(["priority", "gang", "predicates"], actions=("enqueue", "allocate", "preempt")))
    snap = Snapshot(make_inventory(nodes), QueueTree.single(), [JobRecord(j) for j in lows])
    snap.bind(snap.jobs["low0"].tasks[0], snap.by_name["sim0"], ())
    snap.bind(snap.jobs["low1"].tasks[0], snap.by_name["real"], ())
    snap.add_job(JobRecord(high))
    result = sched.run_cycle(snap)
    assert [(e.job_id, e.node) for e in result.evictions] == [("low1", "real")]
    assert [(p.job_id, p.node) for p in result.placements] == [("high", "real")]


@pytest.mark.parametrize(
    ("selector", "field"),
    [
        ((("bad key", "x"),), "node_selector.bad key"),
        ((("zone", "-x"),), "node_selector.zone"),
        ((("zone", "a"), ("zone", "b")), "node_selector"),
    ],
)
def test_validate_job_names_a_bad_selector(selector: tuple[tuple[str, str], ...], field: str) -> None:
    spec = job("j").with_(node_selector=selector).obj()
    with pytest.raises(JobSpecError) as caught:
        validate_job(spec, accelerator_models=[], tiers=["node", "leaf"], queues=["default"])
    assert caught.value.field == field
