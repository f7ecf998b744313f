"""Health plugin: multi-node gangs avoid network-slow nodes and prefer leaf domains without any;
devices reported lost are never allocated (table-driven)."""

from __future__ import annotations

import pytest

from scheduler import JobRecord, Scheduler, Snapshot, load_config
from scheduler.model import Accelerator, NodeHealth, QueueTree
from scheduler.testing import A100, config, cycle, job, make_inventory, make_node

SLOW = NodeHealth(network_slow=True)
HEALTH_ONLY = config(["gang", "predicates", "health"])
DEFAULT = load_config("default")


def _nodes(slow: set[str], gpus: dict[str, int] | None = None) -> list:
    """n0..n3; leaves of two: (n0, n1), (n2, n3)."""
    gpus = gpus or {}
    return [
        make_node(f"n{i}", gpus=gpus.get(f"n{i}", 8), health=SLOW if f"n{i}" in slow else None)
        for i in range(4)
    ]


@pytest.mark.parametrize("policy", [HEALTH_ONLY, DEFAULT], ids=["health", "default"])
@pytest.mark.parametrize(
    ("slow", "gpus", "spec", "placed"),
    [
        # no slow node: the gang fills the first leaf
        (set(), None, job("j").group(replicas=2, gpus=8), {"n0", "n1"}),
        # n0 slow: the gang skips it and its leaf, landing in the healthy leaf
        ({"n0"}, None, job("j").group(replicas=2, gpus=8), {"n2", "n3"}),
        # one slow node per leaf: the gang takes the two healthy nodes, whatever their leaves
        ({"n0", "n2"}, None, job("j").group(replicas=2, gpus=8), {"n1", "n3"}),
        # a single task talks to no peer: a network-slow node is fine for it
        ({"n0"}, {"n1": 0, "n2": 0, "n3": 0}, job("j").group(gpus=8), {"n0"}),
        # an elastic job that may run with one task is not a gang either
        ({"n0"}, {"n1": 0, "n2": 0, "n3": 0}, job("j").group(replicas=2, gpus=4, min_replicas=1), {"n0"}),
    ],
)
def test_gangs_avoid_network_slow_nodes_and_their_domains(policy, slow, gpus, spec, placed) -> None:  # type: ignore[no-untyped-def]
    inv = make_inventory(_nodes(slow, gpus))
    _, result = cycle(Scheduler(policy), inv, [spec.obj()])
    assert {p.node for p in result.placements} == placed


@pytest.mark.parametrize("policy", [HEALTH_ONLY, DEFAULT], ids=["health", "default"])
def test_a_gang_that_fits_only_on_network_slow_nodes_waits_with_that_reason(policy) -> None:  # type: ignore[no-untyped-def]
    inv = make_inventory(_nodes({"n0", "n1"}, {"n2": 0, "n3": 0}))
    _, result = cycle(Scheduler(policy), inv, [job("j").group(replicas=2, gpus=8).obj()])
    assert result.placements == []
    info = result.pending["j"]
    assert not info.unschedulable  # the verdict may change with the next report
    assert any("health: node network-slow (multi-node gangs avoid it)" in r for r in info.reasons), info


@pytest.mark.parametrize(
    ("lost", "want", "placed_devices"),
    [
        ((), 2, (0, 1)),
        ((0,), 2, (1, 2)),  # the lost device is skipped, the rest of the node stays usable
        ((0, 1, 2), 2, None),  # one healthy device left: a 2-device task cannot fit
    ],
)
def test_lost_devices_are_never_allocated(
    lost: tuple[int, ...], want: int, placed_devices: tuple[int, ...] | None
) -> None:
    base = make_node("n0", gpus=4, links=())
    node = type(base)(
        base.name,
        base.cpu_milli,
        base.memory_mib,
        base.arch,
        tuple(Accelerator(i, A100, healthy=i not in lost) for i in range(4)),
    )
    snap = Snapshot(make_inventory([node]), QueueTree.single(), [JobRecord(job("j").group(gpus=want).obj())])
    result = Scheduler(HEALTH_ONLY).run_cycle(snap)
    devices = result.placements[0].devices if result.placements else None
    assert devices == placed_devices
