"""Model-service operations: create, list, get, start, stop, scale, autoscaling, delete, events.

Every function takes an explicit session and principal; reads need ``models:read``, changes
``models:write`` (developers and tenant administrators). Changes that alter replicas run
:func:`~inference.modelservice.replicas.ensure_replicas` in the caller's transaction, so a quota or
placement error is returned to the caller (409 / 422 naming the field) and nothing is half done.
Scheduler jobs are submitted with the module's system principal; the quota is charged to the
service's project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference.engines.errors import EngineConfigError
from inference.engines.settings import EngineSettings
from inference.modelservice import schemas
from inference.modelservice.events import add_event
from inference.modelservice.models import ModelReplica, ModelService, ModelServiceEvent
from inference.modelservice.options import ModelServiceOptions
from inference.modelservice.replicas import ensure_replicas, job_is_over, replicas_of, retire
from inference.modelservice.secrets import seal_upstream_key
from inference.modelservice.spec import RESERVED_ARGS
from scheduler.service.jobs import InvalidJobSpec
from security.kms.service import Caller, KeyManagementService
from services.kernel.auth import Principal
from services.kernel.errors import Conflict, STICError
from services.kernel.identity import Project
from services.kernel.pagination import PageParams, paginate
from services.kernel.tenancy import get_scoped, require_tenant, scoped


class InvalidModelService(InvalidJobSpec):
    """The service spec cannot be accepted (422); ``detail.field`` names the field."""

    code = "invalid_model_service"


def _invalid(field: str, message: str) -> InvalidModelService:
    return InvalidModelService(f"{field}: {message}", detail={"field": field})


def _check_model_root(model_dir: str, roots: list[Path]) -> None:
    if not roots:
        return
    resolved = Path(model_dir).resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise _invalid("model_dir", f"must lie under one of the model roots ({allowed})")


def _check_engine_source(body: schemas.ModelServiceCreate, options: ModelServiceOptions) -> None:
    if body.engine == "openai":
        if body.upstream is None:
            raise _invalid("upstream", "the openai engine needs upstream {url, model}")
        if body.model_dir is not None:
            raise _invalid("model_dir", "the openai engine serves an upstream URL, not a model directory")
        if body.upstream.api_key is not None and body.upstream.kms_key_id is None:
            raise _invalid("upstream.kms_key_id", "an upstream api_key is stored sealed: name a KMS key")
        if body.engine_args:
            raise _invalid("engine_args", "the openai engine runs no process")
        if body.node_selector:
            raise _invalid("node_selector", "the openai engine runs no process to place on a node")
        return
    if body.upstream is not None:
        raise _invalid("upstream", f"the {body.engine} engine serves a local model_dir, not an upstream")
    if body.model_dir is None:
        raise _invalid("model_dir", f"the {body.engine} engine needs a local model directory")
    _check_model_root(body.model_dir, options.model_roots)
    if not (Path(body.model_dir) / "config.json").is_file():
        raise _invalid("model_dir", f"{body.model_dir} is not a model directory (no config.json)")
    if body.engine == "vllm":
        python = EngineSettings().vllm_python
        if not python.is_file():
            raise _invalid("engine", f"vLLM is not installed here ({python}): run `make vllm-env`")
    for arg in body.engine_args:
        if arg.split("=", 1)[0] in RESERVED_ARGS:
            raise _invalid("engine_args", f"{arg.split('=', 1)[0]} is set by the platform")


def _resources(body: schemas.ResourcesIn) -> dict[str, Any]:
    return body.model_dump(mode="json")


async def create_service(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    body: schemas.ModelServiceCreate,
    options: ModelServiceOptions,
    system: Principal,
    kms: KeyManagementService | None,
) -> ModelService:
    """Validate and store a service; when ``start`` is set, submit its replicas' jobs now."""
    principal.require("models:write", tenant_id=tenant_id, project_id=body.project_id)
    await require_tenant(session, tenant_id)
    project = (
        await session.execute(scoped(Project, tenant_id).where(Project.id == body.project_id))
    ).scalar_one_or_none()
    if project is None:
        raise _invalid("project_id", f"unknown project '{body.project_id}'")
    if (await session.execute(scoped(ModelService, tenant_id).where(ModelService.name == body.name))).first():
        raise Conflict(f"model service '{body.name}' already exists", detail={"field": "name"})
    _check_engine_source(body, options)
    autoscaling = body.autoscaling
    replicas = body.replicas
    bounds = (1, max(1, replicas))
    if autoscaling is not None:
        bounds = (autoscaling.min_replicas, autoscaling.max_replicas)
        if autoscaling.enabled and not bounds[0] <= replicas <= bounds[1]:
            raise _invalid("replicas", f"must be within the autoscaling bounds {bounds[0]}..{bounds[1]}")
    if body.engine == "openai" and replicas > 1:
        raise _invalid("replicas", "an openai service has one replica: its upstream URL")
    upstream = body.upstream
    service = ModelService(
        tenant_id=tenant_id,
        project_id=project.id,
        name=body.name,
        description=body.description,
        version=body.version,
        engine=body.engine,
        served_model_name=body.served_model_name or (upstream.model if upstream else body.name),
        model_dir=body.model_dir,
        upstream_url=upstream.url.rstrip("/") if upstream else None,
        upstream_model=upstream.model if upstream else None,
        upstream_key_id=upstream.kms_key_id if upstream else None,
        upstream_protocol=upstream.protocol if upstream else "http1",
        resources=_resources(body.resources),
        queue=body.queue,
        engine_args=list(body.engine_args),
        node_selector=dict(body.node_selector),
        desired_replicas=replicas,
        min_replicas=bounds[0],
        max_replicas=bounds[1],
        autoscaling=(
            autoscaling.model_dump(mode="json", exclude={"min_replicas", "max_replicas"})
            if autoscaling
            else None
        ),
        running=body.start,
        state="starting" if body.start else "stopped",
        created_by=principal.id,
    )
    if upstream is not None and upstream.api_key is not None and upstream.kms_key_id is not None:
        if kms is None:
            raise _invalid("upstream.api_key", "the KMS is not running here, so the key cannot be stored")
        service.upstream_api_key = await seal_upstream_key(
            kms,
            session=session,
            caller=Caller(tenant_id=tenant_id, principal_id=principal.id),
            kms_key_id=upstream.kms_key_id,
            service_id=service.id,
            api_key=upstream.api_key.get_secret_value(),
        )
    session.add(service)
    await session.flush()
    add_event(session, service, "created", f"by {principal.name}", {"engine": service.engine})
    try:
        await _ensure(session, service, system=system, options=options)
    except STICError:
        await _undo_create(session, service.id, system=system)
        raise
    return service


