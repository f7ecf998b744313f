"""Cross-cutting behaviour of every app: health, readiness, index, metrics, errors, limits."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.kernel.db import Database
from services.kernel.settings import Settings
from tests.conftest import TEST_SECRET, client_for
from tests.services.builders import ok, unique


async def test_healthz_and_readyz(platform_app: FastAPI) -> None:
    async with client_for(platform_app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"


async def test_readyz_reports_an_unreachable_database(platform_app: FastAPI) -> None:
    healthy = platform_app.state.database
    platform_app.state.database = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        async with client_for(platform_app) as client:
            response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
    finally:
        await platform_app.state.database.dispose()
        platform_app.state.database = healthy


async def test_index_page_names_services_and_links_docs(platform_app: FastAPI) -> None:
    async with client_for(platform_app) as client:
        page = await client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    for text in ("Identity and tenancy", "Resource quotas", "/docs", "/metrics"):
        assert text in page.text


async def test_metrics_count_requests_by_route_template(admin_client: httpx.AsyncClient) -> None:
    await admin_client.get("/v1/me")
    metrics = (await admin_client.get("/metrics")).text
    assert 'route="/v1/me"' in metrics
    assert "stic_http_request_duration_seconds_bucket" in metrics


async def test_request_id_is_echoed_or_generated(admin_client: httpx.AsyncClient) -> None:
    echoed = await admin_client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert echoed.headers["x-request-id"] == "abc123"
    generated = await admin_client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_errors_share_one_json_shape(admin_client: httpx.AsyncClient) -> None:
    cases = [
        (await admin_client.get("/v1/nowhere"), 404, "not_found"),
        (await admin_client.delete("/v1/me"), 405, "method_not_allowed"),
        (
            await admin_client.post(
                "/v1/tenants", content=b"{not json", headers={"content-type": "application/json"}
            ),
            422,
            "validation_error",
        ),
        (await admin_client.post("/v1/tenants", json={"name": "UPPER"}), 422, "validation_error"),
        (await admin_client.get("/v1/tenants/not-an-id"), 422, "validation_error"),
        (await admin_client.get("/v1/me", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert body["error"] == code
        assert body["message"]
        assert body["request_id"] == response.headers["x-request-id"]


async def test_validation_errors_name_the_field(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post("/v1/tenants", json={"name": "ok-name", "unexpected": 1})
    assert response.status_code == 422
    assert "body.unexpected" in response.json()["message"]


async def test_oversize_bodies_are_rejected_with_413(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    limit = platform_app.state.settings.max_body_bytes
    payload = b'{"name": "' + b"a" * (limit + 10) + b'"}'
    response = await admin_client.post(
        "/v1/tenants", content=payload, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"]["limit_bytes"] == limit


async def test_oversize_chunked_bodies_are_rejected_with_413(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    limit = platform_app.state.settings.max_body_bytes

    async def chunks():
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = await admin_client.post(
        "/v1/tenants", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_every_mutating_request_is_audited(admin_client: httpx.AsyncClient) -> None:
    name = unique("audited")
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    await ok(await admin_client.post("/v1/tenants", json={"name": name}), 201)
    denied = await admin_client.post("/v1/tenants", json={"name": name})
    assert denied.status_code == 409
    read = await admin_client.get("/v1/me")
    me = read.json()
    events = await ok(
        await admin_client.get(
            "/v1/audit/events", params={"all_tenants": "true", "limit": 1000, "since": since}
        )
    )
    by_request = {}
    for entry in events["items"]:
        event = entry["document"].get("event", entry["document"])
        by_request[event.get("request_id")] = event
    event = by_request[denied.headers["x-request-id"]]
    assert (event["action"], event["resource"], event["result"]) == ("POST /v1/tenants", "/v1/tenants", 409)
    assert (event["principal_id"], event["tenant_id"]) == (me["id"], me["tenant_id"])
    assert event["time"]
    assert read.headers["x-request-id"] not in by_request, "reads are not audited as mutations"


async def test_upload_routes_take_the_upload_limit_and_no_more() -> None:
    from starlette.types import Receive, Scope, Send

    from services.kernel.middleware import PlatformMiddleware

    async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})

    app = PlatformMiddleware(
        echo_length,
        service="test",
        max_body_bytes=1024,
        audit_sink=None,
        upload_routes=[("POST", r"/v1/files"), ("POST", r"/v1/batches/[^/]+/results")],
        max_upload_bytes=4096,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.post("/v1/files", content=b"a" * 3000)).text == "3000"
        assert (await client.post("/v1/batches/b1/results", content=b"a" * 3000)).text == "3000"
        too_big = await client.post("/v1/files", content=b"a" * 5000)
        assert too_big.status_code == 413 and too_big.json()["detail"]["limit_bytes"] == 4096
        elsewhere = await client.post("/v1/files/extra", content=b"a" * 3000)
        assert elsewhere.status_code == 413 and elsewhere.json()["detail"]["limit_bytes"] == 1024
        wrong_method = await client.put("/v1/files", content=b"a" * 3000)
        assert wrong_method.status_code == 413

        async def chunks():
            for _ in range(5):
                yield b"a" * 1000

        streamed = await client.post("/v1/files", content=chunks())
        assert streamed.status_code == 413 and streamed.json()["detail"]["limit_bytes"] == 4096


@pytest.mark.parametrize("enabled", [False, True])
async def test_the_opentelemetry_setting_switches_fastapi_native_telemetry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    from opentelemetry import trace

    from services.allinone import create_app

    lookups: list[int] = []
    real_lookup = trace.get_tracer_provider

    def counted_lookup() -> trace.TracerProvider:
        lookups.append(1)
        return real_lookup()

    monkeypatch.setattr(trace, "get_tracer_provider", counted_lookup)
    settings = Settings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'stic.db'}",
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        run_migrations=False,
        opentelemetry=enabled,
    )
    app = create_app(settings)
    try:
        async with client_for(app) as client:
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await app.state.database.dispose()
    # off: FastAPI does not even look for a tracer provider on a request; on: it does
    assert bool(lookups) is enabled
