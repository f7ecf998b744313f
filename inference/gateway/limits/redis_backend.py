"""Redis-backed rate limiter: the semantics of :mod:`inference.gateway.limits.types`, shared by replicas.

Each check-and-admit and each release is one Lua script, so it is atomic on the Redis server
and every gateway replica sees the same counters. Per key (``{key}`` is a hash tag, so a key's
six structures live in one Redis Cluster slot):

======================== ==================================================================
``<p>:{k}:req``          sorted set: lease id → admission time (RPM sliding-window log)
``<p>:{k}:done``         sorted set: ``<lease id>:<tokens>`` → release time (TPM usage)
``<p>:{k}:done_sum``     integer: tokens in ``done``
``<p>:{k}:live``         sorted set: lease id → expiry (leases in flight: concurrency)
``<p>:{k}:live_tok``     hash: lease id → reserved tokens
``<p>:{k}:live_sum``     integer: tokens reserved by leases in flight
======================== ==================================================================

Time comes from the Redis server (``TIME``) so replicas with skewed clocks agree; tests pass a
``clock`` instead. Every structure expires after the window plus the lease TTL of inactivity.
When Redis does not answer, ``acquire`` raises :class:`~.types.RateLimiterUnavailable`, or admits
the request unchecked when ``fail_open`` is set (counted in ``stic_inference_ratelimit_fail_open_total``);
a failed release is logged and left to the lease TTL.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

from prometheus_client import Counter

from inference.gateway.limits.types import (
    DEFAULT_LEASE_TTL_S,
    IN_FLIGHT_RETRY_S,
    NOOP_LEASE,
    WINDOW_S,
    KeyLimits,
    Lease,
    LimitName,
    RateLimiterUnavailable,
    refusal,
)

log = logging.getLogger("stic.inference.limits")

FAIL_OPEN = Counter(
    "stic_inference_ratelimit_fail_open_total",
    "Requests admitted without a rate-limit check because Redis did not answer (fail_open).",
)

# Shared prologue: the clock (ARGV[1], or the server's TIME when empty).
_NOW = """
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

ACQUIRE_LUA = (
    _NOW
    + """
local window = tonumber(ARGV[2])
local rpm = tonumber(ARGV[3])
local tpm = tonumber(ARGV[4])
local maxc = tonumber(ARGV[5])
local reserve = tonumber(ARGV[6])
local lease = ARGV[7]
local ttl = tonumber(ARGV[8])
local live_retry = ARGV[9]
local expire_ms = ARGV[10]
local horizon = now - window

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', horizon)
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', horizon)
if #gone > 0 then
  local freed = 0
  for _, member in ipairs(gone) do freed = freed + tonumber(string.match(member, ':(%d+)$')) end
  redis.call('DECRBY', KEYS[3], freed)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', horizon)
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
if #expired > 0 then
  local held = 0
  for _, id in ipairs(expired) do
    held = held + tonumber(redis.call('HGET', KEYS[5], id) or '0')
    redis.call('HDEL', KEYS[5], id)
  end
  redis.call('DECRBY', KEYS[6], held)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
end

if maxc >= 0 and redis.call('ZCARD', KEYS[4]) >= maxc then
  return {0, 'concurrency', live_retry}
end
if rpm >= 0 then
  local count = redis.call('ZCARD', KEYS[1])
  if count >= rpm then
    local entry = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
    return {0, 'rpm', tostring(tonumber(entry[2]) + window - now)}
  end
end
if tpm >= 0 then
  if reserve > tpm then return {0, 'tpm', tostring(window)} end
  local used = tonumber(redis.call('GET', KEYS[3]) or '0') + tonumber(redis.call('GET', KEYS[6]) or '0')
  local excess = used + reserve - tpm
  if excess > 0 then
    local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    local freed = 0
    for i = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
      if freed >= excess then return {0, 'tpm', tostring(tonumber(entries[i + 1]) + window - now)} end
    end
    return {0, 'tpm', live_retry}
  end
end

if rpm >= 0 then redis.call('ZADD', KEYS[1], now, lease) end
if tpm >= 0 or maxc >= 0 then
  local reserved = 0
  if tpm >= 0 then reserved = reserve end
  redis.call('ZADD', KEYS[4], now + ttl, lease)
  redis.call('HSET', KEYS[5], lease, reserved)
  redis.call('INCRBY', KEYS[6], reserved)
end
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], expire_ms) end
return {1, '', '0'}
"""
)

RELEASE_LUA = (
    _NOW
    + """
local lease = ARGV[2]
local used = tonumber(ARGV[3])
local expire_ms = ARGV[5]
if redis.call('ZREM', KEYS[4], lease) == 1 then
  local held = tonumber(redis.call('HGET', KEYS[5], lease) or '0')
  redis.call('HDEL', KEYS[5], lease)
  redis.call('DECRBY', KEYS[6], held)
end
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[2], now, lease .. ':' .. used)
  redis.call('INCRBY', KEYS[3], used)
  redis.call('PEXPIRE', KEYS[2], expire_ms)
  redis.call('PEXPIRE', KEYS[3], expire_ms)
end
return 1
"""
)