async def _undo_create(session: AsyncSession, service_id: str, *, system: Principal) -> None:
    """Remove a service whose replicas could not all be submitted.

    The quota service commits each reservation, so earlier replicas' jobs (and the service row) may
    already be stored: they are deleted again, leaving nothing behind.
    """
    await session.rollback()
    service = await session.get(ModelService, service_id)
    if service is None:
        return
    for replica in await replicas_of(session, service_id):
        await retire(session, service, replica, principal=system)
    await session.flush()
    await session.delete(service)
    await session.commit()


async def _ensure(
    session: AsyncSession, service: ModelService, *, system: Principal, options: ModelServiceOptions
) -> None:
    try:
        await ensure_replicas(session, service, principal=system, options=options)
    except EngineConfigError as exc:
        raise _invalid("engine", str(exc)) from exc


async def get_service(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    service_id: str,
    permission: str = "models:read",
) -> ModelService:
    """One service of the tenant (404 for another tenant's, 403 without ``permission``)."""
    principal.ensure_visible(tenant_id, ("model service", service_id))
    service = await get_scoped(
        session, ModelService, tenant_id=tenant_id, resource_id=service_id, kind="model service"
    )
    principal.require(
        permission, tenant_id=tenant_id, project_id=service.project_id, resource=("model service", service_id)
    )
    return service


async def list_services(
    *, session: AsyncSession, principal: Principal, tenant_id: str, page: PageParams, filters: dict[str, Any]
) -> tuple[list[ModelService], int]:
    """The tenant's services by name, filtered by ``project_id``, ``state`` and/or ``engine``."""
    principal.require("models:read", tenant_id=tenant_id)
    query = scoped(ModelService, tenant_id).order_by(ModelService.name)
    for name in ("project_id", "state", "engine"):
        if filters.get(name) is not None:
            query = query.where(getattr(ModelService, name) == filters[name])
    return await paginate(session, query, page)


async def start_service(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    service_id: str,
    options: ModelServiceOptions,
    system: Principal,
) -> ModelService:
    """Run the service again; replicas whose jobs ended (failed after their retries) are replaced."""
    service = await get_service(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        service_id=service_id,
        permission="models:write",
    )
    for replica in await replicas_of(session, service.id):
        if await job_is_over(session, replica):
            await retire(session, service, replica, principal=system)
    if service.desired_replicas == 0:
        service.desired_replicas = max(1, service.min_replicas)
    service.running = True
    service.state = "starting"
    service.last_error = ""
    add_event(session, service, "started", f"by {principal.name}")
    await session.flush()
    await _ensure(session, service, system=system, options=options)
    return service


