"""Scheduling model: cluster inventory, topology, queues, jobs and the job state machine.

Pure data and validation; no scheduling logic, no I/O except :func:`local_node` reading
``/proc/meminfo``.
"""

from scheduler.model.cluster import (
    Accelerator,
    AcceleratorModel,
    Arch,
    HealthStatus,
    LinkGroup,
    LinkKind,
    Node,
    NodeHealth,
    Vendor,
)
from scheduler.model.errors import InvalidTransitionError, ModelError
from scheduler.model.inventory import Inventory
from scheduler.model.job import (
    PRIORITY_CLASSES,
    AcceleratorRequest,
    JobSpec,
    JobSpecError,
    JobType,
    PlacementStrategy,
    SharingMode,
    TaskGroup,
    TopologyConstraint,
    TopologyMode,
    validate_job,
)
from scheduler.model.queue import Queue, QueueTree
from scheduler.model.resources import Resources
from scheduler.model.state import JobEvent, JobLifecycle, JobState, transition
from scheduler.model.topology import RdmaFabric, Topology, TopologyDomain

__all__ = [
    "PRIORITY_CLASSES",
    "Accelerator",
    "AcceleratorModel",
    "AcceleratorRequest",
    "Arch",
    "HealthStatus",
    "InvalidTransitionError",
    "Inventory",
    "JobEvent",
    "JobLifecycle",
    "JobSpec",
    "JobSpecError",
    "JobState",
    "JobType",
    "LinkGroup",
    "LinkKind",
    "ModelError",
    "Node",
    "NodeHealth",
    "PlacementStrategy",
    "Queue",
    "QueueTree",
    "RdmaFabric",
    "Resources",
    "SharingMode",
    "TaskGroup",
    "Topology",
    "TopologyConstraint",
    "TopologyDomain",
    "TopologyMode",
    "Vendor",
    "transition",
    "validate_job",
]
