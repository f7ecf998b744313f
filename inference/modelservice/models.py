"""Tables of the model-service module: model services and their replicas.

A :class:`ModelService` is what a tenant deploys: a model (a local model directory served by the
``builtin`` or ``vllm`` engine, or an external OpenAI-compatible upstream for ``openai``), a
resource spec per replica, the desired / minimum / maximum replica counts and an optional
autoscaling policy. A :class:`ModelReplica` is one instance of it: for local engines it is backed
by one scheduler job of type ``inference`` (``job_id``); for ``openai`` it is the upstream URL
(no job). The controller (:mod:`inference.modelservice.controller`) owns replica rows; the API
owns the service's desired state.

Deleting a service deletes its replicas' jobs (the scheduler stops the processes) and its rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base, IdMixin, TenantOwnedMixin, TimestampMixin, utcnow

SERVICE_STATES = ("created", "starting", "running", "degraded", "stopping", "stopped", "failed")
REPLICA_STATES = ("pending", "starting", "ready", "unhealthy", "stopped", "failed")
ENGINES = ("builtin", "vllm", "openai")


class ModelService(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """A deployed model: engine, model source, per-replica resources, replica counts, autoscaling.

    ``resources`` is ``{"cpu_milli", "memory_mib", "accelerators": {"count", "types", "mode",
    "compute_milli", "memory_mib"} | null}`` (the scheduler's group shape). ``upstream_api_key``
    holds the external upstream's key sealed by the KMS (an envelope text), never the key itself.
    ``upstream_protocol`` is how the gateway calls the replicas: ``http1`` or ``h2c`` (HTTP/2
    cleartext, prior knowledge; only ``openai`` upstreams may say so).
    ``running`` is the operator's intent (start/stop); ``desired_replicas`` the count while running.
    ``node_selector`` (``{label: value}``) is passed to every replica's scheduler job.
    """

    __tablename__ = "model_services"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    id_prefix = "msv"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    description: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[str] = mapped_column(String(64), default="1")
    engine: Mapped[str] = mapped_column(String(16))
    served_model_name: Mapped[str] = mapped_column(String(200))
    model_dir: Mapped[str | None] = mapped_column(Text, default=None)
    upstream_url: Mapped[str | None] = mapped_column(Text, default=None)
    upstream_model: Mapped[str | None] = mapped_column(String(200), default=None)
    upstream_api_key: Mapped[str | None] = mapped_column(Text, default=None)
    upstream_key_id: Mapped[str | None] = mapped_column(String(64), default=None)
    upstream_protocol: Mapped[str] = mapped_column(String(8), default="http1", server_default="http1")
    resources: Mapped[dict[str, Any]] = mapped_column(JSON)
    queue: Mapped[str] = mapped_column(String(63), default="default")
    engine_args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    node_selector: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    desired_replicas: Mapped[int] = mapped_column(Integer, default=1)
    min_replicas: Mapped[int] = mapped_column(Integer, default=1)
    max_replicas: Mapped[int] = mapped_column(Integer, default=1)
    autoscaling: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    running: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default="created", index=True)
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    created_by: Mapped[str] = mapped_column(String(64))


class ModelReplica(IdMixin, TenantOwnedMixin, TimestampMixin, Base):
    """One instance of a service: its scheduler job (none for ``openai``), address, node and health.

    ``ordinal`` numbers replicas 0..n-1 within the service (scale-down removes the highest).
    ``job_id`` names a row of ``sched_jobs`` (no foreign key: the scheduler keeps deleted jobs as
    rows, and this module's tables do not depend on the scheduler's migration branch).
    """

    __tablename__ = "model_replicas"
    __table_args__ = (UniqueConstraint("service_id", "ordinal"),)
    id_prefix = "mrp"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("model_services.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    port: Mapped[int | None] = mapped_column(Integer, default=None)
    api_base: Mapped[str] = mapped_column(Text, default="")
    health_url: Mapped[str] = mapped_column(Text, default="")
    metrics_url: Mapped[str | None] = mapped_column(Text, default=None)
    node: Mapped[str | None] = mapped_column(String(63), default=None)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ready_at: Mapped[datetime | None] = mapped_column(default=None)
    last_check_at: Mapped[datetime | None] = mapped_column(default=None)
    health_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(1000), default="")


class ModelServiceEvent(IdMixin, TenantOwnedMixin, Base):
    """Something that happened to a service: created, started, scaled (by hand or by the
    autoscaler, with the metrics behind the decision), replica ready/unhealthy, stopped."""

    __tablename__ = "model_service_events"
    id_prefix = "mse"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("model_services.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(1000), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
