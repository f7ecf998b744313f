"""The request-log API on both databases: filters, paging, one log, the chat-jsonl export, isolation."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import client_for
from tests.inference.gateway.requestlog.conftest import T0, make_sink, record
from tests.services.builders import TenantFixture, make_tenant, ok

MOBILE = "13912345678"


async def _seed(app: FastAPI, tenant: TenantFixture) -> None:
    """Eight requests of ``tenant``: two models, two services, failures, a completion and an embedding."""
    sink = make_sink(app)
    await sink.start()
    t = tenant.id
    sink.submit(record(t, 0, service_id="svc_a"))
    sink.submit(
        record(t, 1, service_id="svc_a", status_code=500, error_type="upstream_error", response_text=None)
    )
    sink.submit(record(t, 2, service_id="svc_a", status_code=200, error_type="stream_broken", stream=True))
    sink.submit(record(t, 3, service_id="svc_b", model="big-chat"))
    sink.submit(record(t, 4, service_id="svc_b", model="big-chat", status_code=429, error_type="rate_limit"))
    sink.submit(
        record(
            t,
            5,
            operation="completions",
            request_body={"model": "tiny-chat", "prompt": f"text me at {MOBILE}", "max_tokens": 8},
            response_text="ok",
        )
    )
    sink.submit(
        record(t, 6, operation="embeddings", request_body={"model": "emb", "input": "hi"}, response_text=None)
    )
    sink.submit(
        record(
            t,
            7,
            request_body={
                "model": "tiny-chat",
                "messages": [{"role": "user", "content": f"my phone {MOBILE}"}],
                "temperature": 0.3,
            },
            response_text=f"I will call {MOBILE}",
        )
    )
    await sink.aclose()


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["request_id"] for item in page["items"]]


async def test_list_filters_and_pages(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, admin = logs_app
    tenant = await make_tenant(admin, roles=("viewer",))
    await _seed(app, tenant)
    base = f"/v1/tenants/{tenant.id}/inference/request-logs"
    async with client_for(app, tenant.tokens["viewer"]) as viewer:
        everything = await ok(await viewer.get(base))
        assert everything["total"] == 8
        assert _ids(everything) == [f"req-{n}" for n in range(7, -1, -1)]  # newest first
        assert "request_body" not in everything["items"][0]

        async def ids(**params: str) -> list[str]:
            return _ids(await ok(await viewer.get(base, params=params)))

        assert await ids(status="failed") == ["req-4", "req-2", "req-1"]
        assert await ids(status="ok", service_id="svc_a") == ["req-0"]
        assert await ids(model="big-chat") == ["req-4", "req-3"]
        assert await ids(operation="embeddings") == ["req-6"]
        since, until = (T0 + timedelta(seconds=2)).isoformat(), (T0 + timedelta(seconds=4)).isoformat()
        assert await ids(since=since, until=until) == ["req-3", "req-2"]
        beijing = timezone(timedelta(hours=8))  # the same instants, another zone
        since_cn = (T0 + timedelta(seconds=2)).astimezone(beijing).isoformat()
        until_cn = (T0 + timedelta(seconds=4)).astimezone(beijing).isoformat()
        assert await ids(since=since_cn, until=until_cn) == ["req-3", "req-2"]
        page = await ok(await viewer.get(base, params={"limit": 3, "offset": 3}))
        assert (_ids(page), page["total"]) == (["req-4", "req-3", "req-2"], 8)
        bad = await viewer.get(base, params={"status": "broken"})
        assert bad.status_code == 422 and "status" in bad.text
        naive = await viewer.get(base, params={"since": "2026-11-01T12:00:00"})
        assert naive.status_code == 422 and "since" in naive.text


async def test_one_log_with_masked_bodies(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, admin = logs_app
    tenant = await make_tenant(admin, roles=("viewer",))
    await _seed(app, tenant)
    base = f"/v1/tenants/{tenant.id}/inference/request-logs"
    newest = (await ok(await admin.get(base, params={"limit": 1})))["items"][0]
    async with client_for(app, tenant.tokens["viewer"]) as viewer:
        detail = await ok(await viewer.get(f"{base}/{newest['id']}"))
    assert detail["request_body"]["messages"][0]["content"] == "my phone 139****5678"
    assert detail["response_text"] == "I will call 139****5678"
    assert MOBILE not in json.dumps(detail)
    missing = await admin.get(f"{base}/rlog_{'0' * 32}")
    assert missing.status_code == 404


async def test_export_chat_jsonl(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, admin = logs_app
    tenant = await make_tenant(admin, roles=("tenant-admin", "viewer"))
    await _seed(app, tenant)
    base = f"/v1/tenants/{tenant.id}/inference/request-logs"
    async with client_for(app, tenant.tokens["tenant-admin"]) as ta:
        response = await ta.post(f"{base}/export", json={"format": "chat-jsonl"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/x-ndjson")
        assert "attachment" in response.headers["content-disposition"]
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert [line["meta"]["request_id"] for line in lines] == [f"req-{n}" for n in (0, 1, 2, 3, 4, 5, 7)]
        assert MOBILE not in response.text
        assert lines[-1]["messages"] == [{"role": "user", "content": "my phone 139****5678"}]
        assert lines[-1]["response"] == "I will call 139****5678"
        assert lines[-1]["meta"]["params"] == {"model": "tiny-chat", "temperature": 0.3}
        assert lines[-1]["meta"]["masked"] is True and lines[-1]["meta"]["status"] == "ok"
        completion = lines[5]
        assert completion["messages"] == [{"role": "user", "content": "text me at 139****5678"}]
        assert completion["meta"]["operation"] == "completions"

        failed = await ta.post(f"{base}/export", json={"status": "failed", "limit": 2})
        failed_lines = [json.loads(line) for line in failed.text.splitlines()]
        assert [(x["meta"]["request_id"], x["meta"]["status"]) for x in failed_lines] == [
            ("req-1", "failed"),
            ("req-2", "failed"),
        ]
        assert (
            failed_lines[0]["meta"]["error_type"] == "upstream_error" and failed_lines[0]["response"] is None
        )

        embeddings = await ta.post(f"{base}/export", json={"operation": "embeddings"})
        assert embeddings.status_code == 400 and "operation" in embeddings.text
        bad_format = await ta.post(f"{base}/export", json={"format": "csv"})
        assert bad_format.status_code == 422 and "format" in bad_format.text
    async with client_for(app, tenant.tokens["viewer"]) as viewer:
        assert (await viewer.post(f"{base}/export", json={})).status_code == 403


async def test_other_tenants_see_nothing(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, admin = logs_app
    tenant = await make_tenant(admin, roles=("viewer",))
    other = await make_tenant(admin, roles=("tenant-admin",))
    await _seed(app, tenant)
    base = f"/v1/tenants/{tenant.id}/inference/request-logs"
    log_id = (await ok(await admin.get(base, params={"limit": 1})))["items"][0]["id"]
    async with client_for(app, other.tokens["tenant-admin"]) as outsider:
        assert (await outsider.get(base)).status_code == 404
        assert (await outsider.get(f"{base}/{log_id}")).status_code == 404
        assert (await outsider.post(f"{base}/export", json={})).status_code == 404
        # its own tenant's path does not reach the other tenant's log either
        own = f"/v1/tenants/{other.id}/inference/request-logs"
        assert (await outsider.get(f"{own}/{log_id}")).status_code == 404
        assert (await ok(await outsider.get(own)))["total"] == 0
