"""The model-service module: model services API, replica controller and autoscaler.

Mount ``module`` (registered as ``"models"`` in ``services.allinone.SERVICE_MODULES``). On start-up
it builds the runtime on ``app.state.modelservice`` and, unless ``options.enabled`` is off, starts
the controller (replicas ↔ scheduler jobs, health) and the autoscaler. Replicas are scheduler jobs:
the scheduler module must run against the same database (in this process or another) for them to
start. The KMS (``app.state.kms``) seals upstream API keys when the kms module is mounted.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from inference.autoscaler.loop import Autoscaler
from inference.autoscaler.metrics import MetricsCollector
from inference.modelservice.controller import ModelServiceController
from inference.modelservice.engines import router as engines_router
from inference.modelservice.options import ModelServiceOptions
from inference.modelservice.router import router
from inference.modelservice.runtime import ModelServiceRuntime
from inference.modelservice.secrets import KmsSecretOpener
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.auth import Principal
from services.kernel.db import Database
from services.kernel.permissions import Role
from services.kernel.settings import Settings


def system_principal(platform_tenant_id: str) -> Principal:
    """The module's own platform-administrator principal (submits and deletes replica jobs)."""
    return Principal(
        id="system:modelservice",
        kind="system",
        name="modelservice",
        tenant_id=platform_tenant_id,
        key_id="none",
        is_platform_admin=True,
        roles=frozenset({Role.PLATFORM_ADMIN}),
        tenant_permissions=frozenset({"*"}),
    )


async def _startup(app: FastAPI) -> None:
    options: ModelServiceOptions = getattr(app.state, "modelservice_options", None) or ModelServiceOptions()
    database: Database = app.state.database
    runtime = ModelServiceRuntime(
        options=options,
        system=system_principal(app.state.bootstrap.platform_tenant_id),
        http=httpx.AsyncClient(timeout=options.test_timeout_s),
        app_state=app.state,
    )
    kms = runtime.kms
    runtime.secrets = KmsSecretOpener(kms) if kms is not None else None
    runtime.controller = ModelServiceController(
        database=database,
        options=options,
        system=runtime.system,
        http=runtime.http,
        secrets=runtime.secrets,
        scheduler_wake=runtime.wake_scheduler,
    )
    runtime.autoscaler = Autoscaler(
        database=database,
        collector=MetricsCollector(http=runtime.http, executor=runtime.executor),
        options=options,
        system=runtime.system,
        on_change=runtime.wake,
    )
    app.state.modelservice = runtime
    if options.enabled:
        runtime.controller.start()
        runtime.autoscaler.start()


async def _shutdown(app: FastAPI) -> None:
    runtime: ModelServiceRuntime | None = getattr(app.state, "modelservice", None)
    if runtime is None:
        return
    if runtime.autoscaler is not None:
        await runtime.autoscaler.stop()
    if runtime.controller is not None:
        await runtime.controller.stop()
    await runtime.http.aclose()


module = ServiceModule(
    name="models",
    title="Model services",
    description="model services on builtin/vLLM/external engines: lifecycle, replicas as scheduler jobs, "
    "health, manual scaling and autoscaling",
    routers=[router, engines_router],
    on_startup=[_startup],
    on_shutdown=[_shutdown],
)


def create_app(settings: Settings) -> FastAPI:
    """The model-service module alone (replicas start only where a scheduler runs on the same database)."""
    return create_service_app(modules=[module], settings=settings)
