"""``stic up --demo``: a model to talk to at once.

Builds the project's tiny Llama (local text, no download; cached under
``<data_dir>/models/tiny-llama``) in the background and creates the model service ``tiny-llama``
(engine ``builtin``, one replica) in a ``demo`` project of the platform tenant, so
``POST /v1/chat/completions`` with ``"model": "tiny-llama"`` works a few seconds after start-up.
The replica selects a real node (``stic.io/simulated: "false"``) whenever the inventory holds one,
so it never lands on the simulated demo nodes beside the local machine. Idempotent across restarts
(a service created earlier keeps its spec). The inference assessment probes take their model from
this service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inference.modelservice import schemas
from inference.modelservice.models import ModelService
from inference.modelservice.runtime import ModelServiceRuntime
from inference.modelservice.service import create_service
from scheduler.model import labels
from scheduler.service.models import NodeRow
from services.kernel.identity import Department, Project

log = logging.getLogger("stic.demo")

DEMO_MODEL = "tiny-llama"
DEMO_SCOPE = "demo"


async def _demo_project(session: AsyncSession, tenant_id: str) -> str:
    department = (
        await session.execute(
            select(Department).where(Department.tenant_id == tenant_id, Department.name == DEMO_SCOPE)
        )
    ).scalar_one_or_none()
    if department is None:
        department = Department(tenant_id=tenant_id, name=DEMO_SCOPE)
        session.add(department)
        await session.flush()
    project = (
        await session.execute(
            select(Project).where(Project.tenant_id == tenant_id, Project.name == DEMO_SCOPE)
        )
    ).scalar_one_or_none()
    if project is None:
        project = Project(tenant_id=tenant_id, department_id=department.id, name=DEMO_SCOPE)
        session.add(project)
        await session.flush()
    return project.id


async def real_node_selector(session: AsyncSession) -> dict[str, str]:
    """``{"stic.io/simulated": "false"}`` when the inventory holds a real node, else ``{}`` (anywhere)."""
    real = (await session.execute(select(NodeRow.id).where(NodeRow.simulated.is_(False)).limit(1))).first()
    return {labels.SIMULATED: "false"} if real is not None else {}


async def _seed(app: FastAPI, model_dir: Path) -> None:
    from inference.tinymodel.builder import build_tiny_llama  # torch: imported only when seeding

    built = await asyncio.to_thread(build_tiny_llama, model_dir)
    log.info("demo model ready", extra={"path": str(built.path), "cached": built.cached})
    runtime: ModelServiceRuntime = app.state.modelservice
    tenant_id = app.state.bootstrap.platform_tenant_id
    async with app.state.database.sessionmaker() as session:
        existing = (
            await session.execute(
                select(ModelService).where(
                    ModelService.tenant_id == tenant_id, ModelService.name == DEMO_MODEL
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            return
        project_id = await _demo_project(session, tenant_id)
        selector = await real_node_selector(session)
        await session.commit()
        await create_service(
            session=session,
            principal=runtime.system,
            tenant_id=tenant_id,
            body=schemas.ModelServiceCreate(
                name=DEMO_MODEL,
                project_id=project_id,
                description="the project's tiny Llama, built from local text (demo)",
                engine="builtin",
                model_dir=str(model_dir),
                resources=schemas.ResourcesIn(cpu_milli=1000, memory_mib=1024),
                replicas=1,
                node_selector=selector,
            ),
            options=runtime.options,
            system=runtime.system,
            kms=runtime.kms,
        )
    log.info("demo model service created", extra={"model": DEMO_MODEL})


async def seed_demo_model(app: FastAPI) -> None:
    """Start-up hook: when ``settings.demo``, seed the demo model in the background."""
    if not app.state.settings.demo or getattr(app.state, "modelservice", None) is None:
        return
    model_dir = app.state.settings.data_dir / "models" / DEMO_MODEL

    async def run() -> None:
        try:
            await _seed(app, model_dir)
        except Exception:
            log.exception("seeding the demo model failed")

    app.state.demo_model_task = asyncio.create_task(run(), name="demo-model")


async def stop_demo_model(app: FastAPI) -> None:
    """Shutdown hook: stop a seeding still in progress."""
    task: asyncio.Task[None] | None = getattr(app.state, "demo_model_task", None)
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
