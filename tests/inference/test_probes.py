"""The inference probes pass on the real platform and fail when the capability is broken.

The platform tenant gets what ``stic up --demo`` gives it: a builtin service naming the tiny
model (created stopped: only its model directory is needed) and a service with a ready replica
(an ``openai``-engine service in front of the session's builtin replica).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

import inference.probes
from inference.batches.options import BatchOptions
from inference.engines.base import Replica
from inference.probes import (
    EncryptedInferenceProbe,
    ModelChainProbe,
    ModelServiceProbe,
    RequestLogProbe,
    TrafficSplitProbe,
)
from scheduler.service.app import seed_demo_inventory
from services.assessment.probes.base import ProbeContext, ProbeFailure, ProbeResult
from services.assessment.status import Status
from tests.conftest import TEST_KMS_ROOT_KEY, PlatformDB, client_for, platform_settings
from tests.services.builders import ok
from tests.services.faults import FaultInjector, RewriteJSON, RewriteStatus

FAST_PROBES = [TrafficSplitProbe(), ModelChainProbe(), EncryptedInferenceProbe(), RequestLogProbe()]

BREAKAGES = {
    # every request goes to the stable variant: the per-variant counts cannot be 3 and 3
    "inference.traffic-split": RewriteJSON(
        "GET", r"/v1/tenants/[^/]+/inference/routes/[^/]+/stats", lambda d: {**d, "variants": {}}
    ),
    # the chain answers without its steps
    "inference.model-chain": RewriteJSON(
        "POST", r"/v1/chat/completions", lambda d: {k: v for k, v in d.items() if k != "stic"}
    ),
    # the gateway accepts a replayed envelope
    "inference.encrypted": RewriteStatus("POST", r"/v1/chat/completions", 409, 200),
    # failed cases cannot be filtered
    "inference.request-logs": RewriteJSON(
        "GET", r"/v1/tenants/[^/]+/inference/request-logs", lambda d: {**d, "total": 0, "items": []}
    ),
    # a suspended replica makes requests fail (no failover)
    "inference.model-service": RewriteStatus("POST", r"/v1/chat/completions", 200, 502),
}


async def _run(probe: object, app: object, token: str) -> ProbeResult:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://stic.test", timeout=120
    ) as client:
        return await probe.run(ProbeContext(client=client, admin_key=token))  # type: ignore[attr-defined]


@pytest.fixture
async def probe_platform(isolated_db: PlatformDB) -> AsyncIterator[FastAPI]:
    """The all-in-one app on a database of this module alone (the probes start real replicas)."""
    from services.allinone import create_app
    from services.kms.app import KmsSettings

    app = create_app(platform_settings(isolated_db))
    app.state.kms_settings = KmsSettings(root_key=TEST_KMS_ROOT_KEY)
    app.state.batch_options = BatchOptions(enabled=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def demo_platform(
    probe_platform: FastAPI, isolated_db: PlatformDB, builtin_replica: Replica, tiny_model_dir: object
) -> AsyncIterator[FastAPI]:
    """The platform tenant holds a model directory and a ready upstream, as after ``stic up --demo``."""
    async with client_for(probe_platform, isolated_db.admin_token) as admin_client:
        yield await _seed_platform_tenant(probe_platform, admin_client, builtin_replica, tiny_model_dir)


async def _seed_platform_tenant(
    platform_app: FastAPI, admin_client: httpx.AsyncClient, builtin_replica: Replica, tiny_model_dir: object
) -> FastAPI:
    me = await ok(await admin_client.get("/v1/me"))
    tenant_id = me.get("tenant_id") or me["tenant"]["id"]
    listed = await ok(
        await admin_client.get(f"/v1/tenants/{tenant_id}/model-services", params={"limit": 200})
    )
    if not any(s["name"] == "probe-source" for s in listed["items"]):
        projects = await ok(await admin_client.get(f"/v1/tenants/{tenant_id}/projects"))
        if projects["items"]:
            project_id = projects["items"][0]["id"]
        else:
            dep = await ok(
                await admin_client.post(f"/v1/tenants/{tenant_id}/departments", json={"name": "demo"}), 201
            )
            project_id = (
                await ok(
                    await admin_client.post(
                        f"/v1/tenants/{tenant_id}/projects", json={"name": "demo", "department_id": dep["id"]}
                    ),
                    201,
                )
            )["id"]
        base = f"/v1/tenants/{tenant_id}/model-services"
        await ok(
            await admin_client.post(
                base,
                json={
                    "name": "probe-source",
                    "project_id": project_id,
                    "engine": "builtin",
                    "model_dir": str(tiny_model_dir),
                    "start": False,
                },
            ),
            201,
        )
        await ok(
            await admin_client.post(
                base,
                json={
                    "name": "probe-upstream",
                    "project_id": project_id,
                    "engine": "openai",
                    "upstream": {"url": builtin_replica.api_base, "model": "tiny-test"},
                },
            ),
            201,
        )
    for _ in range(200):
        listed = await ok(
            await admin_client.get(f"/v1/tenants/{tenant_id}/model-services", params={"limit": 200})
        )
        upstream = next(s for s in listed["items"] if s["name"] == "probe-upstream")
        replicas = await ok(
            await admin_client.get(f"/v1/tenants/{tenant_id}/model-services/{upstream['id']}/replicas")
        )
        if any(r["state"] == "ready" for r in replicas):
            return platform_app
        await asyncio.sleep(0.2)
    raise AssertionError("the probe upstream never became ready")


@pytest.mark.parametrize("probe", FAST_PROBES, ids=lambda p: p.name)
async def test_probe_verifies_the_real_platform(
    probe, demo_platform: FastAPI, isolated_db: PlatformDB
) -> None:
    result = await _run(probe, demo_platform, isolated_db.admin_token)
    assert result.status is Status.VERIFIED, result.message


@pytest.mark.parametrize("isolated_db", ["sqlite"], indirect=True)  # the breakage is not in the DB
@pytest.mark.parametrize("probe", FAST_PROBES, ids=lambda p: p.name)
async def test_probe_fails_when_the_capability_is_broken(
    probe, demo_platform: FastAPI, isolated_db: PlatformDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inference.probes, "LOG_TIMEOUT_S", 5.0)  # logs hidden by the breakage never show
    with pytest.raises(ProbeFailure):
        await _run(probe, FaultInjector(demo_platform, BREAKAGES[probe.name]), isolated_db.admin_token)


@pytest.mark.parametrize("isolated_db", ["sqlite"], indirect=True)  # real replicas: once is enough
async def test_model_service_probe_runs_real_replicas(
    demo_platform: FastAPI, isolated_db: PlatformDB
) -> None:
    # a mixed inventory, as after `stic up --demo`: simulated nodes beside the real local node; the
    # probe's replicas select the real node, so the verdict is verified and not merely simulated
    await seed_demo_inventory(demo_platform)
    probe = ModelServiceProbe()
    result = await _run(probe, demo_platform, isolated_db.admin_token)
    assert result.status is Status.VERIFIED, result.message
    notes = [e for e in result.evidence if e.kind == "note"]
    assert any("failover" in json.dumps(e.details) or "failover" in str(e) for e in notes)
    placement = json.dumps([str(e) for e in notes])
    assert "stic.io/simulated" in placement, placement
    async with client_for(demo_platform, isolated_db.admin_token) as admin:
        nodes = (await ok(await admin.get("/v1/nodes", params={"limit": 500})))["items"]
    real = [n["name"] for n in nodes if not n["simulated"]]
    assert len(real) == 1 and any(n["simulated"] for n in nodes)
    assert f"on {real!r}" in result.message, result.message
    with pytest.raises(ProbeFailure):
        await _run(probe, FaultInjector(demo_platform, BREAKAGES[probe.name]), isolated_db.admin_token)
