"""CPU placement for ``stic bench gateway``: the gateway on its own cores, its clients on the others.

On a small machine the load generator, the fake upstream and the gateway otherwise share every
core, and the gateway's latency then measures the scheduler's run queue as much as the gateway
(the kernel moves its threads between cores and lets the clients preempt it). A placement gives
the gateway processes the last ``gateway_processes`` usable CPUs and everything else of the
benchmark (this process, and so the upstream and load generator it starts) the rest. Both sides
of the comparison keep the same client CPUs, so the direct baseline is measured the same way.

Linux only (``os.sched_setaffinity``); elsewhere, or with too few CPUs, no placement is made and
the report says why.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Placement:
    """Which CPUs the gateway processes and the clients (upstream, load generator) run on."""

    gateway_cpus: frozenset[int]
    client_cpus: frozenset[int]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the report."""
        return {
            "pinned": True,
            "gateway_cpus": sorted(self.gateway_cpus),
            "client_cpus": sorted(self.client_cpus),
        }


def usable_cpus() -> frozenset[int] | None:
    """The CPUs this process may run on, or ``None`` where affinity cannot be set."""
    if not hasattr(os, "sched_getaffinity") or not hasattr(os, "sched_setaffinity"):
        return None
    return frozenset(os.sched_getaffinity(0))


def plan(gateway_processes: int, cpus: Iterable[int] | None = None) -> Placement | str:
    """The placement for ``gateway_processes`` gateway processes, or why there is none.

    The gateway gets the highest-numbered ``gateway_processes`` CPUs of ``cpus`` (default: the
    usable ones), the clients the others; at least one CPU must be left for the clients.
    """
    if gateway_processes < 1:
        raise ValueError("gateway_processes must be >= 1")
    available = usable_cpus() if cpus is None else frozenset(cpus)
    if available is None:
        return "this platform cannot set CPU affinity"
    if len(available) < gateway_processes + 1:
        return (
            f"{len(available)} usable CPUs: the gateway's {gateway_processes} and the clients need one more"
        )
    ordered = sorted(available)
    return Placement(
        gateway_cpus=frozenset(ordered[-gateway_processes:]),
        client_cpus=frozenset(ordered[:-gateway_processes]),
    )


def _thread_ids(pid: int) -> list[int]:
    try:
        return [int(entry.name) for entry in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return [pid]


def pin_process(pid: int, cpus: Iterable[int]) -> None:
    """Restrict every thread of ``pid`` to ``cpus`` (threads it starts later inherit the mask).

    A thread that exits meanwhile is skipped; a process that is gone raises ``ProcessLookupError``.
    """
    mask = set(cpus)
    for tid in _thread_ids(pid):
        try:
            os.sched_setaffinity(tid, mask)
        except ProcessLookupError:
            if tid == pid:
                raise


@contextlib.contextmanager
def clients_pinned(placement: Placement | None) -> Iterator[None]:
    """Run this process (and the children it starts meanwhile) on the client CPUs; restore after."""
    if placement is None:
        yield
        return
    me = os.getpid()
    before = os.sched_getaffinity(me)
    pin_process(me, placement.client_cpus)
    try:
        yield
    finally:
        pin_process(me, before)  # threads started meanwhile too
