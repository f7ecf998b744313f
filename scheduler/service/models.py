"""Tables of the scheduler service: nodes, topology domains, queues, jobs, tasks and job events.

Nodes and topology are platform-wide (managed by platform administrators); queues, jobs,
tasks and events are tenant-owned. A job's spec is stored as JSON exactly as validated at
submission; ``version`` guards every job update (optimistic concurrency between the API
and the scheduling loop).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, TenantOwnedMixin, TimestampMixin, utcnow


class NodeRow(IdMixin, TimestampMixin, Base):
    """A cluster node. ``accelerator`` is ``{vendor, model, memory_mib, compute_units, count, numa,
    unhealthy}`` or NULL; ``links`` a list of ``{kind, members, bandwidth_gbps}``.

    ``network`` holds the figures of the node's latest network report (see
    :class:`scheduler.service.schemas.NetworkFigures`, plus ``reported_at``); ``network_slow`` and
    ``network_verdict`` the judgement against its domain's peers. ``lost_devices`` lists devices the
    node agent reported lost: ``{index, reason, since, seen_again}`` (not allocatable until restored).
    """

    __tablename__ = "sched_nodes"
    id_prefix = "nod"

    name: Mapped[str] = mapped_column(String(63), unique=True)
    cpu_milli: Mapped[int] = mapped_column(BigInteger)
    memory_mib: Mapped[int] = mapped_column(BigInteger)
    arch: Mapped[str] = mapped_column(String(16))
    accelerator: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    links: Mapped[list[Any]] = mapped_column(JSON, default=list)
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    leaf: Mapped[str] = mapped_column(ForeignKey("sched_topology_domains.name"), index=True)
    health: Mapped[str] = mapped_column(String(16), default="healthy")
    slowdown: Mapped[float] = mapped_column(Float, default=1.0)
    health_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cordoned: Mapped[bool] = mapped_column(Boolean, default=False)
    cordon_reason: Mapped[str] = mapped_column(String(300), default="")
    draining: Mapped[bool] = mapped_column(Boolean, default=False)
    simulated: Mapped[bool] = mapped_column(Boolean)
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failed_jobs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    network: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    network_slow: Mapped[bool] = mapped_column(Boolean, default=False)
    network_verdict: Mapped[str] = mapped_column(String(500), default="")
    lost_devices: Mapped[list[Any]] = mapped_column(JSON, default=list)


class DomainRow(IdMixin, TimestampMixin, Base):
    """A switch domain of the network topology (leaf, spine or pod) with its RDMA fabric."""

    __tablename__ = "sched_topology_domains"
    id_prefix = "dom"

    name: Mapped[str] = mapped_column(String(63), unique=True)
    tier: Mapped[str] = mapped_column(String(16))
    parent: Mapped[str | None] = mapped_column(String(63), default=None)
    fabric_kind: Mapped[str] = mapped_column(String(16), default="roce")
    bandwidth_gbps: Mapped[float] = mapped_column(Float, default=200.0)
    simulated: Mapped[bool] = mapped_column(Boolean, default=True)


class QueueRow(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """A queue of a tenant, tied to a quota scope (tenant, department or project).

    Resource vectors are ``{"cpu": milli-cores, "memory": MiB, "accelerators": milli-devices}``.
    """

    __tablename__ = "sched_queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id_prefix = "que"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("sched_queues.id"), default=None)
    scope_type: Mapped[str] = mapped_column(String(16), default="tenant")
    scope_id: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    guarantee: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    deserved: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    cap: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    borrowing_limit: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    lending_limit: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    reclaimable: Mapped[bool] = mapped_column(Boolean, default=True)


class JobRow(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """A job: validated spec, lifecycle state, pending reasons, retry bookkeeping, quota reservation.

    ``avoid_nodes`` lists nodes where the job's tasks failed and that it was rescheduled away from.
    """

    __tablename__ = "sched_jobs"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id_prefix = "job"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    queue_id: Mapped[str] = mapped_column(ForeignKey("sched_queues.id"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    type: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    unschedulable_generation: Mapped[str] = mapped_column(String(64), default="")
    retries: Mapped[int] = mapped_column(Integer, default=0)
    avoid_nodes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    started_once: Mapped[bool] = mapped_column(Boolean, default=False)
    reservation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    quota_released: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=0)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy mapper configuration


class TaskRow(IdMixin, TimestampMixin, TenantOwnedMixin, Base):
    """One replica of a job. ``attempt`` grows on every restart; a launch is keyed by (id, attempt)."""

    __tablename__ = "sched_tasks"
    __table_args__ = (UniqueConstraint("job_id", "name"),)
    id_prefix = "tsk"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("sched_jobs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    group: Mapped[str] = mapped_column(String(63))
    rank: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    node: Mapped[str | None] = mapped_column(String(63), default=None, index=True)
    devices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    accel_milli: Mapped[int] = mapped_column(Integer, default=0)
    accel_memory_mib: Mapped[int] = mapped_column(BigInteger, default=0)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    exit_code: Mapped[int | None] = mapped_column(Integer, default=None)
    failure: Mapped[str] = mapped_column(String(500), default="")
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    progress: Mapped[float | None] = mapped_column(Float, default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    log_path: Mapped[str] = mapped_column(Text, default="")


class JobEventRow(IdMixin, TenantOwnedMixin, Base):
    """Something that happened to a job: a state transition, a placement, a fault, a recovery."""

    __tablename__ = "sched_job_events"
    id_prefix = "jev"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("sched_jobs.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(16), default=None)
    target: Mapped[str | None] = mapped_column(String(16), default=None)
    task: Mapped[str | None] = mapped_column(String(80), default=None)
    message: Mapped[str] = mapped_column(String(1000), default="")


class NodeEventRow(IdMixin, Base):
    """Something that happened to a node: registered, cordoned (by an operator or automatically), lost."""

    __tablename__ = "sched_node_events"
    id_prefix = "nev"

    node: Mapped[str] = mapped_column(String(63), index=True)
    time: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(1000), default="")
