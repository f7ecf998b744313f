"""The autoscaling loop against the real API path: scale up and down on a replica's /metrics.

Uses the model-service app with every loop off (``ms_app``); the test marks the first replica
ready, serves its ``/metrics`` through ``httpx.MockTransport`` and drives :meth:`Autoscaler.tick`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from inference.autoscaler.loop import Autoscaler
from inference.autoscaler.metrics import MetricsCollector
from inference.modelservice.models import ModelReplica
from inference.modelservice.runtime import ModelServiceRuntime
from services.kernel.db import utcnow
from tests.conftest import client_for
from tests.services.builders import make_tenant, ok, unique


async def test_autoscaler_scales_up_and_down_on_the_waiting_queue(
    ms_app: FastAPI, ms_admin: httpx.AsyncClient, fake_model_dir: Path
) -> None:
    t = await make_tenant(ms_admin, roles=("developer",))
    async with client_for(ms_app, t.tokens["developer"]) as dev:
        body = {
            "name": unique("auto"),
            "project_id": t.project_id,
            "engine": "builtin",
            "model_dir": str(fake_model_dir),
            "resources": {"cpu_milli": 200, "memory_mib": 128},
            "autoscaling": {
                "metrics": [{"name": "vllm:num_requests_waiting", "target": 2}],
                "min_replicas": 1,
                "max_replicas": 3,
                "cooldown_s": 0,
                "scale_down_stabilization_s": 0,
                "interval_s": 5,
            },
        }
        svc = await ok(await dev.post(f"/v1/tenants/{t.id}/model-services", json=body), 201)
        base = f"/v1/tenants/{t.id}/model-services/{svc['id']}"
        async with ms_app.state.database.sessionmaker() as session:
            row = (
                await session.execute(select(ModelReplica).where(ModelReplica.service_id == svc["id"]))
            ).scalar_one()
            row.state = "ready"
            metrics_url = row.metrics_url
            await session.commit()
        queue = {"waiting": 6.0}

        def replica(request: httpx.Request) -> httpx.Response:
            if str(request.url) != metrics_url:
                return httpx.Response(404)
            return httpx.Response(
                200, text=f'vllm:num_requests_waiting{{model_name="m"}} {queue["waiting"]}\n'
            )

        runtime: ModelServiceRuntime = ms_app.state.modelservice
        async with httpx.AsyncClient(transport=httpx.MockTransport(replica)) as http:
            autoscaler = Autoscaler(
                database=ms_app.state.database,
                collector=MetricsCollector(http=http),
                options=runtime.options,
                system=runtime.system,
            )
            now = utcnow()
            [(_, up)] = [d for d in await autoscaler.tick(now) if d[0] == svc["id"]]
            assert (up.current, up.desired) == (1, 3), up
            got = await ok(await dev.get(base))
            assert got["replicas"]["desired"] == 3 and got["replicas"]["current"] == 3

            assert [
                d for d in await autoscaler.tick(now + timedelta(seconds=1)) if d[0] == svc["id"]
            ] == [], "evaluated again before interval_s"

            queue["waiting"] = 0.0
            [(_, down)] = [d for d in await autoscaler.tick(now + timedelta(seconds=6)) if d[0] == svc["id"]]
            assert (down.current, down.desired) == (3, 1), down
            got = await ok(await dev.get(base))
            assert got["replicas"]["desired"] == 1 and got["replicas"]["current"] == 1

        events = await ok(await dev.get(f"{base}/events?limit=100"))
        autoscaled = [e for e in events["items"] if e["kind"] == "autoscaled"]
        assert [(e["data"]["from"], e["data"]["to"]) for e in autoscaled] == [(3, 1), (1, 3)]
        assert autoscaled[1]["data"]["metrics"]["vllm:num_requests_waiting"]["average"] == 6.0
        jobs = await ok(await dev.get(f"/v1/tenants/{t.id}/jobs"))
        assert jobs["total"] == 1, "scale-down deleted the surplus replicas' jobs"
