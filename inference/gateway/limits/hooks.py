"""Start-up and shutdown hooks that put a limiter and a limits cache on the gateway app.

``app.state.inference_limiter`` is a :class:`RedisRateLimiter` when ``Settings.redis_url`` is set
(several gateway replicas then share the counters), else a :class:`MemoryRateLimiter`;
``app.state.inference_limits_cache`` is the :class:`LimitsCache` the router clears on changes.
"""

from __future__ import annotations

from fastapi import FastAPI

from inference.gateway.limits.memory import MemoryRateLimiter
from inference.gateway.limits.redis_backend import RedisRateLimiter
from inference.gateway.limits.store import LimitsCache
from inference.gateway.limits.types import RateLimiter
from services.kernel.settings import Settings


def limiter_for(settings: Settings) -> RateLimiter:
    """Redis-backed when ``settings.redis_url`` is set, else in this process."""
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url)
    return MemoryRateLimiter()


async def start_limits(app: FastAPI) -> None:
    """Create ``app.state.inference_limiter`` and ``app.state.inference_limits_cache``."""
    app.state.inference_limiter = limiter_for(app.state.settings)
    app.state.inference_limits_cache = LimitsCache(app.state.database.sessionmaker)


async def stop_limits(app: FastAPI) -> None:
    """Close the Redis connections, if any."""
    limiter = getattr(app.state, "inference_limiter", None)
    if isinstance(limiter, RedisRateLimiter):
        await limiter.aclose()
