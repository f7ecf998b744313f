"""The model-service API on both databases: lifecycle, validation, quota, scaling, interface, status.

The scheduling loop and the controller are off (``ms_app``): these tests check what the API
stores and which scheduler jobs it submits or deletes; ``test_e2e.py`` runs real replicas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from inference.modelservice.directory import load_directory
from inference.modelservice.models import ModelService
from inference.modelservice.secrets import KmsSecretOpener
from tests.conftest import client_for
from tests.services.builders import TenantFixture, make_tenant, ok, unique


def builtin_body(t: TenantFixture, model_dir: Path, **extra: Any) -> dict[str, Any]:
    body = {
        "name": unique("svc"),
        "project_id": t.project_id,
        "engine": "builtin",
        "model_dir": str(model_dir),
        "resources": {"cpu_milli": 500, "memory_mib": 256},
    }
    body.update(extra)
    return body


def fields_of(response: httpx.Response) -> list[str]:
    detail = response.json()["detail"]
    if isinstance(detail, list):
        return [str(p["field"]) for p in detail]
    return [str(detail.get("field"))]


async def jobs_of(client: httpx.AsyncClient, t: TenantFixture) -> list[dict[str, Any]]:
    page = await ok(await client.get(f"/v1/tenants/{t.id}/jobs?limit=500"))
    return list(page["items"])


async def test_create_submits_one_inference_job_per_replica(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path
) -> None:
    t = await make_tenant(ms_admin)
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        svc = await ok(
            await dev.post(
                f"/v1/tenants/{t.id}/model-services", json=builtin_body(t, fake_model_dir, replicas=2)
            ),
            201,
        )
        assert svc["state"] == "starting"
        assert svc["replicas"] == {"desired": 2, "min": 1, "max": 2, "current": 2, "ready": 0}
        assert svc["model"] == {"source": "local", "model_dir": str(fake_model_dir)}
        assert svc["resources"] == {"cpu_milli": 500, "memory_mib": 256, "accelerators": None}
        replicas = await ok(await dev.get(f"/v1/tenants/{t.id}/model-services/{svc['id']}/replicas"))
        jobs = {j["id"]: j for j in await jobs_of(dev, t)}
    assert sorted(r["ordinal"] for r in replicas) == [0, 1]
    assert {r["job_id"] for r in replicas} == set(jobs)
    ports = {r["port"] for r in replicas}
    assert len(ports) == 2, "each replica gets its own port"
    for replica in replicas:
        job = jobs[replica["job_id"]]
        assert job["type"] == "inference"
        command = job["spec"]["groups"][0]["command"]
        assert command[1:3] == ["-m", "inference.engines.builtin"]
        assert command[command.index("--port") + 1] == str(replica["port"])
        assert command[command.index("--served-model-name") + 1] == svc["served_model_name"]
        assert job["spec"]["recovery"]["policy"] == "restart_in_place"
        assert replica["api_base"] == f"http://127.0.0.1:{replica['port']}/v1"


async def test_get_list_interface_and_status(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path
) -> None:
    t = await make_tenant(ms_admin)
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        svc = await ok(
            await dev.post(f"/v1/tenants/{t.id}/model-services", json=builtin_body(t, fake_model_dir)), 201
        )
        base = f"/v1/tenants/{t.id}/model-services/{svc['id']}"
    async with client_for(ms_app, t.tokens["viewer"]) as viewer:
        got = await ok(await viewer.get(base))
        assert got["inference"]["api"] == "openai" and "builtin" in got["inference"]["mode"]
        listed = await ok(await viewer.get(f"/v1/tenants/{t.id}/model-services?engine=builtin"))
        assert [s["id"] for s in listed["items"]] == [svc["id"]]
        assert (await ok(await viewer.get(f"/v1/tenants/{t.id}/model-services?engine=vllm")))["items"] == []
        interface = await ok(await viewer.get(f"{base}/interface"))
        assert {e["path"] for e in interface["endpoints"]} >= {"/v1/chat/completions", "/v1/embeddings"}
        assert interface["request_examples"]["chat.completions"]["model"] == svc["name"]
        assert interface["versions"] == [
            {"service_id": svc["id"], "name": svc["name"], "version": "1", "state": "starting"}
        ]
        assert interface["instances"]["count"] == 1
        status = await ok(await viewer.get(f"{base}/status"))
        assert status["state"] == "starting"
        assert status["replicas"]["by_state"] == {"pending": 1}
        assert "requests" in status["calls"] and "stats_available" in status["calls"]
        events = await ok(await viewer.get(f"{base}/events"))
        assert {"created", "replica-created"} <= {e["kind"] for e in events["items"]}


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"engine": "tensorrt"}, 422, "engine"),
        ({"model_dir": None}, 422, "model_dir"),
        ({"model_dir": "/nonexistent/model"}, 422, "model_dir"),
        ({"model_dir": "relative/dir"}, 422, "model_dir"),
        ({"resources": {"cpu_milli": 0, "memory_mib": 256}}, 422, "cpu_milli"),
        ({"resources": {"cpu_milli": 500, "memory_mib": 256, "gpus": 1}}, 422, "gpus"),
        (
            {
                "resources": {
                    "cpu_milli": 500,
                    "memory_mib": 256,
                    "accelerators": {"count": 1, "types": ["NoSuchChip"]},
                }
            },
            422,
            "resources.accelerators",
        ),
        ({"replicas": 33}, 422, "replicas"),
        ({"engine_args": ["--port", "1"]}, 422, "engine_args"),
        ({"upstream": {"url": "http://x/v1", "model": "m"}}, 422, "upstream"),
        ({"engine": "openai", "model_dir": None}, 422, "upstream"),
        (
            {
                "engine": "openai",
                "model_dir": None,
                "upstream": {"url": "http://x/v1", "model": "m", "api_key": "k"},
            },
            422,
            "upstream.kms_key_id",
        ),
        ({"engine": "openai", "model_dir": None, "upstream": {"url": "ftp://x", "model": "m"}}, 422, "url"),
        (
            {
                "engine": "openai",
                "model_dir": None,
                "upstream": {"url": "http://x/v1", "model": "m", "protocol": "h3"},
            },
            422,
            "protocol",
        ),
        (
            {
                "engine": "openai",
                "model_dir": None,
                "upstream": {"url": "https://x/v1", "model": "m", "protocol": "h2c"},
            },
            422,
            "upstream",
        ),
        ({"project_id": "prj_" + "0" * 32}, 422, "project_id"),
        (
            {"autoscaling": {"metrics": [{"name": "cpu_utilization", "target": 0.5}], "min_replicas": 2}},
            422,
            "replicas",
        ),
    ],
    ids=lambda v: str(v)[:40],
)
async def test_create_rejects_bad_input_naming_the_field(
    ms_admin: httpx.AsyncClient,
    ms_app: FastAPI,
    fake_model_dir: Path,
    change: dict[str, Any],
    status: int,
    field: str,
) -> None:
    t = await make_tenant(ms_admin, roles=("developer",))
    body = builtin_body(t, fake_model_dir)
    body.update(change)
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        response = await dev.post(f"/v1/tenants/{t.id}/model-services", json=body)
        assert response.status_code == status, response.text
        assert any(field in f for f in fields_of(response)), response.text
        assert (await ok(await dev.get(f"/v1/tenants/{t.id}/model-services")))["total"] == 0
        assert await jobs_of(dev, t) == []


async def test_duplicate_name_is_a_conflict(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path
) -> None:
    t = await make_tenant(ms_admin, roles=("developer",))
    body = builtin_body(t, fake_model_dir, start=False)
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        await ok(await dev.post(f"/v1/tenants/{t.id}/model-services", json=body), 201)
        response = await dev.post(f"/v1/tenants/{t.id}/model-services", json=body)
    assert response.status_code == 409 and fields_of(response) == ["name"]


async def test_quota_is_charged_per_replica_and_refusal_stores_nothing(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path
) -> None:
    t = await make_tenant(ms_admin, roles=("developer",))
    await ok(await ms_admin.put(f"/v1/tenants/{t.id}/quota", json={"limits": {"cpu_millicores": 1000}}))
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        response = await dev.post(
            f"/v1/tenants/{t.id}/model-services", json=builtin_body(t, fake_model_dir, replicas=3)
        )
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "quota_exceeded"
        assert (await ok(await dev.get(f"/v1/tenants/{t.id}/model-services")))["total"] == 0
        svc = await ok(
            await dev.post(f"/v1/tenants/{t.id}/model-services", json=builtin_body(t, fake_model_dir)), 201
        )
        response = await dev.post(
            f"/v1/tenants/{t.id}/model-services/{svc['id']}/scale", json={"replicas": 3}
        )
        assert response.status_code == 409 and response.json()["error"] == "quota_exceeded"
        got = await ok(await dev.get(f"/v1/tenants/{t.id}/model-services/{svc['id']}"))
    assert got["replicas"]["desired"] == 1 and got["replicas"]["current"] == 1


async def test_scale_stop_start_delete_manage_the_jobs(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path
) -> None:
    t = await make_tenant(ms_admin, roles=("developer",))
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        svc = await ok(
            await dev.post(f"/v1/tenants/{t.id}/model-services", json=builtin_body(t, fake_model_dir)), 201
        )
        base = f"/v1/tenants/{t.id}/model-services/{svc['id']}"
        scaled = await ok(await dev.post(f"{base}/scale", json={"replicas": 3}))
        assert scaled["replicas"]["desired"] == 3 and scaled["replicas"]["current"] == 3
        assert len(await jobs_of(dev, t)) == 3
        scaled = await ok(await dev.post(f"{base}/scale", json={"replicas": 1}))
        assert scaled["replicas"]["current"] == 1
        replicas = await ok(await dev.get(f"{base}/replicas"))
        assert [r["ordinal"] for r in replicas] == [0]
        assert [j["id"] for j in await jobs_of(dev, t)] == [replicas[0]["job_id"]], "surplus jobs are deleted"

        stopped = await ok(await dev.post(f"{base}/stop"))
        assert stopped["state"] == "stopping" and not stopped["running"]
        assert stopped["replicas"]["current"] == 0 and await jobs_of(dev, t) == []
        started = await ok(await dev.post(f"{base}/start"))
        assert started["running"] and started["state"] == "starting"
        assert len(await jobs_of(dev, t)) == 1

        kinds = [e["kind"] for e in (await ok(await dev.get(f"{base}/events?limit=100")))["items"]]
        assert {"scaled", "stopped", "started", "replica-removed"} <= set(kinds)
        assert (await dev.delete(base)).status_code == 204
        assert (await dev.get(base)).status_code == 404
        assert await jobs_of(dev, t) == []
        # the name is free again at once
        await ok(
            await dev.post(
                f"/v1/tenants/{t.id}/model-services",
                json={**builtin_body(t, fake_model_dir), "name": svc["name"], "start": False},
            ),
            201,
        )


async def test_autoscaling_bounds_and_manual_scaling(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path
) -> None:
    t = await make_tenant(ms_admin, roles=("developer",))
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        svc = await ok(
            await dev.post(
                f"/v1/tenants/{t.id}/model-services", json=builtin_body(t, fake_model_dir, start=False)
            ),
            201,
        )
        base = f"/v1/tenants/{t.id}/model-services/{svc['id']}"
        policy = {
            "metrics": [
                {"name": "vllm:num_requests_waiting", "target": 4},
                {"name": "memory_utilization", "target": 0.8},
            ],
            "min_replicas": 2,
            "max_replicas": 5,
            "cooldown_s": 10,
        }
        got = await ok(await dev.put(f"{base}/autoscaling", json=policy))
        assert got["replicas"]["desired"] == 2, "moved into the bounds"
        assert got["autoscaling"]["metrics"][0] == {"name": "vllm:num_requests_waiting", "target": 4.0}
        assert got["replicas"]["current"] == 0, "a stopped service runs nothing"
        response = await dev.post(f"{base}/scale", json={"replicas": 7})
        assert response.status_code == 422 and fields_of(response) == ["replicas"]
        await ok(await dev.post(f"{base}/scale", json={"replicas": 4}))
        bad = await dev.put(f"{base}/autoscaling", json={**policy, "min_replicas": 6})
        assert bad.status_code == 422
        bad = await dev.put(
            f"{base}/autoscaling", json={**policy, "metrics": [{"name": "magic", "target": 1}]}
        )
        assert bad.status_code == 422 and "metrics" in bad.text
        off = await ok(await dev.put(f"{base}/autoscaling", json={**policy, "enabled": False}))
        assert off["autoscaling"]["enabled"] is False
        await ok(await dev.post(f"{base}/scale", json={"replicas": 7}))


async def test_upstream_key_is_sealed_by_the_kms_and_opened_for_the_directory(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI
) -> None:
    t = await make_tenant(ms_admin, roles=("tenant-admin", "developer"))
    secret = "sk-upstream-" + unique("k")
    async with client_for(ms_app, t.tokens["tenant-admin"]) as admin:
        key = await ok(await admin.post("/v1/kms/keys", json={"alias": unique("ms")}), 201)
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        svc = await ok(
            await dev.post(
                f"/v1/tenants/{t.id}/model-services",
                json={
                    "name": unique("ext"),
                    "project_id": t.project_id,
                    "engine": "openai",
                    "upstream": {
                        "url": "http://upstream.test/v1",
                        "model": "gpt-x",
                        "api_key": secret,
                        "kms_key_id": key["id"],
                    },
                    "start": False,
                },
            ),
            201,
        )
    assert svc["model"]["api_key_set"] is True and secret not in str(svc)
    assert svc["served_model_name"] == "gpt-x"
    async with ms_app.state.database.sessionmaker() as session:
        row = (await session.execute(select(ModelService).where(ModelService.id == svc["id"]))).scalar_one()
        assert row.upstream_api_key is not None and secret not in row.upstream_api_key
        opener = KmsSecretOpener(ms_app.state.kms)
        assert await opener.open(session, row) == secret
        mine = [s for s in await load_directory(session, secrets=opener) if s.service_id == svc["id"]]
        assert len(mine) == 1 and mine[0].engine == "openai" and mine[0].replicas == ()
        # a sealed key moved to another service does not open (bound to the service id)
        moved = ModelService(
            id="msv_" + "f" * 32, tenant_id=row.tenant_id, upstream_api_key=row.upstream_api_key
        )
        assert await KmsSecretOpener(ms_app.state.kms).open(session, moved) is None


async def test_model_roots_confine_local_model_directories(
    ms_admin: httpx.AsyncClient, ms_app: FastAPI, fake_model_dir: Path, tmp_path: Path
) -> None:
    t = await make_tenant(ms_admin, roles=("developer",))
    runtime = ms_app.state.modelservice
    original = runtime.options
    runtime.options = original.model_copy(update={"model_roots": [tmp_path / "models"]})
    try:
        async with client_for(ms_app, t.tokens["developer"]) as dev:
            outside = await dev.post(
                f"/v1/tenants/{t.id}/model-services", json=builtin_body(t, fake_model_dir, start=False)
            )
            assert outside.status_code == 422 and fields_of(outside) == ["model_dir"]
            inside = tmp_path / "models" / "tiny"
            inside.mkdir(parents=True)
            (inside / "config.json").write_text("{}")
            await ok(
                await dev.post(
                    f"/v1/tenants/{t.id}/model-services", json=builtin_body(t, inside, start=False)
                ),
                201,
            )
    finally:
        runtime.options = original
