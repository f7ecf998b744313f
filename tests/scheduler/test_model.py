"""Model validation, state machine, inventories."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.model import (
    AcceleratorRequest,
    InvalidTransitionError,
    JobEvent,
    JobLifecycle,
    JobSpecError,
    JobState,
    ModelError,
    Queue,
    QueueTree,
    Resources,
    SharingMode,
    TaskGroup,
    Vendor,
    transition,
    validate_job,
)
from scheduler.model.inventories import demo_inventory, local_inventory, local_node
from scheduler.model.topology import DEFAULT_TIERS
from scheduler.testing import A100, ASCEND, job

MODELS = [A100, ASCEND]


def _validate(spec: object) -> None:
    validate_job(spec, accelerator_models=MODELS, tiers=DEFAULT_TIERS, queues={"default"})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (job("a").group(gpus=1, types=("H800",)).obj(), "groups[0].accelerators.types[0]"),
        (job("a").group(replicas=2).with_(min_available=3).obj(), "min_available"),
        (job("a").topology("rack").obj(), "topology.tier"),
        (job("a").on("nope").obj(), "queue"),
        (job("a").group(replicas=0).obj(), "groups[0].replicas"),
        (job("a").group(replicas=2, min_replicas=3).obj(), "groups[0].min_replicas"),
        (job("a").with_(priority_class="urgent").obj(), "priority_class"),
        (job("").obj(), "id"),
        (job("a").group("x").group("x").obj(), "groups"),
    ],
)
def test_invalid_specs_name_the_field(spec: object, field: str) -> None:
    with pytest.raises(JobSpecError) as info:
        _validate(spec)
    assert info.value.field == field


@pytest.mark.parametrize(
    "request_",
    [
        AcceleratorRequest(2, mode=SharingMode.SHARED, compute_milli=500),
        AcceleratorRequest(1, mode=SharingMode.SHARED, compute_milli=1000),
        AcceleratorRequest(0),
    ],
)
def test_bad_accelerator_requests(request_: AcceleratorRequest) -> None:
    spec = job("a").obj()
    spec = type(spec)("a", "default", (TaskGroup("w", 1, 1, 1, request_),))
    with pytest.raises(JobSpecError, match="accelerators"):
        _validate(spec)


def test_valid_multi_type_job_passes() -> None:
    spec = (
        job("mixed")
        .group("trainer", 2, gpus=8, types=("nvidia/A100",))
        .group("rollout", 4, gpus=1, types=(Vendor.HUAWEI_ASCEND.value,))
        .topology("spine")
        .obj()
    )
    assert _validate(spec) is None
    assert spec.gang_minimum == 6


@pytest.mark.parametrize(
    ("state", "event", "target"),
    [
        (JobState.PENDING, JobEvent.ADMIT, JobState.QUEUED),
        (JobState.QUEUED, JobEvent.SCHEDULE, JobState.SCHEDULED),
        (JobState.RUNNING, JobEvent.EVICT, JobState.QUEUED),
        (JobState.UNSCHEDULABLE, JobEvent.RETRY, JobState.PENDING),
        (JobState.RUNNING, JobEvent.SUSPEND, JobState.SUSPENDED),
        (JobState.SUSPENDED, JobEvent.RESUME, JobState.PENDING),
    ],
)
def test_valid_transitions(state: JobState, event: JobEvent, target: JobState) -> None:
    assert transition(state, event) is target


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (JobState.PENDING, JobEvent.START),
        (JobState.COMPLETED, JobEvent.RESUME),
        (JobState.QUEUED, JobEvent.COMPLETE),
    ],
)
def test_invalid_transitions_raise(state: JobState, event: JobEvent) -> None:
    with pytest.raises(InvalidTransitionError):
        transition(state, event)


def test_lifecycle_records_history() -> None:
    life = JobLifecycle()
    for event in (JobEvent.ADMIT, JobEvent.SCHEDULE, JobEvent.START, JobEvent.COMPLETE):
        life.apply(event, "ok")
    assert life.terminal and [r.target for r in life.history][-1] is JobState.COMPLETED


def test_demo_inventory_is_simulated_and_multi_vendor() -> None:
    inv = demo_inventory()
    assert inv.simulated
    vendors = {m.vendor for m in inv.accelerator_models().values()}
    assert vendors == {Vendor.NVIDIA, Vendor.HUAWEI_ASCEND, Vendor.CAMBRICON, Vendor.HYGON, Vendor.KUNLUNXIN}
    assert {d.tier for d in inv.topology.domains.values()} == {"leaf", "spine", "pod"}
    assert all(d.fabric.simulated for d in inv.topology.domains.values())


def test_local_node_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16384000 kB\nMemFree: 1 kB\n")
    node = local_node(meminfo=meminfo)
    assert node.memory_mib == 16000 and not node.accelerators and node.cpu_milli >= 1000
    assert local_inventory(meminfo=meminfo).simulated is False
    meminfo.write_text("nothing\n")
    with pytest.raises(ModelError, match="MemTotal"):
        local_node(meminfo=meminfo)


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        ([Queue("a", parent="ghost")], "unknown queue"),
        ([Queue("a"), Queue("a")], "duplicate"),
        (
            [
                Queue("p", deserved=Resources(0, 0, 1000)),
                Queue("c", parent="p", guarantee=Resources(0, 0, 2000), deserved=Resources(0, 0, 2000)),
            ],
            "guarantee",
        ),
    ],
)
def test_queue_tree_validation(queues: list[Queue], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        QueueTree(queues)


def test_queue_guarantee_above_deserved_rejected() -> None:
    with pytest.raises(ModelError, match="guarantee"):
        Queue("a", guarantee=Resources(0, 0, 2), deserved=Resources(0, 0, 1))
