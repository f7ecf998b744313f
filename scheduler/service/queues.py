"""Queue service: hierarchical queues of a tenant, tied to the kernel's quota scopes.

A queue belongs to a scope (tenant, department or project). Its ``cap`` may not exceed the
quota limits of that scope; a child queue's scope lies inside its parent's. The scheduling core
sees every tenant's queues as one forest (core queue name = queue id), so top-level queues of
different tenants share the cluster by their deserved shares, borrow and lend, and reclaim.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.model import ModelError, Queue, QueueTree, Resources
from scheduler.model.state import TERMINAL
from scheduler.service import schemas
from scheduler.service.inventory import load_inventory
from scheduler.service.models import JobRow, QueueRow, TaskRow
from scheduler.service.quota import accelerator_ceiling
from services.kernel.auth import Principal
from services.kernel.errors import BadRequest, Conflict
from services.kernel.identity import Department, Project
from services.kernel.tenancy import get_scoped, require_tenant, scoped
from services.quotas.models import Quota

VECTORS = ("guarantee", "deserved", "cap", "borrowing_limit", "lending_limit")
DEFAULT_QUEUE = "default"


UNLIMITED = 2**53


def _res(value: dict[str, Any] | None, *, missing: int = UNLIMITED) -> Resources | None:
    """Core resources of a stored vector; a resource left out (None) becomes ``missing``."""
    if value is None:
        return None
    return Resources.from_mapping({k: missing if v is None else v for k, v in value.items()})


def core_queue(row: QueueRow) -> Queue:
    """The core :class:`Queue` of a row (named by its id)."""
    return Queue(
        name=row.id,
        parent=row.parent_id,
        priority=row.priority,
        guarantee=_res(row.guarantee or {}, missing=0) or Resources(),
        deserved=_res(row.deserved),
        cap=_res(row.cap),
        borrowing_limit=_res(row.borrowing_limit),
        lending_limit=_res(row.lending_limit),
        reclaimable=row.reclaimable,
    )


async def load_queue_tree(session: AsyncSession) -> QueueTree:
    """Every tenant's queues as one core :class:`QueueTree`."""
    rows = (await session.execute(select(QueueRow).order_by(QueueRow.created_at, QueueRow.id))).scalars()
    return QueueTree(core_queue(r) for r in rows)


async def _scope(session: AsyncSession, tenant_id: str, scope_type: str, scope_id: str | None) -> str:
    if scope_type == "tenant":
        if scope_id not in (None, tenant_id):
            raise BadRequest("scope_id: a tenant-level queue takes no scope_id", detail={"field": "scope_id"})
        return tenant_id
    if scope_id is None:
        raise BadRequest(
            f"scope_id: a {scope_type} queue needs the {scope_type} id", detail={"field": "scope_id"}
        )
    model = Department if scope_type == "department" else Project
    await get_scoped(session, model, tenant_id=tenant_id, resource_id=scope_id, kind=scope_type)
    return scope_id


async def _within(
    session: AsyncSession, tenant_id: str, parent: QueueRow, scope_type: str, scope_id: str
) -> None:
    """Raise unless scope (type, id) lies inside the parent queue's scope."""
    if parent.scope_type == "tenant":
        return
    if parent.scope_type == scope_type and parent.scope_id == scope_id:
        return
    if parent.scope_type == "department" and scope_type == "project":
        project = await get_scoped(
            session, Project, tenant_id=tenant_id, resource_id=scope_id, kind="project"
        )
        if project.department_id == parent.scope_id:
            return
    raise BadRequest(
        f"scope_id: a child of queue '{parent.name}' must lie within its {parent.scope_type}",
        detail={"field": "scope_id"},
    )


async def _check_cap_within_quota(session: AsyncSession, row: QueueRow) -> None:
    quota = (
        await session.execute(
            select(Quota).where(Quota.scope_type == row.scope_type, Quota.scope_id == row.scope_id)
        )
    ).scalar_one_or_none()
    if quota is None or row.cap is None:
        return
    limits = dict(quota.limits)
    models = (await load_inventory(session)).inventory.accelerator_models().values()
    accel = accelerator_ceiling(limits, models)
    bounds = {
        "cpu": limits.get("cpu_millicores"),
        "memory": limits.get("memory_mib"),
        "accelerators": None if accel is None else accel * 1000,
    }
    for resource, bound in bounds.items():
        value = row.cap.get(resource)  # None: the queue adds no limit; the quota still applies
        if bound is not None and value is not None and value > bound:
            raise Conflict(
                f"cap.{resource}: {value} exceeds the {row.scope_type} quota ({bound})",
                detail={"field": f"cap.{resource}", "limit": bound, "scope_type": row.scope_type},
            )


