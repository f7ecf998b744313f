"""Fixtures of the request-log tests: an app serving the request-log API and a sink on its database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from inference.gateway.requestlog import RequestLogSink, RequestRecord
from inference.gateway.requestlog import router as requestlog_router
from services.iam.app import module as iam_module
from services.kernel.app import ServiceModule, create_service_app
from tests.conftest import TEST_SECRET, PlatformDB, client_for, platform_settings

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def requestlog_app(platform_db: PlatformDB) -> FastAPI:
    """IAM (tenants, keys) plus the request-log routes, on the test database."""
    module = ServiceModule(name="inference-logs", title="Inference request logs", routers=[requestlog_router])
    return create_service_app(modules=[iam_module, module], settings=platform_settings(platform_db))


@pytest.fixture
async def logs_app(platform_db: PlatformDB) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app above, started, and a client authenticated as the platform administrator."""
    app = requestlog_app(platform_db)
    async with app.router.lifespan_context(app), client_for(app, platform_db.admin_token) as admin:
        yield app, admin


def make_sink(app: FastAPI, **options: Any) -> RequestLogSink:
    """A sink writing to the app's database with the test deployment's secret."""
    return RequestLogSink(app.state.database.engine, secret_key=TEST_SECRET, **options)


def record(tenant_id: str, n: int = 0, **fields: Any) -> RequestRecord:
    """A chat request of ``tenant_id`` at ``T0 + n`` seconds; ``fields`` override any attribute."""
    values: dict[str, Any] = {
        "request_id": f"req-{n}",
        "tenant_id": tenant_id,
        "principal_id": "usr_" + "1" * 32,
        "key_id": "key_" + "1" * 32,
        "model": "tiny-chat",
        "operation": "chat.completions",
        "status_code": 200,
        "latency_ms": 10.0,
        "request_body": {"model": "tiny-chat", "messages": [{"role": "user", "content": f"question {n}"}]},
        "response_text": f"answer {n}",
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "created_at": T0 + timedelta(seconds=n),
    }
    values.update(fields)
    return RequestRecord(**values)
