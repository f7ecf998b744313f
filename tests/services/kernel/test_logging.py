import json
import logging

import httpx
import pytest
from fastapi import FastAPI

from services.kernel.logging import JSONFormatter, request_id_var


def test_json_formatter_emits_one_object_with_extras_and_request_id() -> None:
    record = logging.LogRecord("stic.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.tenant_id = "ten_1"
    token = request_id_var.set("req-1")
    try:
        line = JSONFormatter().format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "hello world"
    assert entry["level"] == "INFO"
    assert entry["request_id"] == "req-1"
    assert entry["tenant_id"] == "ten_1"


async def test_each_request_is_logged_with_route_status_and_principal(
    admin_client: httpx.AsyncClient, platform_app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stic.access")
    response = await admin_client.get("/v1/me")
    records = [
        r
        for r in caplog.records
        if r.name == "stic.access" and r.request_id == response.headers["x-request-id"]
    ]
    assert len(records) == 1
    record = records[0]
    assert (record.route, record.status) == ("/v1/me", 200)
    assert record.principal_id == response.json()["id"]
    entry = json.loads(JSONFormatter().format(record))
    assert entry["duration_ms"] >= 0
