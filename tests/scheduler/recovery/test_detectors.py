"""Failure detectors, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.recovery.detectors import (
    FaultKind,
    TaskObservation,
    abnormal_exit,
    accelerator_lost,
    hang,
    node_lost,
    stragglers,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def obs(name: str = "w-0", **kw: object) -> TaskObservation:
    return TaskObservation(name=name, node="n0", started_at=kw.pop("started_at", T0), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "fault", "text"),
    [(None, False, ""), (0, False, ""), (1, True, "exited with code 1"), (-9, True, "killed by signal 9")],
)
def test_abnormal_exit(code: int | None, fault: bool, text: str) -> None:
    found = abnormal_exit(obs(exit_code=code))
    assert (found is not None) == fault
    if found is not None:
        assert found.kind is FaultKind.ABNORMAL_EXIT and text in found.message


@pytest.mark.parametrize(
    ("heartbeat", "timeout", "now_s", "exit_code", "fault"),
    [
        (None, None, 999, None, False),  # hang detection off
        (None, 5.0, 4, None, False),  # silent since start, within timeout
        (None, 5.0, 6, None, True),  # silent since start, too long
        (10, 5.0, 14, None, False),  # heartbeat 4 s ago
        (10, 5.0, 16, None, True),  # heartbeat 6 s ago
        (None, 5.0, 60, 0, False),  # already exited
    ],
)
def test_hang(
    heartbeat: int | None, timeout: float | None, now_s: int, exit_code: int | None, fault: bool
) -> None:
    beat = None if heartbeat is None else T0 + timedelta(seconds=heartbeat)
    found = hang(
        obs(heartbeat_at=beat, exit_code=exit_code), now=T0 + timedelta(seconds=now_s), timeout_s=timeout
    )
    assert (found is not None) == fault


@pytest.mark.parametrize(
    ("heartbeat", "now_s", "fault"),
    [(None, 100, False), (0, 10, False), (0, 31, True)],
)
def test_node_lost(heartbeat: int | None, now_s: int, fault: bool) -> None:
    beat = None if heartbeat is None else T0 + timedelta(seconds=heartbeat)
    found = node_lost("n0", heartbeat_at=beat, now=T0 + timedelta(seconds=now_s), timeout_s=30)
    assert (found is not None) == fault


@pytest.mark.parametrize(
    ("progress", "slow"),
    [
        ([100, 100, 100], []),
        ([100, 100, 10], ["w-2"]),
        ([100, 90, 60], []),  # 0.6 of the median: not far enough below
        ([100, 100, None], []),  # only two peers report
        ([100, 100, 100, 0], ["w-3"]),
    ],
)
def test_stragglers(progress: list[float | None], slow: list[str]) -> None:
    tasks = [obs(f"w-{i}", progress=p) for i, p in enumerate(progress)]
    faults = stragglers(tasks, now=T0 + timedelta(seconds=10), ratio=0.5, min_elapsed_s=2)
    assert [f.task for f in faults] == slow
    assert all(f.kind is FaultKind.STRAGGLER and f.slowdown >= 2 for f in faults)


def test_stragglers_wait_for_minimum_run_time() -> None:
    tasks = [obs(f"w-{i}", progress=p) for i, p in enumerate([10, 10, 1])]
    assert stragglers(tasks, now=T0 + timedelta(seconds=1), ratio=0.5, min_elapsed_s=2) == []


@pytest.mark.parametrize(
    ("devices", "lost", "fault"),
    [
        ([0, 1], {1: "xid: 79"}, True),
        ([0, 1], {2: "not visible to the node agent"}, False),
        ([], {0: "not visible to the node agent"}, False),  # a CPU task holds no device
    ],
)
def test_accelerator_lost(devices: list[int], lost: dict[int, str], fault: bool) -> None:
    found = accelerator_lost("w-0", "n0", devices, lost)
    assert (found is not None) is fault
    if found is not None:
        assert found.kind is FaultKind.ACCELERATOR_LOST and found.task == "w-0" and found.node == "n0"
        assert all(f"accelerator {i}: {why}" in found.message for i, why in lost.items())