_SHA = {script: hashlib.sha1(script.encode()).hexdigest() for script in (ACQUIRE_LUA, RELEASE_LUA)}  # noqa: S324 - Redis script id


class ScriptClient(Protocol):
    """The part of ``redis.asyncio.Redis`` the limiter uses."""

    async def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any:
        """Run a Lua script."""
        ...

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        """Run a Lua script the server has cached; fails with ``NOSCRIPT`` when it has not."""
        ...

    async def aclose(self) -> None:
        """Close the connections."""
        ...


def key_names(prefix: str, key_id: str) -> list[str]:
    """The six Redis keys of one API key, in the order the scripts take them."""
    base = f"{prefix}:{{{key_id}}}"
    return [f"{base}:{part}" for part in ("req", "done", "done_sum", "live", "live_tok", "live_sum")]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLease:
    """A lease of :class:`RedisRateLimiter`."""

    __slots__ = ("_key_id", "_lease_id", "_limiter", "_released", "_track_tokens")

    def __init__(self, limiter: RedisRateLimiter, key_id: str, lease_id: str, *, track_tokens: bool) -> None:
        self._limiter = limiter
        self._key_id = key_id
        self._lease_id = lease_id
        self._track_tokens = track_tokens
        self._released = False

    async def release(self, *, used_tokens: int) -> None:
        """Free the slot and record ``used_tokens``; idempotent; a Redis failure is only logged."""
        if self._released:
            return
        self._released = True
        await self._limiter._release(self._key_id, self._lease_id, max(0, used_tokens), self._track_tokens)


class RedisRateLimiter:
    """Per-key limits shared by every gateway replica through Redis at ``url``.

    ``client`` replaces the connection built from ``url`` (anything with ``redis.asyncio``'s
    ``eval``); ``clock`` replaces the Redis server's time (tests); ``prefix`` namespaces the keys.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: ScriptClient | None = None,
        prefix: str = "stic:rl",
        clock: Callable[[], float] | None = None,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
        fail_open: bool = False,
    ) -> None:
        if lease_ttl_s <= 0:
            raise ValueError("lease_ttl_s must be positive")
        if client is None:
            if url is None:
                raise ValueError("RedisRateLimiter needs a url or a client")
            from redis.asyncio import Redis

            client = cast(ScriptClient, Redis.from_url(url))
        self._client: ScriptClient = client
        self._prefix = prefix
        self._clock = clock
        self._lease_ttl_s = lease_ttl_s
        self._fail_open = fail_open
        self._expire_ms = str(int((WINDOW_S + lease_ttl_s) * 1000) + 1000)

    def _now(self) -> str:
        return "" if self._clock is None else repr(float(self._clock()))

    async def acquire(self, *, key_id: str, limits: KeyLimits, estimated_tokens: int) -> Lease:
        """Admit one request for ``key_id`` or raise :class:`~.types.RateLimitExceeded`."""
        if limits.unlimited:
            return NOOP_LEASE
        reserve = max(0, estimated_tokens)
        lease_id = os.urandom(12).hex()  # unique across replicas
        args = [
            self._now(),
            repr(WINDOW_S),
            -1 if limits.rpm is None else limits.rpm,
            -1 if limits.tpm is None else limits.tpm,
            -1 if limits.max_concurrency is None else limits.max_concurrency,
            reserve,
            lease_id,
            repr(self._lease_ttl_s),
            repr(IN_FLIGHT_RETRY_S),
            self._expire_ms,
        ]
        keys = key_names(self._prefix, key_id)
        try:
            admitted, limit, retry_after = await self._run(ACQUIRE_LUA, keys, args)
        except Exception as exc:
            if not self._fail_open:
                raise RateLimiterUnavailable(f"rate-limit store unavailable: {exc}") from exc
            log.warning("redis rate limiter unavailable; admitting unchecked", extra={"error": str(exc)})
            FAIL_OPEN.inc()
            return NOOP_LEASE
        if int(admitted) != 1:
            name = cast(LimitName, _text(limit))
            raise refusal(name, float(_text(retry_after)), limits, reserve)
        return RedisLease(self, key_id, lease_id, track_tokens=limits.tpm is not None)

    async def _run(self, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """EVALSHA, falling back to EVAL (which caches the script) when the server lacks it."""
        try:
            return await self._client.evalsha(_SHA[script], len(keys), *keys, *args)
        except Exception as exc:
            # redis-py raises NoScriptError (and strips the NOSCRIPT code from its message)
            if type(exc).__name__ != "NoScriptError" and "NOSCRIPT" not in str(exc):
                raise
            return await self._client.eval(script, len(keys), *keys, *args)

    async def _release(self, key_id: str, lease_id: str, used_tokens: int, track_tokens: bool) -> None:
        keys = key_names(self._prefix, key_id)
        args = [self._now(), lease_id, used_tokens, "1" if track_tokens else "0", self._expire_ms]
        try:
            await self._run(RELEASE_LUA, keys, args)
        except Exception as exc:
            log.warning(
                "rate-limit release failed; the lease expires by its TTL",
                extra={"key_id": key_id, "error": str(exc)},
            )

    async def aclose(self) -> None:
        """Close the Redis connections."""
        await self._client.aclose()
