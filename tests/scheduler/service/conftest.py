"""Fixtures for the scheduler service: an app with a fast loop and a demo inventory.

``sched_app`` seeds the simulated demo inventory, points the executor at a temporary folder and
ticks every 50 ms. On teardown every unfinished job of the tenants made through ``tenant`` is
deleted, so one test's work never occupies the next test's nodes.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from scheduler.service.models import TaskRow
from scheduler.service.options import SchedulerOptions
from services.allinone import load_module
from services.kernel.app import create_service_app
from tests.conftest import PlatformDB, client_for, platform_settings
from tests.services.builders import TenantFixture, make_tenant, ok, unique

PY = sys.executable


def options_for(work_dir: Path, **overrides: Any) -> SchedulerOptions:
    """Fast loop settings for tests."""
    values: dict[str, Any] = {
        "work_dir": work_dir,
        "tick_s": 0.05,
        "cycle_s": 0.2,
        "node_heartbeat_s": 0.2,
        "straggler_min_elapsed_s": 0.5,
    }
    values.update(overrides)
    return SchedulerOptions(**values)


async def started_app(db: PlatformDB, options: SchedulerOptions) -> tuple[FastAPI, Any]:
    """IAM, quotas and the scheduler in one app with ``options``, lifespan entered.

    Only the services the scheduler needs are composed, so other services' start-up
    requirements do not bear on these tests. Returns (app, lifespan context).
    """
    modules = [load_module(name) for name in ("iam", "quotas", "scheduler")]
    app = create_service_app(modules=modules, settings=platform_settings(db, demo=True))
    app.state.scheduler_options = options
    context = app.router.lifespan_context(app)
    await context.__aenter__()
    return app, context


class SchedEnv:
    """What a scheduler test needs: the app, an admin client, tenant builder, job helpers."""

    def __init__(self, app: FastAPI, admin: httpx.AsyncClient, db: PlatformDB, work_dir: Path) -> None:
        self.app = app
        self.admin = admin
        self.db = db
        self.work_dir = work_dir
        self.tenants: list[TenantFixture] = []

    async def tenant(self) -> TenantFixture:
        """A fresh tenant (cleaned up after the test)."""
        t = await make_tenant(self.admin, roles=("tenant-admin", "developer", "viewer"))
        self.tenants.append(t)
        return t

    async def submit(
        self, t: TenantFixture, spec: dict[str, Any], *, role: str = "developer", status: int = 201
    ) -> dict:
        """Submit ``spec`` (``project_id`` filled in) as ``role``."""
        body = {"project_id": t.project_id, **spec}
        async with client_for(self.app, t.tokens[role]) as client:
            return await ok(await client.post(f"/v1/tenants/{t.id}/jobs", json=body), status)

    async def job(self, t: TenantFixture, job_id: str) -> dict:
        """GET a job as the tenant admin."""
        async with client_for(self.app, t.tokens["tenant-admin"]) as client:
            return await ok(await client.get(f"/v1/tenants/{t.id}/jobs/{job_id}"))

    async def wait(
        self, t: TenantFixture, job_id: str, until: Callable[[dict], bool], *, limit_s: float = 20.0
    ) -> dict:
        """Poll the job until ``until(job)`` holds; fails with the job and its events otherwise."""
        deadline = time.monotonic() + limit_s
        job: dict = {}
        while time.monotonic() < deadline:
            job = await self.job(t, job_id)
            if until(job):
                return job
            await asyncio.sleep(0.05)
        events = await self.events(t, job_id)
        raise AssertionError(f"job never reached the condition: {job}\nevents: {events}")

    async def events(self, t: TenantFixture, job_id: str) -> list[dict]:
        """The job's events."""
        async with client_for(self.app, t.tokens["tenant-admin"]) as client:
            page = await ok(await client.get(f"/v1/tenants/{t.id}/jobs/{job_id}/events?limit=500"))
        return page["items"]

    async def cleanup(self) -> None:
        """Delete every job of this test's tenants and wait until none of their tasks runs."""
        jobs = []
        for t in self.tenants:
            page = await ok(await self.admin.get(f"/v1/tenants/{t.id}/jobs?limit=500"))
            jobs += [(t, job["id"]) for job in page["items"]]
        for t, job_id in jobs:
            await self.admin.delete(f"/v1/tenants/{t.id}/jobs/{job_id}")
        async with self.app.state.database.sessionmaker() as session:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                query = select(TaskRow.id).where(
                    TaskRow.job_id.in_([j for _, j in jobs]), TaskRow.state.in_(("running", "stopping"))
                )
                if (await session.execute(query)).first() is None:
                    return
                await session.rollback()
                await asyncio.sleep(0.05)


@pytest.fixture
async def sched(platform_db: PlatformDB, tmp_path: Path) -> AsyncIterator[SchedEnv]:
    """A started all-in-one app with the demo inventory and a fast scheduling loop."""
    app, context = await started_app(platform_db, options_for(tmp_path / "work"))
    try:
        async with client_for(app, platform_db.admin_token) as admin:
            env = SchedEnv(app, admin, platform_db, tmp_path / "work")
            try:
                yield env
            finally:
                await env.cleanup()
    finally:
        await context.__aexit__(None, None, None)


def command(code: str) -> list[str]:
    """A task command running Python ``code``."""
    return [PY, "-c", code]


def cpu_job(
    name: str | None = None, *, replicas: int = 1, code: str = "print('hello')", **extra: Any
) -> dict:
    """A CPU-only job spec."""
    return {
        "name": name or unique("job"),
        "groups": [
            {
                "name": "worker",
                "replicas": replicas,
                "cpu_milli": 100,
                "memory_mib": 64,
                "command": command(code),
            }
        ],
        **extra,
    }


Until = Callable[[dict], bool]
Waiter = Callable[..., Awaitable[dict]]


def in_state(*states: str) -> Until:
    """Condition: the job is in one of ``states``."""
    return lambda job: job["state"] in states
