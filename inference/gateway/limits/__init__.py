"""Per-API-key admission control for the gateway: requests per minute, tokens per minute, concurrency.

``MemoryRateLimiter`` holds the counters in one gateway process; ``RedisRateLimiter`` keeps them
in Redis (atomic Lua scripts) so several gateway replicas share one budget. Both implement the
semantics in :mod:`inference.gateway.limits.types`. Limits live in the database per key with a
per-tenant default (:func:`limits_for`, cached by :class:`LimitsCache`) and are managed through
``router`` (``/v1/tenants/{tenant_id}/inference/rate-limits``).

The gateway's use::

    limits = await cache.get(tenant_id=principal.tenant_id, key_id=principal.key_id)
    estimate = estimate_tokens(body, operation="chat.completions")
    lease = await limiter.acquire(key_id=principal.key_id, limits=limits, estimated_tokens=estimate)
    try:
        ...  # forward; count usage
    finally:
        await lease.release(used_tokens=prompt_tokens + completion_tokens)
"""

from inference.gateway.limits.estimate import estimate_tokens
from inference.gateway.limits.hooks import limiter_for, start_limits, stop_limits
from inference.gateway.limits.memory import MemoryRateLimiter
from inference.gateway.limits.models import InferenceRateLimit
from inference.gateway.limits.redis_backend import RedisRateLimiter
from inference.gateway.limits.router import router
from inference.gateway.limits.store import LimitsCache, limits_for
from inference.gateway.limits.types import (
    UNLIMITED,
    WINDOW_S,
    KeyLimits,
    Lease,
    RateLimiter,
    RateLimiterUnavailable,
    RateLimitExceeded,
)

__all__ = [
    "UNLIMITED",
    "WINDOW_S",
    "InferenceRateLimit",
    "KeyLimits",
    "Lease",
    "LimitsCache",
    "MemoryRateLimiter",
    "RateLimitExceeded",
    "RateLimiter",
    "RateLimiterUnavailable",
    "RedisRateLimiter",
    "estimate_tokens",
    "limiter_for",
    "limits_for",
    "router",
    "start_limits",
    "stop_limits",
]
