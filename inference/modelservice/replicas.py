"""Replica membership: make a service's replica rows (and their scheduler jobs) match its target.

:func:`ensure_replicas` is the one place that submits and deletes replica jobs. The API calls it
in the request's transaction (so quota and placement-validation errors reach the caller at once)
and the controller calls it every tick (so a crash between the two leaves nothing half done).
It is idempotent: replica ``ordinal`` values 0..target-1 exist, higher ones are retired.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference.engines.process import free_port
from inference.modelservice.events import add_event
from inference.modelservice.models import ModelReplica, ModelService
from inference.modelservice.options import ModelServiceOptions
from inference.modelservice.spec import LOCAL_ENGINES, replica_job
from scheduler.model import JobState
from scheduler.model.state import TERMINAL
from scheduler.service.inventory import load_inventory
from scheduler.service.jobs import InvalidJobSpec, create_job, delete_job
from scheduler.service.models import JobRow
from scheduler.service.quota import job_resources
from services.kernel.auth import Principal
from services.kernel.errors import BadRequest, QuotaExceeded
from services.kernel.identity import Project
from services.quotas import service as quotas
from services.quotas.service import Scope

PORT_ATTEMPTS = 32


def target_replicas(service: ModelService) -> int:
    """How many replicas should exist now: 0 when stopped; one per URL for ``openai``."""
    if not service.running:
        return 0
    if service.engine == "openai":
        return min(1, service.desired_replicas)
    return service.desired_replicas


async def replicas_of(session: AsyncSession, service_id: str) -> list[ModelReplica]:
    """The service's replica rows by ordinal."""
    query = select(ModelReplica).where(ModelReplica.service_id == service_id).order_by(ModelReplica.ordinal)
    return list((await session.execute(query)).scalars())


async def choose_port(session: AsyncSession, host: str) -> int:
    """A port free on ``host`` now and not recorded for any other replica (started or not)."""
    taken = set(
        (await session.execute(select(ModelReplica.port).where(ModelReplica.port.is_not(None)))).scalars()
    )
    for _ in range(PORT_ATTEMPTS):
        port = free_port(host)
        if port not in taken:
            return port
    raise RuntimeError(f"no free port found on {host} after {PORT_ATTEMPTS} attempts")


def _field_of(job_field: str) -> str:
    """The API field behind a scheduler job-spec field (``groups[0].accelerators.types`` → resources…)."""
    if job_field.startswith("groups"):
        _, _, rest = job_field.partition(".")
        return f"resources.{rest}" if rest else "resources"
    return job_field


async def _submit(
    session: AsyncSession,
    service: ModelService,
    ordinal: int,
    *,
    principal: Principal,
    options: ModelServiceOptions,
) -> ModelReplica:
    host = options.bind_host
    port = await choose_port(session, "127.0.0.1" if host == "0.0.0.0" else host)  # noqa: S104
    replica = ModelReplica(tenant_id=service.tenant_id, service_id=service.id, ordinal=ordinal, port=port)
    if service.engine in LOCAL_ENGINES:
        job_in = replica_job(
            service, ordinal=ordinal, host=host, port=port, max_retries=options.replica_max_retries
        )
        try:
            job = await create_job(
                session=session, principal=principal, tenant_id=service.tenant_id, job_in=job_in
            )
        except InvalidJobSpec as exc:
            job_field = str((exc.detail or {}).get("field", ""))
            field = _field_of(job_field)
            message = exc.message.replace(job_field, field, 1) if job_field else exc.message
            raise InvalidJobSpec(message, detail={"field": field}) from exc
        except BadRequest as exc:
            raise InvalidJobSpec(exc.message, detail=exc.detail) from exc
        replica.job_id = job.id
        root = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"  # noqa: S104
        replica.api_base, replica.health_url, replica.metrics_url = (
            f"{root}/v1",
            f"{root}/health",
            f"{root}/metrics",
        )
    else:
        replica.port = None
        replica.api_base = (service.upstream_url or "").rstrip("/")
    session.add(replica)
    add_event(session, service, "replica-created", f"replica {ordinal}", {"job_id": replica.job_id})
    return replica


async def retire(
    session: AsyncSession, service: ModelService, replica: ModelReplica, *, principal: Principal
) -> None:
    """Delete the replica's job (the scheduler stops its process) and the replica row."""
    if replica.job_id is not None:
        job = await session.get(JobRow, replica.job_id)
        if job is not None and not job.deleted:
            await delete_job(session=session, principal=principal, tenant_id=job.tenant_id, job_id=job.id)
    add_event(session, service, "replica-removed", f"replica {replica.ordinal}", {"job_id": replica.job_id})
    await session.delete(replica)


async def precheck_quota(
    session: AsyncSession, service: ModelService, count: int, *, principal: Principal
) -> None:
    """Raise QuotaExceeded (``detail.field = "replicas"``) when ``count`` more replicas do not fit.

    The scheduler reserves each replica job's quota on submission (and commits it at once), so the
    whole batch is checked first: a scale-up that cannot fit is refused without a partial change.
    """
    if count <= 0 or service.engine not in LOCAL_ENGINES:
        return
    view = await load_inventory(session)
    one = {"groups": [{**service.resources, "replicas": count}]}
    needed = job_resources(one, view.inventory.accelerator_models().values())
    project = await session.get(Project, service.project_id)
    if project is None:
        return
    scopes = [
        Scope("tenant", service.tenant_id),
        Scope("department", project.department_id),
        Scope("project", project.id),
    ]
    for scope in scopes:
        quota = await quotas.get_quota(
            session=session, principal=principal, tenant_id=service.tenant_id, scope=scope
        )
        for resource, amount in needed.items():
            limit = quota.limits.get(resource)
            used = quota.used.get(resource, 0)
            if limit is not None and used + amount > limit:
                raise QuotaExceeded(
                    f"replicas: {count} more replica(s) need {amount} of '{resource}'; "
                    f"the {scope.type} quota has {limit - used} of {limit} left",
                    detail={"field": "replicas", "level": scope.type, "resource": resource, "limit": limit,
                            "used": used, "requested": amount},
                )  # fmt: skip


async def ensure_replicas(
    session: AsyncSession, service: ModelService, *, principal: Principal, options: ModelServiceOptions
) -> bool:
    """Submit missing replicas and retire surplus ones; True when anything changed.

    Errors of the submission (quota 409, invalid placement 422 naming the field) propagate.
    """
    target = target_replicas(service)
    existing = {r.ordinal: r for r in await replicas_of(session, service.id)}
    changed = False
    for ordinal, replica in sorted(existing.items(), reverse=True):
        if ordinal >= target:
            await retire(session, service, replica, principal=principal)
            changed = True
    missing = [ordinal for ordinal in range(target) if ordinal not in existing]
    await precheck_quota(session, service, len(missing), principal=principal)
    for ordinal in missing:
        await _submit(session, service, ordinal, principal=principal, options=options)
        changed = True
    if changed:
        await session.flush()
    return changed


async def job_is_over(session: AsyncSession, replica: ModelReplica) -> bool:
    """True when the replica's job ended (failed after its retries, or cancelled outside this module)."""
    if replica.job_id is None:
        return False
    job = await session.get(JobRow, replica.job_id)
    return job is None or job.deleted or JobState(job.state) in TERMINAL