async def _validate_tree(session: AsyncSession, row: QueueRow) -> None:
    try:
        core_queue(row)
        rows = list((await session.execute(scoped(QueueRow, row.tenant_id))).scalars())
        if row not in rows:
            rows.append(row)
        QueueTree(core_queue(r) for r in rows)
    except ModelError as exc:
        field = exc.field.split("].", 1)[-1] if "]." in exc.field else exc.field
        raise BadRequest(f"{field}: {exc.message}", detail={"field": field}) from exc
    await _check_cap_within_quota(session, row)


def _vectors(body: schemas.QueueCreate | schemas.QueueUpdate) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in VECTORS:
        if name in body.model_fields_set:
            value = getattr(body, name)
            out[name] = None if value is None else value.model_dump()
    return out


async def create_queue(
    *, session: AsyncSession, principal: Principal, tenant_id: str, queue_in: schemas.QueueCreate
) -> QueueRow:
    """Create a queue (``quotas:write``); 409 if the name exists or the cap exceeds the quota."""
    principal.require("quotas:write", tenant_id=tenant_id)
    await require_tenant(session, tenant_id)
    if (await session.execute(scoped(QueueRow, tenant_id).where(QueueRow.name == queue_in.name))).first():
        raise Conflict(f"queue '{queue_in.name}' already exists", detail={"field": "name"})
    scope_id = await _scope(session, tenant_id, queue_in.scope_type, queue_in.scope_id)
    if queue_in.parent_id is not None:
        parent = await get_scoped(
            session, QueueRow, tenant_id=tenant_id, resource_id=queue_in.parent_id, kind="queue"
        )
        await _within(session, tenant_id, parent, queue_in.scope_type, scope_id)
        if (
            await session.execute(
                select(JobRow.id).where(JobRow.queue_id == parent.id, JobRow.deleted.is_(False))
            )
        ).first():
            raise Conflict(
                f"queue '{parent.name}' holds jobs; only leaf queues hold jobs", detail={"field": "parent_id"}
            )
    row = QueueRow(
        tenant_id=tenant_id,
        name=queue_in.name,
        parent_id=queue_in.parent_id,
        scope_type=queue_in.scope_type,
        scope_id=scope_id,
        priority=queue_in.priority,
        reclaimable=queue_in.reclaimable,
        guarantee=queue_in.guarantee.model_dump(),
        **{k: v for k, v in _vectors(queue_in).items() if k != "guarantee"},
    )
    await _validate_tree(session, row)
    session.add(row)
    await session.flush()
    return row


async def update_queue(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    queue_id: str,
    queue_in: schemas.QueueUpdate,
) -> QueueRow:
    """Change a queue's limits or priority, re-validating the tree and the quota."""
    principal.require("quotas:write", tenant_id=tenant_id, resource=("queue", queue_id))
    row = await get_scoped(session, QueueRow, tenant_id=tenant_id, resource_id=queue_id, kind="queue")
    for name, value in _vectors(queue_in).items():
        setattr(row, name, value if name != "guarantee" or value is not None else {})
    if queue_in.priority is not None:
        row.priority = queue_in.priority
    if queue_in.reclaimable is not None:
        row.reclaimable = queue_in.reclaimable
    await _validate_tree(session, row)
    await session.flush()
    return row


async def get_queue(
    *, session: AsyncSession, principal: Principal, tenant_id: str, queue_id: str
) -> QueueRow:
    """One queue."""
    principal.require("quotas:read", tenant_id=tenant_id, resource=("queue", queue_id))
    return await get_scoped(session, QueueRow, tenant_id=tenant_id, resource_id=queue_id, kind="queue")


async def list_queues(*, session: AsyncSession, principal: Principal, tenant_id: str) -> list[QueueRow]:
    """The tenant's queues."""
    principal.require("quotas:read", tenant_id=tenant_id)
    return list((await session.execute(scoped(QueueRow, tenant_id).order_by(QueueRow.name))).scalars())


