"""The assessment service over HTTP: catalogue, runs in the background, reports in three formats."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from services.assessment.report.oscal import validate_oscal
from tests.conftest import client_for
from tests.services.builders import make_tenant, ok


async def _finished(client: httpx.AsyncClient, run_id: str) -> dict:
    for _ in range(3000):  # every probe runs against the platform: minutes on a loaded 2-core box
        run = await ok(await client.get(f"/v1/assessment/runs/{run_id}"))
        if run["status"] != "running":
            return run
        await asyncio.sleep(0.1)
    raise AssertionError("the assessment run did not finish within 300 s")


async def test_catalogue_lists_every_clause_and_row(admin_client: httpx.AsyncClient) -> None:
    catalogue = await ok(await admin_client.get("/v1/assessment/catalogue"))
    assert len(catalogue["clauses"]) == 279
    assert len(catalogue["performance_rows"]) == 46
    clause = next(c for c in catalogue["clauses"] if c["id"] == "6.4.4.a")
    assert clause["modality"] == "mandatory" and clause["text_zh"].startswith("应支持多层级")


async def test_self_assessment_run_probes_the_live_platform(admin_client: httpx.AsyncClient) -> None:
    """One full run (every probe against the live platform), its formats, and 409 while it runs."""
    started = await ok(await admin_client.post("/v1/assessment/runs", json={}), 202)
    assert started["status"] == "running" and started["report"] is None
    early = await admin_client.get(f"/v1/assessment/runs/{started['id']}", params={"format": "html"})
    assert early.status_code == 409 and "running" in early.json()["message"]
    run = await _finished(admin_client, started["id"])
    assert run["status"] == "finished", run["error"]
    report = run["report"]
    result = next(r for r in report["results"] if r["id"] == "6.4.4.a")
    assert result["status"] == "verified"
    assert any(e["kind"] == "http" for e in result["evidence"])
    assert report["level_strict"] == run["level_strict"]

    html = await admin_client.get(f"/v1/assessment/runs/{run['id']}", params={"format": "html"})
    assert html.headers["content-type"].startswith("text/html") and "6.4.4.a" in html.text
    oscal = await ok(await admin_client.get(f"/v1/assessment/runs/{run['id']}", params={"format": "oscal"}))
    assert validate_oscal({"assessment-results": oscal["assessment-results"]}) == []
    listed = await ok(await admin_client.get("/v1/assessment/runs"))
    assert run["id"] in [item["id"] for item in listed["items"]]
    missing = await admin_client.get("/v1/assessment/runs/asr_" + "0" * 32)
    assert missing.status_code == 404


async def test_runs_are_for_platform_admins_only(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    tenant = await make_tenant(admin_client, roles=("tenant-admin",))
    async with client_for(platform_app, tenant.tokens["tenant-admin"]) as tenant_admin:
        assert (await tenant_admin.post("/v1/assessment/runs", json={})).status_code == 403
        assert (await tenant_admin.get("/v1/assessment/catalogue")).status_code == 200


async def test_a_run_interrupted_by_a_restart_is_marked_failed(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    from services.assessment.service import fail_interrupted_runs

    started = await ok(await admin_client.post("/v1/assessment/runs", json={}), 202)
    for task in list(platform_app.state.assessment_tasks):
        task.cancel()
    await asyncio.sleep(0)
    await fail_interrupted_runs(platform_app)  # what the next start-up does
    run = await ok(await admin_client.get(f"/v1/assessment/runs/{started['id']}"))
    assert run["status"] == "failed" and "restarted" in run["error"]


async def test_shutdown_waits_for_a_cancelled_run_to_unwind(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    """A run in flight at shutdown is cancelled and has finished unwinding before the database closes."""
    from services.assessment.service import cancel_running

    await ok(await admin_client.post("/v1/assessment/runs", json={}), 202)
    tasks = list(platform_app.state.assessment_tasks)
    assert tasks and not any(task.done() for task in tasks)
    await asyncio.sleep(0.5)  # let the probes get going (requests and sessions in flight)
    await cancel_running(platform_app)
    assert all(task.done() for task in tasks)
