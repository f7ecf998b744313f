"""A model service's node selector: stored, shown, passed to every replica job, validated, and obeyed
by the scheduler in a mixed inventory (simulated demo nodes beside the real local node).

The loops are off (``ms_app``): one scheduling cycle is run by hand so placements can be read from
the jobs without any replica process starting. This module's database is its own, so seeding the
demo inventory here touches no other test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from inference.demo import real_node_selector
from scheduler.service.app import seed_demo_inventory
from scheduler.service.cycle import run_cycle
from services.kernel.db import utcnow
from tests.conftest import client_for
from tests.inference.modelservice.test_api import builtin_body, fields_of, jobs_of
from tests.services.builders import make_tenant, ok

REAL = {"stic.io/simulated": "false"}
SIMULATED = {"stic.io/simulated": "true"}
SMALL = {"cpu_milli": 100, "memory_mib": 64}  # three fit the 2-core local node beside earlier tests' jobs


async def _schedule(app: FastAPI) -> None:
    async with app.state.database.sessionmaker() as session:
        await run_cycle(session, app.state.scheduler.scheduler, now=utcnow())
        await session.commit()


async def _replica_tasks(client: httpx.AsyncClient, tenant_id: str, service_id: str) -> list[dict[str, Any]]:
    replicas = await ok(await client.get(f"/v1/tenants/{tenant_id}/model-services/{service_id}/replicas"))
    tasks = []
    for replica in replicas:
        job = await ok(await client.get(f"/v1/tenants/{tenant_id}/jobs/{replica['job_id']}"))
        assert (
            job["spec"]["node_selector"] == (await _service(client, tenant_id, service_id))["node_selector"]
        )
        tasks += job["tasks"]
    return tasks


async def _service(client: httpx.AsyncClient, tenant_id: str, service_id: str) -> dict[str, Any]:
    return await ok(await client.get(f"/v1/tenants/{tenant_id}/model-services/{service_id}"))


async def test_selector_is_stored_shown_and_passed_to_every_replica_job(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path
) -> None:
    t = await make_tenant(ms_admin)
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        base = f"/v1/tenants/{t.id}/model-services"
        svc = await ok(
            await dev.post(base, json=builtin_body(t, fake_model_dir, replicas=2, node_selector=REAL)), 201
        )
        assert svc["node_selector"] == REAL
        assert (await _service(dev, t.id, svc["id"]))["node_selector"] == REAL
        interface = await ok(await dev.get(f"{base}/{svc['id']}/interface"))
        assert interface["placement"]["node_selector"] == REAL
        jobs = await jobs_of(dev, t)
        assert len(jobs) == 2 and all(j["spec"]["node_selector"] == REAL for j in jobs)
        plain = await ok(await dev.post(base, json=builtin_body(t, fake_model_dir)), 201)
        assert plain["node_selector"] == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"node_selector": {"bad key": "x"}}, "node_selector"),
        ({"node_selector": {"zone": "-x"}}, "node_selector.zone"),
        (
            {"engine": "openai", "model_dir": None, "upstream": {"url": "https://x/v1", "model": "m"},
             "node_selector": REAL},
            "node_selector",
        ),
    ],
    ids=["key", "value", "openai"],
)  # fmt: skip
async def test_bad_selector_is_refused_naming_the_field(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path, change: dict[str, Any], field: str
) -> None:
    t = await make_tenant(ms_admin)
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        refused = await dev.post(
            f"/v1/tenants/{t.id}/model-services", json={**builtin_body(t, fake_model_dir), **change}
        )
        assert refused.status_code == 422, refused.text
        assert any(field in f for f in fields_of(refused)), refused.json()
        assert (await ok(await dev.get(f"/v1/tenants/{t.id}/model-services")))["total"] == 0


async def test_replicas_land_only_on_nodes_matching_the_selector(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path
) -> None:
    await seed_demo_inventory(ms_app)
    nodes = (await ok(await ms_admin.get("/v1/nodes?limit=500")))["items"]
    real = {n["name"] for n in nodes if not n["simulated"]}
    simulated = {n["name"] for n in nodes if n["simulated"]}
    assert real and len(simulated) >= 6, "a mixed inventory: the local node beside the demo nodes"
    t = await make_tenant(ms_admin)
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        base = f"/v1/tenants/{t.id}/model-services"
        on_real = await ok(
            await dev.post(
                base, json=builtin_body(t, fake_model_dir, replicas=3, node_selector=REAL, resources=SMALL)
            ),
            201,
        )
        on_sim = await ok(
            await dev.post(
                base,
                json=builtin_body(t, fake_model_dir, replicas=2, node_selector=SIMULATED, resources=SMALL),
            ),
            201,
        )
        await _schedule(ms_app)
        real_tasks = await _replica_tasks(dev, t.id, on_real["id"])
        sim_tasks = await _replica_tasks(dev, t.id, on_sim["id"])
    assert len(real_tasks) == 3 and {task["node"] for task in real_tasks} <= real
    assert not any(task["simulated"] for task in real_tasks)
    assert len(sim_tasks) == 2 and {task["node"] for task in sim_tasks} <= simulated
    assert all(task["simulated"] for task in sim_tasks)


async def test_demo_selects_a_real_node_when_the_inventory_has_one(ms_app: FastAPI) -> None:
    async with ms_app.state.database.sessionmaker() as session:
        assert await real_node_selector(session) == REAL  # the local node registers itself as real