async def stop_service(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    service_id: str,
    options: ModelServiceOptions,
    system: Principal,
) -> ModelService:
    """Delete every replica's job (the scheduler stops the processes); the service is kept."""
    service = await get_service(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        service_id=service_id,
        permission="models:write",
    )
    service.running = False
    service.state = "stopping"
    add_event(session, service, "stopped", f"by {principal.name}")
    await _ensure(session, service, system=system, options=options)
    return service


async def apply_scale(
    session: AsyncSession,
    service: ModelService,
    replicas: int,
    *,
    kind: str,
    message: str,
    data: dict[str, Any],
    system: Principal,
    options: ModelServiceOptions,
) -> None:
    """Set the desired count, record ``kind`` (scaled / autoscaled) and converge the replicas."""
    before = service.desired_replicas
    service.desired_replicas = replicas
    add_event(
        session, service, kind, f"{before} → {replicas}: {message}", {"from": before, "to": replicas, **data}
    )
    await _ensure(session, service, system=system, options=options)


async def scale_service(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    service_id: str,
    replicas: int,
    options: ModelServiceOptions,
    system: Principal,
) -> ModelService:
    """Manual scaling (within the autoscaling bounds while autoscaling is on)."""
    service = await get_service(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        service_id=service_id,
        permission="models:write",
    )
    if service.engine == "openai" and replicas > 1:
        raise _invalid("replicas", "an openai service has one replica: its upstream URL")
    policy = service.autoscaling
    if (
        policy is not None
        and policy.get("enabled")
        and not service.min_replicas <= replicas <= service.max_replicas
    ):
        raise _invalid(
            "replicas",
            f"autoscaling is on: must be within {service.min_replicas}..{service.max_replicas}",
        )
    await apply_scale(
        session,
        service,
        replicas,
        kind="scaled",
        message=f"by {principal.name}",
        data={"source": "manual"},
        system=system,
        options=options,
    )
    return service


async def set_autoscaling(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    service_id: str,
    body: schemas.AutoscalingIn,
    options: ModelServiceOptions,
    system: Principal,
) -> ModelService:
    """Store the policy and bounds; the desired count is moved into the bounds at once."""
    service = await get_service(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        service_id=service_id,
        permission="models:write",
    )
    if service.engine == "openai" and body.enabled:
        raise _invalid("enabled", "an openai service has one replica and cannot autoscale")
    service.autoscaling = body.model_dump(mode="json", exclude={"min_replicas", "max_replicas"})
    service.min_replicas, service.max_replicas = body.min_replicas, body.max_replicas
    add_event(session, service, "autoscaling", f"policy set by {principal.name}", dict(service.autoscaling))
    bounded = min(max(service.desired_replicas, body.min_replicas), body.max_replicas)
    if body.enabled and bounded != service.desired_replicas:
        await apply_scale(
            session,
            service,
            bounded,
            kind="scaled",
            message="moved into the autoscaling bounds",
            data={"source": "bounds"},
            system=system,
            options=options,
        )
    return service


async def delete_service(
    *, session: AsyncSession, principal: Principal, tenant_id: str, service_id: str, system: Principal
) -> None:
    """Delete the replicas' jobs and the service (its name is free again at once)."""
    service = await get_service(
        session=session,
        principal=principal,
        tenant_id=tenant_id,
        service_id=service_id,
        permission="models:write",
    )
    for replica in await replicas_of(session, service.id):
        await retire(session, service, replica, principal=system)
    await session.flush()
    await session.delete(service)


async def service_events(
    *, session: AsyncSession, principal: Principal, tenant_id: str, service_id: str, page: PageParams
) -> tuple[list[ModelServiceEvent], int]:
    """The service's events, newest first."""
    service = await get_service(
        session=session, principal=principal, tenant_id=tenant_id, service_id=service_id
    )
    query = (
        select(ModelServiceEvent)
        .where(ModelServiceEvent.service_id == service.id)
        .order_by(ModelServiceEvent.time.desc(), ModelServiceEvent.id)
    )
    return await paginate(session, query, page)


async def ready_replicas(session: AsyncSession, service: ModelService) -> list[ModelReplica]:
    """The service's replicas in state ``ready``."""
    return [r for r in await replicas_of(session, service.id) if r.state == "ready"]
