"""The limiter semantics, one table of scripts run against the in-memory and the Redis backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from inference.gateway.limits import (
    KeyLimits,
    Lease,
    MemoryRateLimiter,
    RateLimiterUnavailable,
    RateLimitExceeded,
    RedisRateLimiter,
)
from inference.gateway.limits.redis_backend import FAIL_OPEN
from inference.gateway.limits.types import NOOP_LEASE
from tests.inference.gateway.limits.conftest import FakeClock

Outcome = tuple[str, float] | None  # None: admitted; else (limit, retry_after_s)


@dataclass(frozen=True)
class Acquire:
    at: float
    expect: Outcome = None
    tokens: int = 0
    key: str = "k1"


@dataclass(frozen=True)
class Release:
    at: float
    lease: int  # index of the lease among the admitted ones, in order
    used: int = 0


@dataclass(frozen=True)
class Script:
    name: str
    limits: KeyLimits
    steps: tuple[Acquire | Release, ...]
    lease_ttl_s: float = 600.0
    per_key: dict[str, KeyLimits] = field(default_factory=dict)


SCRIPTS = [
    Script(
        "rpm-sliding-window",
        KeyLimits(rpm=3),
        (
            Acquire(0),
            Acquire(10),
            Acquire(20),
            Acquire(30, ("rpm", 30.0)),  # the request at 0 leaves the window at 60
            Acquire(60),
            Acquire(61, ("rpm", 9.0)),  # window holds 10, 20, 60
            Acquire(70),
        ),
    ),
    Script(
        "rpm-refusals-are-not-counted",
        KeyLimits(rpm=2),
        (
            Acquire(0),
            Acquire(1),
            Acquire(2, ("rpm", 58.0)),
            Acquire(3, ("rpm", 57.0)),
            Acquire(60),
            Acquire(60.5, ("rpm", 0.5)),
            Acquire(61),
        ),
    ),
    Script(
        "tpm-reservation-corrected-on-release",
        KeyLimits(tpm=100),
        (
            Acquire(0, tokens=60),
            Acquire(1, ("tpm", 1.0), tokens=50),  # budget held by the request in flight
            Release(2, 0, used=20),  # estimate 60, used 20: 40 given back
            Acquire(3, tokens=50),
            Acquire(4, ("tpm", 58.0), tokens=40),  # 20 done + 50 reserved + 40 > 100: wait for the 20
            Release(5, 1, used=80),  # estimate 50, used 80: under-estimate corrected
            Acquire(6, ("tpm", 56.0), tokens=1),  # 20 + 80 done
            Acquire(62, tokens=1),  # the 20 left the window
            Acquire(63, ("tpm", 2.0), tokens=20),  # 80 done + 1 reserved + 20 > 100
        ),
    ),
    Script(
        "tpm-exactly-at-the-limit",
        KeyLimits(tpm=100),
        (
            Acquire(0, tokens=90),
            Release(1, 0, used=10),
            Acquire(2, tokens=90),
            Acquire(3, ("tpm", 58.0), tokens=1),
        ),
    ),
    Script(
        "tpm-request-larger-than-the-budget",
        KeyLimits(tpm=100),
        (Acquire(0, ("tpm", 60.0), tokens=101), Acquire(1, tokens=100)),
    ),
    Script(
        "concurrency-and-idempotent-release",
        KeyLimits(max_concurrency=2),
        (
            Acquire(0),
            Acquire(0),
            Acquire(0, ("concurrency", 1.0)),
            Release(1, 0),
            Release(1, 0),  # a second release frees nothing more
            Acquire(2),
            Acquire(2, ("concurrency", 1.0)),
        ),
    ),
    Script(
        "unreleased-lease-expires",
        KeyLimits(max_concurrency=1),
        (Acquire(0), Acquire(599, ("concurrency", 1.0)), Acquire(600)),
    ),
    Script(
        "unreleased-reservation-expires",
        KeyLimits(tpm=100),
        (Acquire(0, tokens=100), Acquire(50, ("tpm", 1.0), tokens=1), Acquire(100, tokens=100)),
        lease_ttl_s=100.0,
    ),
    Script(
        "checks-in-order-concurrency-rpm-tpm",
        KeyLimits(rpm=1, tpm=10, max_concurrency=1),
        (
            Acquire(0, tokens=5),
            Acquire(1, ("concurrency", 1.0), tokens=5),
            Release(2, 0, used=10),
            Acquire(3, ("rpm", 57.0), tokens=1),
            Acquire(60, tokens=0),
            Release(61, 1, used=0),
            Acquire(121, ("tpm", 60.0), tokens=11),  # alone over the whole budget: "request too large"
        ),
    ),
    Script(
        "keys-are-independent",
        KeyLimits(rpm=1),
        (Acquire(0, key="a"), Acquire(0, key="b"), Acquire(1, ("rpm", 59.0), key="a")),
    ),
]
BASE = 1_000.0


async def run_script(script: Script, make: Callable[[FakeClock, float], Any]) -> list[Outcome]:
    """Play ``script`` on a limiter from ``make(clock, lease_ttl_s)``; the outcome of every acquire."""
    clock = FakeClock(BASE)
    limiter = make(clock, script.lease_ttl_s)
    leases: list[Lease] = []
    outcomes: list[Outcome] = []
    for step in script.steps:
        clock.now = BASE + step.at
        if isinstance(step, Release):
            await leases[step.lease].release(used_tokens=step.used)
            continue
        try:
            lease = await limiter.acquire(
                key_id=step.key,
                limits=script.per_key.get(step.key, script.limits),
                estimated_tokens=step.tokens,
            )
        except RateLimitExceeded as exc:
            outcomes.append((exc.limit, round(exc.retry_after_s, 6)))
        else:
            leases.append(lease)
            outcomes.append(None)
    return outcomes


def expected(script: Script) -> list[Outcome]:
    return [step.expect for step in script.steps if isinstance(step, Acquire)]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
async def test_memory_limiter_follows_the_script(script: Script) -> None:
    outcomes = await run_script(script, lambda clock, ttl: MemoryRateLimiter(clock=clock, lease_ttl_s=ttl))
    assert outcomes == expected(script)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
async def test_redis_limiter_gives_the_same_answers(
    script: Script, redis_factory: Callable[[], Any], redis_prefix: str
) -> None:
    def make(clock: FakeClock, ttl: float) -> RedisRateLimiter:
        return RedisRateLimiter(client=redis_factory(), prefix=redis_prefix, clock=clock, lease_ttl_s=ttl)

    redis_outcomes = await run_script(script, make)
    memory_outcomes = await run_script(
        script, lambda clock, ttl: MemoryRateLimiter(clock=clock, lease_ttl_s=ttl)
    )
    assert redis_outcomes == memory_outcomes == expected(script)


async def test_refusal_messages_name_the_limit() -> None:
    limiter = MemoryRateLimiter(clock=FakeClock())
    await limiter.acquire(key_id="k", limits=KeyLimits(rpm=1), estimated_tokens=0)
    with pytest.raises(RateLimitExceeded, match="1 requests per minute") as rpm:
        await limiter.acquire(key_id="k", limits=KeyLimits(rpm=1), estimated_tokens=0)
    assert rpm.value.limit == "rpm"
    with pytest.raises(RateLimitExceeded, match=r"request too large.*retrying will not help"):
        await limiter.acquire(key_id="k2", limits=KeyLimits(tpm=10), estimated_tokens=11)
    await limiter.acquire(key_id="k3", limits=KeyLimits(tpm=10), estimated_tokens=10)
    with pytest.raises(RateLimitExceeded, match="10 tokens per minute"):
        await limiter.acquire(key_id="k3", limits=KeyLimits(tpm=10), estimated_tokens=1)
    await limiter.acquire(key_id="k4", limits=KeyLimits(max_concurrency=1), estimated_tokens=0)
    with pytest.raises(RateLimitExceeded, match="at most 1"):
        await limiter.acquire(key_id="k4", limits=KeyLimits(max_concurrency=1), estimated_tokens=0)


async def test_memory_limiter_keeps_no_state_for_unlimited_or_idle_keys() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    assert await limiter.acquire(key_id="free", limits=KeyLimits(), estimated_tokens=10) is NOOP_LEASE
    assert limiter.tracked_keys() == 0
    lease = await limiter.acquire(key_id="k", limits=KeyLimits(max_concurrency=1), estimated_tokens=0)
    assert limiter.tracked_keys() == 1
    await lease.release(used_tokens=0)
    assert limiter.tracked_keys() == 0
    await limiter.acquire(key_id="k", limits=KeyLimits(rpm=5), estimated_tokens=0)
    clock.now = 61
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire(
            key_id="k", limits=KeyLimits(max_concurrency=1, rpm=5, tpm=1), estimated_tokens=2
        )
    assert limiter.tracked_keys() == 0  # the old request left the window; the refusal recorded nothing


@pytest.mark.parametrize("field_name", ["rpm", "tpm", "max_concurrency"])
def test_key_limits_refuse_non_positive_values(field_name: str) -> None:
    with pytest.raises(ValueError, match=field_name):
        KeyLimits(**{field_name: 0})


async def test_two_redis_limiters_share_one_budget(
    redis_factory: Callable[[], Any], redis_prefix: str
) -> None:
    """Two gateway replicas (two clients, the Redis server's clock) see each other's requests."""
    a = RedisRateLimiter(client=redis_factory(), prefix=redis_prefix)
    b = RedisRateLimiter(client=redis_factory(), prefix=redis_prefix)
    rpm = KeyLimits(rpm=2)
    await a.acquire(key_id="shared", limits=rpm, estimated_tokens=0)
    await b.acquire(key_id="shared", limits=rpm, estimated_tokens=0)
    with pytest.raises(RateLimitExceeded) as refused:
        await a.acquire(key_id="shared", limits=rpm, estimated_tokens=0)
    assert refused.value.limit == "rpm"
    assert 59.0 < refused.value.retry_after_s <= 60.0

    one = KeyLimits(max_concurrency=1, tpm=1_000)
    lease = await a.acquire(key_id="slot", limits=one, estimated_tokens=400)
    with pytest.raises(RateLimitExceeded) as busy:
        await b.acquire(key_id="slot", limits=one, estimated_tokens=1)
    assert busy.value.limit == "concurrency"
    await lease.release(used_tokens=900)
    await lease.release(used_tokens=900)
    second = await b.acquire(key_id="slot", limits=one, estimated_tokens=100)
    await second.release(used_tokens=100)
    with pytest.raises(RateLimitExceeded) as spent:  # 900 + 100 used within the minute, via both replicas
        await a.acquire(key_id="slot", limits=one, estimated_tokens=1)
    assert spent.value.limit == "tpm"
    assert 59.0 < spent.value.retry_after_s <= 60.0


class BrokenRedis:
    """A Redis client whose server is gone."""

    async def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any:
        raise ConnectionError("connection refused")

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        raise ConnectionError("connection refused")

    async def aclose(self) -> None:
        return None


async def test_redis_down_fails_closed_by_default() -> None:
    limiter = RedisRateLimiter(client=BrokenRedis())
    with pytest.raises(RateLimiterUnavailable, match="connection refused"):
        await limiter.acquire(key_id="k", limits=KeyLimits(rpm=1), estimated_tokens=0)
    # no limits: Redis is not asked at all
    assert await limiter.acquire(key_id="k", limits=KeyLimits(), estimated_tokens=0) is NOOP_LEASE


async def test_redis_down_admits_unchecked_when_failing_open() -> None:
    limiter = RedisRateLimiter(client=BrokenRedis(), fail_open=True)
    before = FAIL_OPEN._value.get()
    lease = await limiter.acquire(key_id="k", limits=KeyLimits(rpm=1), estimated_tokens=0)
    assert lease is NOOP_LEASE
    assert FAIL_OPEN._value.get() == before + 1


async def test_redis_release_failure_is_not_raised(
    redis_factory: Callable[[], Any], redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisRateLimiter(client=redis_factory(), prefix=redis_prefix)
    lease = await limiter.acquire(key_id="k", limits=KeyLimits(max_concurrency=1), estimated_tokens=0)
    limiter._client = BrokenRedis()
    await lease.release(used_tokens=0)
    assert "expires by its TTL" in caplog.text