async def delete_queue(*, session: AsyncSession, principal: Principal, tenant_id: str, queue_id: str) -> None:
    """Delete a queue without child queues and without unfinished jobs."""
    principal.require("quotas:write", tenant_id=tenant_id, resource=("queue", queue_id))
    row = await get_scoped(session, QueueRow, tenant_id=tenant_id, resource_id=queue_id, kind="queue")
    if (await session.execute(select(QueueRow.id).where(QueueRow.parent_id == queue_id))).first():
        raise Conflict(f"queue '{row.name}' has child queues", detail={"queue_id": queue_id})
    states = [s.value for s in TERMINAL]
    if (
        await session.execute(
            select(JobRow.id).where(JobRow.queue_id == queue_id, JobRow.state.not_in(states))
        )
    ).first():
        raise Conflict(f"queue '{row.name}' has unfinished jobs", detail={"queue_id": queue_id})
    for job in (await session.execute(select(JobRow).where(JobRow.queue_id == queue_id))).scalars():
        await session.delete(job)
    await session.delete(row)


async def queue_for_job(session: AsyncSession, *, tenant_id: str, name: str, project_id: str) -> QueueRow:
    """The leaf queue ``name`` of the tenant for a job of ``project_id``; ``default`` is created on demand."""
    row = (
        await session.execute(scoped(QueueRow, tenant_id).where(QueueRow.name == name))
    ).scalar_one_or_none()
    if row is None and name == DEFAULT_QUEUE:
        row = QueueRow(
            tenant_id=tenant_id, name=DEFAULT_QUEUE, scope_type="tenant", scope_id=tenant_id, guarantee={}
        )
        session.add(row)
        await session.flush()
    if row is None:
        raise BadRequest(f"queue: unknown queue '{name}'", detail={"field": "queue"})
    if (await session.execute(select(QueueRow.id).where(QueueRow.parent_id == row.id))).first():
        raise BadRequest(
            f"queue: '{name}' has child queues; submit to a leaf queue", detail={"field": "queue"}
        )
    project = await get_scoped(session, Project, tenant_id=tenant_id, resource_id=project_id, kind="project")
    inside = (
        row.scope_type == "tenant"
        or (row.scope_type == "department" and project.department_id == row.scope_id)
        or (row.scope_type == "project" and project.id == row.scope_id)
    )
    if not inside:
        raise BadRequest(
            f"queue: '{name}' serves another {row.scope_type}, not project '{project_id}'",
            detail={"field": "queue"},
        )
    return row


async def queue_usage(session: AsyncSession, tenant_id: str) -> dict[str, dict[str, int]]:
    """What the placed tasks of each queue of ``tenant_id`` hold, descendants included:
    ``{"cpu": milli-cores, "memory": MiB, "accelerators": milli-devices}`` per queue id."""
    rows = list((await session.execute(scoped(QueueRow, tenant_id))).scalars())
    parent = {r.id: r.parent_id for r in rows}
    usage = {r.id: {"cpu": 0, "memory": 0, "accelerators": 0} for r in rows}
    query = (
        select(TaskRow.group, TaskRow.devices, TaskRow.accel_milli, JobRow.queue_id, JobRow.spec)
        .join(JobRow, JobRow.id == TaskRow.job_id)
        .where(
            TaskRow.tenant_id == tenant_id,
            TaskRow.node.is_not(None),
            TaskRow.state.in_(("placed", "running", "backoff", "stopping")),
        )
    )
    for group_name, devices, milli, queue_id, spec in (await session.execute(query)).all():
        group = next((g for g in spec["groups"] if g["name"] == group_name), None)
        held = {
            "cpu": group["cpu_milli"] if group else 0,
            "memory": group["memory_mib"] if group else 0,
            "accelerators": len(devices) * milli,
        }
        queue: str | None = queue_id
        while queue is not None and queue in usage:
            for key, value in held.items():
                usage[queue][key] += value
            queue = parent.get(queue)
    return usage


async def with_usage(session: AsyncSession, tenant_id: str, rows: list[QueueRow]) -> list[schemas.QueueOut]:
    """API views of ``rows`` with what each queue holds now (see :func:`queue_usage`)."""
    usage = await queue_usage(session, tenant_id)
    out = []
    for row in rows:
        view = schemas.QueueOut.model_validate(row)
        view.allocated = usage.get(row.id, {})
        out.append(view)
    return out
