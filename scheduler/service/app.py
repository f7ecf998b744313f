"""The scheduler service: inventory, topology, queues and jobs, plus the scheduling loop.

On start-up it registers this machine as a real node, seeds the simulated demo inventory when
``settings.demo`` is set (``stic up --demo``), builds the executor and starts the loop; on
shutdown it stops the loop (running tasks keep running and are re-adopted on the next start).
It registers the tenant-deletion hook that stops a deleted tenant's work
(:mod:`scheduler.service.tenant_cleanup`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI

from scheduler import Scheduler, load_config
from scheduler.executors.registry import create_executor
from scheduler.service.controller import Controller
from scheduler.service.inventory import ensure_local_node, seed_demo
from scheduler.service.options import SchedulerOptions
from scheduler.service.router_jobs import router as jobs_router
from scheduler.service.router_nodes import router as nodes_router
from scheduler.service.router_queues import router as queues_router
from scheduler.service.system import system_principal
from scheduler.service.tenant_cleanup import stop_tenant_work
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.db import Database
from services.kernel.settings import Settings
from services.kernel.tenant_hooks import tenant_deletion_hooks

log = logging.getLogger("stic.scheduler")


async def seed_demo_inventory(app: FastAPI) -> list[str]:
    """Register the simulated demo nodes (idempotent); returns the names added."""
    database: Database = app.state.database
    async with database.sessionmaker() as session:
        added = await seed_demo(session)
        await session.commit()
    return added


async def _startup(app: FastAPI) -> None:
    options: SchedulerOptions = getattr(app.state, "scheduler_options", None) or SchedulerOptions()
    work_dir: Path = options.work_dir or app.state.settings.data_dir / "scheduler"
    options = options.model_copy(update={"work_dir": work_dir})
    app.state.scheduler_options = options
    database: Database = app.state.database
    async with database.sessionmaker() as session:
        local = await ensure_local_node(session, name=options.local_node_name)
        await session.commit()
    if app.state.settings.demo:
        added = await seed_demo_inventory(app)
        log.info("demo inventory seeded (simulated)", extra={"nodes": added})
    executor = create_executor(options.executor, work_dir / "tasks")
    controller = Controller(
        database=database,
        executor=executor,
        scheduler=Scheduler(load_config(options.policy)),
        options=options,
        system=system_principal(app.state.bootstrap.platform_tenant_id),
        local_node=local.name,
    )
    app.state.scheduler = controller
    tenant_deletion_hooks(app).register(
        "scheduler", lambda tenant_id: stop_tenant_work(controller, tenant_id)
    )
    if options.enabled:
        await controller.relaunch_unknown()
        controller.start()


async def _shutdown(app: FastAPI) -> None:
    tenant_deletion_hooks(app).unregister("scheduler")
    controller: Controller | None = getattr(app.state, "scheduler", None)
    if controller is not None:
        await controller.stop()


module = ServiceModule(
    name="scheduler",
    title="Scheduler",
    description="cluster inventory and topology, hierarchical queues, gang jobs, executors, fault tolerance",
    routers=[nodes_router, queues_router, jobs_router],
    on_startup=[_startup],
    on_shutdown=[_shutdown],
)


def create_app(settings: Settings) -> FastAPI:
    """The scheduler service alone."""
    return create_service_app(modules=[module], settings=settings)
