"""Fixtures of the rate-limit tests: a fake clock, Redis clients, and an app serving the limits API.

Redis tests need the ``redis`` package and a server at ``STIC_TEST_REDIS_URL``
(127.0.0.1:6379 by default); without them they skip, except under ``CI=true`` where they fail.
Every test works under its own key prefix and deletes its keys afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from inference.gateway.limits import router as limits_router
from services.iam.app import module as iam_module
from services.kernel.app import ServiceModule, create_service_app
from tests.conftest import PlatformDB, client_for, platform_settings

REDIS_URL = os.environ.get("STIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class FakeClock:
    """Seconds that only move when a test says so."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def redis_unavailable(reason: str) -> None:
    """Fail under CI (a Redis test must never silently skip there), skip otherwise."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Redis is required under CI=true: {reason}")
    pytest.skip(f"Redis not usable: {reason}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture
async def redis_factory() -> AsyncIterator[Callable[[], Any]]:
    """Makes connected ``redis.asyncio.Redis`` clients; closes them after the test."""
    try:
        from redis.asyncio import Redis
    except ImportError as exc:
        redis_unavailable(f"the redis package is not installed ({exc})")
    clients: list[Any] = []

    def make() -> Any:
        client = Redis.from_url(REDIS_URL)
        clients.append(client)
        return client

    try:
        await make().ping()
    except Exception as exc:
        redis_unavailable(f"{REDIS_URL}: {exc}")
    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def redis_prefix(redis_factory: Callable[[], Any]) -> AsyncIterator[str]:
    """A key prefix of this test; its keys are deleted afterwards."""
    prefix = f"stic-test:rl:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis_factory()
    keys = await client.keys(f"{prefix}:*")
    if keys:
        await client.delete(*keys)


def limits_app(platform_db: PlatformDB) -> FastAPI:
    """IAM (to make tenants and keys) plus the rate-limit routes, on the test database."""
    module = ServiceModule(name="inference-limits", title="Inference rate limits", routers=[limits_router])
    return create_service_app(modules=[iam_module, module], settings=platform_settings(platform_db))


@pytest.fixture
async def limits_client(platform_db: PlatformDB) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app above, started, and a client authenticated as the platform administrator."""
    app = limits_app(platform_db)
    async with app.router.lifespan_context(app), client_for(app, platform_db.admin_token) as admin:
        yield app, admin
