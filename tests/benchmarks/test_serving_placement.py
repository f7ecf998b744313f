"""CPU placement of ``stic bench gateway``: the plan, and pinning real processes and their threads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.serving.placement import Placement, clients_pinned, pin_process, plan, usable_cpus

pytestmark = pytest.mark.skipif(usable_cpus() is None, reason="CPU affinity exists on Linux only")

THREADED_CHILD = (
    "import threading, time\n"
    "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
    "print('ready', flush=True)\n"
    "time.sleep(30)\n"
)


def _thread_masks(pid: int) -> dict[int, set[int]]:
    return {int(t.name): os.sched_getaffinity(int(t.name)) for t in Path(f"/proc/{pid}/task").iterdir()}


def test_the_gateway_gets_the_last_cpus_and_the_clients_the_rest() -> None:
    assert plan(1, cpus={0, 1}) == Placement(gateway_cpus=frozenset({1}), client_cpus=frozenset({0}))
    assert plan(2, cpus={0, 1, 2, 3}) == Placement(
        gateway_cpus=frozenset({2, 3}), client_cpus=frozenset({0, 1})
    )
    assert plan(1, cpus={4, 9, 2}) == Placement(gateway_cpus=frozenset({9}), client_cpus=frozenset({2, 4}))
    reason = plan(2, cpus={0, 1})
    assert isinstance(reason, str) and "2 usable CPUs" in reason
    assert isinstance(plan(1, cpus={0}), str)
    with pytest.raises(ValueError, match="gateway_processes"):
        plan(0, cpus={0, 1})
    assert plan(1, cpus={0, 1}).as_dict() == {"pinned": True, "gateway_cpus": [1], "client_cpus": [0]}  # type: ignore[union-attr]


def test_pinning_a_process_covers_every_thread_it_already_runs() -> None:
    cpu = min(usable_cpus() or {0})
    child = subprocess.Popen([sys.executable, "-c", THREADED_CHILD], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        assert len(_thread_masks(child.pid)) == 2
        pin_process(child.pid, {cpu})
        assert all(mask == {cpu} for mask in _thread_masks(child.pid).values())
    finally:
        child.kill()
        child.wait()
    with pytest.raises(ProcessLookupError):
        pin_process(child.pid, {cpu})


def test_clients_pinned_moves_this_process_and_its_new_children_then_restores() -> None:
    available = usable_cpus()
    assert available is not None
    # only the client CPUs matter here; one CPU is enough to check the move and the restore
    placement = Placement(gateway_cpus=frozenset(), client_cpus=frozenset({max(available)}))
    before = os.sched_getaffinity(0)
    with clients_pinned(placement):
        assert os.sched_getaffinity(0) == placement.client_cpus
        child = subprocess.Popen([sys.executable, "-c", THREADED_CHILD], stdout=subprocess.PIPE)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
            assert all(mask == placement.client_cpus for mask in _thread_masks(child.pid).values())
        finally:
            child.kill()
            child.wait()
    assert os.sched_getaffinity(0) == before
    with clients_pinned(None):
        assert os.sched_getaffinity(0) == before
