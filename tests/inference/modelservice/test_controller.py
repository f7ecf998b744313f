"""The controller: replica and service state rules, health probing, restarts, failures, directory.

Replica processes are not started here (the scheduling loop is off): the tests move the replica's
scheduler task through its states and answer health probes with ``httpx.MockTransport``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from inference.modelservice.controller import (
    ModelServiceController,
    Observation,
    next_replica_state,
    service_state,
)
from inference.modelservice.directory import load_directory
from inference.modelservice.models import ModelReplica, ModelService
from inference.modelservice.options import ModelServiceOptions
from inference.modelservice.runtime import ModelServiceRuntime
from scheduler.service.models import JobRow, TaskRow
from tests.conftest import client_for
from tests.services.builders import TenantFixture, make_tenant, ok, unique


def replica(state: str, *, failures: int = 0, attempt: int = 0) -> ModelReplica:
    return ModelReplica(state=state, health_failures=failures, attempt=attempt)


@pytest.mark.parametrize(
    ("before", "seen", "expected"),
    [
        (replica("pending"), Observation("r", job_state="queued", task_state="pending"), "pending"),
        (
            replica("pending"),
            Observation("r", job_state="running", task_state="running", healthy=False),
            "starting",
        ),
        (
            replica("starting"),
            Observation("r", job_state="running", task_state="running", healthy=True),
            "ready",
        ),
        (
            replica("ready"),
            Observation("r", job_state="running", task_state="running", healthy=False),
            "ready",
        ),
        (
            replica("ready", failures=1),
            Observation("r", job_state="running", task_state="running", healthy=False),
            "unhealthy",
        ),
        (replica("ready"), Observation("r", job_state="running", task_state="backoff"), "unhealthy"),
        (
            replica("unhealthy"),
            Observation("r", job_state="running", task_state="running", healthy=True),
            "ready",
        ),
        (
            replica("starting", attempt=1),
            Observation("r", job_state="running", task_state="placed"),
            "starting",
        ),
        (replica("ready"), Observation("r", job_state="failed", task_state="failed"), "failed"),
    ],
    ids=[
        "queued",
        "process-up-not-healthy",
        "first-healthy",
        "one-failed-probe-tolerated",
        "second-failed-probe",
        "crashed",
        "recovered",
        "restarting",
        "job-failed",
    ],
)
def test_next_replica_state(before: ModelReplica, seen: Observation, expected: str) -> None:
    assert next_replica_state(before, seen, unhealthy_after=2) == expected


@pytest.mark.parametrize(
    ("running", "desired", "previous", "replicas", "expected"),
    [
        (True, 2, "starting", ["ready", "ready"], "running"),
        (True, 2, "starting", ["ready", "starting"], "starting"),
        (True, 2, "running", ["ready", "unhealthy"], "degraded"),
        (True, 2, "running", ["unhealthy", "unhealthy"], "degraded"),
        (True, 1, "starting", ["failed"], "failed"),
        (True, 0, "running", [], "stopped"),
        (False, 2, "running", ["ready"], "stopping"),
        (False, 2, "stopping", [], "stopped"),
    ],
)
def test_service_state(
    running: bool, desired: int, previous: str, replicas: list[str], expected: str
) -> None:
    service = ModelService(engine="builtin", running=running, desired_replicas=desired, state=previous)
    assert service_state(service, [replica(s) for s in replicas]) == expected


def controller_for(
    app: FastAPI, handler: Callable[[httpx.Request], httpx.Response]
) -> ModelServiceController:
    runtime: ModelServiceRuntime = app.state.modelservice
    return ModelServiceController(
        database=app.state.database,
        options=ModelServiceOptions(unhealthy_after=1),
        system=runtime.system,
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        secrets=runtime.secrets,
    )


async def create(app: FastAPI, t: TenantFixture, body: dict[str, Any]) -> dict[str, Any]:
    async with client_for(app, t.tokens["developer"]) as dev:
        return await ok(await dev.post(f"/v1/tenants/{t.id}/model-services", json=body), 201)


async def get(app: FastAPI, t: TenantFixture, service_id: str, view: str = "") -> Any:
    async with client_for(app, t.tokens["developer"]) as dev:
        return await ok(await dev.get(f"/v1/tenants/{t.id}/model-services/{service_id}{view}"))


async def test_external_upstream_is_discovered_probed_and_listed(
    ms_app: FastAPI, ms_admin: httpx.AsyncClient
) -> None:
    t = await make_tenant(ms_admin, roles=("developer",))
    up = {"alive": True}

    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.host != "upstream.test" or not up["alive"]:
            raise httpx.ConnectError("refused", request=request)
        if request.url.path in ("/health", "/v1/models"):
            return httpx.Response(200, json={"data": []})
        return httpx.Response(404)

    body = {
        "name": unique("ext"),
        "project_id": t.project_id,
        "engine": "openai",
        "upstream": {"url": "http://upstream.test/v1/", "model": "gpt-x"},
    }
    svc = await create(ms_app, t, body)
    controller = controller_for(ms_app, upstream)
    await controller.tick()
    got = await get(ms_app, t, svc["id"])
    assert got["state"] == "running" and got["replicas"]["ready"] == 1
    [rep] = await get(ms_app, t, svc["id"], "/replicas")
    assert rep["job_id"] is None and rep["health_url"] == "http://upstream.test/health"
    assert rep["api_base"] == "http://upstream.test/v1"
    async with ms_app.state.database.sessionmaker() as session:
        [target] = [s for s in await load_directory(session) if s.service_id == svc["id"]]
    assert target.name == svc["name"] and target.served_model_name == "gpt-x" and target.state == "running"
    assert [r.api_base for r in target.replicas] == ["http://upstream.test/v1"]

    up["alive"] = False
    await controller.tick()
    assert (await get(ms_app, t, svc["id"]))["state"] == "degraded"
    async with ms_app.state.database.sessionmaker() as session:
        [target] = [s for s in await load_directory(session) if s.service_id == svc["id"]]
    assert target.replicas == (), "an unhealthy replica leaves the directory"
    await controller.http.aclose()


async def _task(app: FastAPI, job_id: str, **changes: Any) -> None:
    async with app.state.database.sessionmaker() as session:
        task = (await session.execute(select(TaskRow).where(TaskRow.job_id == job_id))).scalar_one()
        job = await session.get(JobRow, job_id)
        assert job is not None
        for name, value in changes.items():
            if name == "job_state":
                job.state = value
            else:
                setattr(task, name, value)
        await session.commit()


async def test_local_replica_follows_its_task_restart_and_failure(
    ms_app: FastAPI, ms_admin: httpx.AsyncClient, fake_model_dir: Path
) -> None:
    t = await make_tenant(ms_admin, roles=("developer",))
    body = {
        "name": unique("loc"),
        "project_id": t.project_id,
        "engine": "builtin",
        "model_dir": str(fake_model_dir),
        "resources": {"cpu_milli": 200, "memory_mib": 128},
    }
    svc = await create(ms_app, t, body)
    [rep] = await get(ms_app, t, svc["id"], "/replicas")
    healthy = {"value": False}

    def replica_server(request: httpx.Request) -> httpx.Response:
        # the controller probes every service in the (shared) database: only this replica answers
        mine = request.url.port == rep["port"] and request.url.path == "/health"
        return httpx.Response(200 if mine and healthy["value"] else 503)

    controller = controller_for(ms_app, replica_server)
    await controller.tick()
    assert (await get(ms_app, t, svc["id"], "/replicas"))[0]["state"] == "pending"

    await _task(ms_app, rep["job_id"], state="running", node="somewhere", job_state="running")
    await controller.tick()
    assert (await get(ms_app, t, svc["id"], "/replicas"))[0]["state"] == "starting"
    healthy["value"] = True
    await controller.tick()
    assert (await get(ms_app, t, svc["id"]))["state"] == "running"

    # the scheduler restarted the process in place: a new attempt starts from "starting"
    healthy["value"] = False
    await _task(ms_app, rep["job_id"], attempt=1)
    await controller.tick()
    [after] = await get(ms_app, t, svc["id"], "/replicas")
    assert after["state"] == "starting" and after["attempt"] == 1
    healthy["value"] = True
    await controller.tick()
    assert (await get(ms_app, t, svc["id"], "/replicas"))[0]["state"] == "ready"

    await _task(
        ms_app, rep["job_id"], state="failed", failure="exit code 1 (retries exhausted)", job_state="failed"
    )
    await controller.tick()
    [failed] = await get(ms_app, t, svc["id"], "/replicas")
    assert failed["state"] == "failed" and "retries exhausted" in failed["last_error"]
    assert (await get(ms_app, t, svc["id"]))["state"] == "failed"
    events = await get(ms_app, t, svc["id"], "/events?limit=100")
    assert {"replica-ready", "replica-restarted", "replica-failed"} <= {e["kind"] for e in events["items"]}

    # /start replaces the failed replica with a new job
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        await ok(await dev.post(f"/v1/tenants/{t.id}/model-services/{svc['id']}/start"))
    [fresh] = await get(ms_app, t, svc["id"], "/replicas")
    assert fresh["job_id"] != rep["job_id"] and fresh["state"] == "pending"
    await controller.http.aclose()


async def test_controller_resubmits_missing_replicas(
    ms_app: FastAPI, ms_admin: httpx.AsyncClient, fake_model_dir: Path
) -> None:
    """Restart safety: replica rows lost between the API and the controller are recreated."""
    t = await make_tenant(ms_admin, roles=("developer",))
    body = {
        "name": unique("res"),
        "project_id": t.project_id,
        "engine": "builtin",
        "model_dir": str(fake_model_dir),
        "resources": {"cpu_milli": 200, "memory_mib": 128},
        "replicas": 2,
    }
    svc = await create(ms_app, t, body)
    async with ms_app.state.database.sessionmaker() as session:
        rows = (
            await session.execute(select(ModelReplica).where(ModelReplica.service_id == svc["id"]))
        ).scalars()
        for row in rows:
            if row.ordinal == 1:
                await session.delete(row)
        await session.commit()
    controller = controller_for(ms_app, lambda request: httpx.Response(503))
    await controller.tick()
    await controller.tick()  # idempotent: a second tick changes nothing
    replicas = await get(ms_app, t, svc["id"], "/replicas")
    assert sorted(r["ordinal"] for r in replicas) == [0, 1]
    await controller.http.aclose()
