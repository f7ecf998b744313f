"""The gateway's start-up hooks pick the limiter from the settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inference.gateway.limits import (
    KeyLimits,
    LimitsCache,
    MemoryRateLimiter,
    RedisRateLimiter,
    limiter_for,
    router,
    start_limits,
    stop_limits,
)
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.settings import Settings
from tests.conftest import PlatformDB, platform_settings
from tests.inference.gateway.limits.conftest import REDIS_URL


def test_memory_limiter_without_redis() -> None:
    assert isinstance(limiter_for(Settings(redis_url=None)), MemoryRateLimiter)


async def test_redis_limiter_when_configured(redis_factory: Callable[[], Any]) -> None:
    limiter = limiter_for(Settings(redis_url=REDIS_URL))
    assert isinstance(limiter, RedisRateLimiter)
    lease = await limiter.acquire(
        key_id="hooks-test-key", limits=KeyLimits(max_concurrency=5), estimated_tokens=0
    )
    await lease.release(used_tokens=0)
    await limiter.aclose()


async def test_hooks_put_the_limiter_and_cache_on_the_app(platform_db: PlatformDB) -> None:
    module = ServiceModule(
        name="gw", title="gw", routers=[router], on_startup=[start_limits], on_shutdown=[stop_limits]
    )
    app = create_service_app(modules=[module], settings=platform_settings(platform_db, redis_url=None))
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.inference_limiter, MemoryRateLimiter)
        assert isinstance(app.state.inference_limits_cache, LimitsCache)
        assert await app.state.inference_limits_cache.get(tenant_id="ten_x", key_id="key_x") == KeyLimits()
