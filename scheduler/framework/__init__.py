"""Scheduling framework: snapshot, session, statement, status and the scheduler loop."""

from scheduler.framework.result import CycleResult, Eviction, JobTransition, PendingInfo, Placement
from scheduler.framework.scheduler import Scheduler
from scheduler.framework.session import Selection, Session
from scheduler.framework.snapshot import (
    Binding,
    JobInfo,
    JobRecord,
    NodeState,
    Snapshot,
    TaskInfo,
    WorkloadClass,
)
from scheduler.framework.statement import Statement
from scheduler.framework.status import Code, Status

__all__ = [
    "Binding",
    "Code",
    "CycleResult",
    "Eviction",
    "JobInfo",
    "JobRecord",
    "JobTransition",
    "NodeState",
    "PendingInfo",
    "Placement",
    "Scheduler",
    "Selection",
    "Session",
    "Snapshot",
    "Statement",
    "Status",
    "TaskInfo",
    "WorkloadClass",
]
