"""The batch service module: ``/v1/files`` and ``/v1/batches``, and the batch controller loop.

Batches are run by the scheduler, so this module belongs with ``scheduler`` in one app
(``stic up``); the KMS module, when mounted before this one, seals file content at rest.
"""

from __future__ import annotations

from fastapi import FastAPI

from inference.batches.controller import BatchController
from inference.batches.options import BatchOptions
from inference.batches.router import router
from inference.batches.storage import FileStore
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.auth import Principal
from services.kernel.permissions import Role
from services.kernel.settings import Settings


def system_principal(platform_tenant_id: str) -> Principal:
    """The service's own principal (platform administrator named ``batches``; never reachable over HTTP)."""
    return Principal(
        id="system:batches",
        kind="system",
        name="batches",
        tenant_id=platform_tenant_id,
        key_id="none",
        is_platform_admin=True,
        roles=frozenset({Role.PLATFORM_ADMIN}),
        tenant_permissions=frozenset({"*"}),
    )


async def _startup(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    options: BatchOptions = getattr(app.state, "batch_options", None) or BatchOptions()
    options = options.resolved(settings)
    app.state.batch_options = options
    assert options.files_dir is not None
    store = FileStore(options.files_dir, kms=getattr(app.state, "kms", None), database=app.state.database)
    app.state.batch_files = store

    def wake_scheduler() -> None:
        scheduler = getattr(app.state, "scheduler", None)
        if scheduler is not None:
            scheduler.wake()

    controller = BatchController(
        database=app.state.database,
        store=store,
        options=options,
        system=system_principal(app.state.bootstrap.platform_tenant_id),
        secret=settings.secret_key,
        wake_scheduler=wake_scheduler,
    )
    app.state.batch_controller = controller
    if options.enabled:
        controller.start()


async def _shutdown(app: FastAPI) -> None:
    controller: BatchController | None = getattr(app.state, "batch_controller", None)
    if controller is not None:
        await controller.stop()


module = ServiceModule(
    name="batches",
    title="Batch inference",
    description="OpenAI /v1/files and /v1/batches, run as scheduler jobs; each result recorded exactly once",
    routers=[router],
    # batch input files (OpenAI takes up to 200 MB) and the worker's result reports
    upload_routes=[("POST", r"/v1/files"), ("POST", r"/v1/batches/[^/]+/results")],
    on_startup=[_startup],
    on_shutdown=[_shutdown],
)


def create_app(settings: Settings) -> FastAPI:
    """The batch service alone: its jobs run when a scheduler service runs on the same database."""
    return create_service_app(modules=[module], settings=settings)
