"""STIC scheduling core: a library with no web or database code.

Use::

    from scheduler import Scheduler, Snapshot, JobRecord, load_config
    from scheduler.model import JobSpec, TaskGroup, AcceleratorRequest, QueueTree, Queue
    from scheduler.model.inventories import demo_inventory

    scheduler = Scheduler(load_config("default"))          # or a path to a YAML file
    snapshot = Snapshot(inventory, queue_tree, [JobRecord(spec, state, bindings), ...])
    result = scheduler.run_cycle(snapshot)                 # -> CycleResult

:class:`CycleResult` holds

* ``placements``: :class:`Placement` (job id, task name → node, device indices, compute share per
  device in milli, device memory per device);
* ``evictions``: :class:`Eviction` (victims of preempt/reclaim, with the action and reason);
* ``transitions``: :class:`JobTransition` (admit, schedule, evict, mark_unschedulable ...) that the
  caller applies to its store with the same state machine (:mod:`scheduler.model.state`);
* ``pending``: job id → :class:`PendingInfo` (each plugin's reasons; ``unschedulable`` when the job
  can never fit).

A snapshot is the cycle's working copy: ``run_cycle`` updates it to reflect its decisions. Build a
fresh one per cycle from the store, or (as the simulator does) keep one and apply completions with
``Snapshot.finish_job``. Validate submitted specs with :func:`scheduler.model.validate_job` first.
The policy (action order, plugin tiers, weights, node sampling) is a YAML file; see
:mod:`scheduler.config` and ``scheduler/config/*.yaml``.
"""

from scheduler.config import ConfigError, SchedulerConfig, load_config
from scheduler.framework import (
    Binding,
    CycleResult,
    Eviction,
    JobRecord,
    JobTransition,
    PendingInfo,
    Placement,
    Scheduler,
    Snapshot,
    Status,
)

__all__ = [
    "Binding",
    "ConfigError",
    "CycleResult",
    "Eviction",
    "JobRecord",
    "JobTransition",
    "PendingInfo",
    "Placement",
    "Scheduler",
    "SchedulerConfig",
    "Snapshot",
    "Status",
    "load_config",
]
