"""In-process rate limiter: the semantics of :mod:`inference.gateway.limits.types` for one gateway.

All bookkeeping happens without awaiting, so on one event loop every ``acquire`` and
``release`` is atomic. Memory is bounded by the traffic of the last window: a key's state is
dropped once it holds nothing.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from inference.gateway.limits.types import (
    DEFAULT_LEASE_TTL_S,
    IN_FLIGHT_RETRY_S,
    NOOP_LEASE,
    WINDOW_S,
    KeyLimits,
    Lease,
    LimitName,
    refusal,
)


@dataclass
class _KeyState:
    requests: deque[float] = field(default_factory=deque)  # admission times (RPM)
    completed: deque[tuple[float, int]] = field(default_factory=deque)  # (release time, tokens) (TPM)
    completed_tokens: int = 0
    # lease id → (expiry, reserved tokens), in admission order = expiry order (one TTL, monotonic clock)
    in_flight: OrderedDict[str, tuple[float, int]] = field(default_factory=OrderedDict)
    reserved_tokens: int = 0

    def evict(self, now: float) -> None:
        horizon = now - WINDOW_S
        while self.requests and self.requests[0] <= horizon:
            self.requests.popleft()
        while self.completed and self.completed[0][0] <= horizon:
            self.completed_tokens -= self.completed.popleft()[1]
        while self.in_flight:
            lease_id, (expiry, reserved) = next(iter(self.in_flight.items()))
            if expiry > now:
                break
            del self.in_flight[lease_id]
            self.reserved_tokens -= reserved

    @property
    def empty(self) -> bool:
        return not (self.requests or self.completed or self.in_flight)


class MemoryLease:
    """A lease of :class:`MemoryRateLimiter`."""

    __slots__ = ("_key_id", "_lease_id", "_limiter", "_released", "_track_tokens")

    def __init__(self, limiter: MemoryRateLimiter, key_id: str, lease_id: str, *, track_tokens: bool) -> None:
        self._limiter = limiter
        self._key_id = key_id
        self._lease_id = lease_id
        self._track_tokens = track_tokens
        self._released = False

    async def release(self, *, used_tokens: int) -> None:
        """Free the slot, drop the reservation and record ``used_tokens``; idempotent."""
        if self._released:
            return
        self._released = True
        self._limiter._release(self._key_id, self._lease_id, max(0, used_tokens), self._track_tokens)


class MemoryRateLimiter:
    """Per-key RPM / TPM / concurrency limits held in this process.

    ``clock`` returns seconds (monotonic by default; tests inject a fake one);
    ``lease_ttl_s`` bounds how long an unreleased lease holds its slot and reservation.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, lease_ttl_s: float = DEFAULT_LEASE_TTL_S
    ) -> None:
        if lease_ttl_s <= 0:
            raise ValueError("lease_ttl_s must be positive")
        self._clock = clock
        self._lease_ttl_s = lease_ttl_s
        self._keys: dict[str, _KeyState] = {}
        self._lease_ids = itertools.count()

    async def acquire(self, *, key_id: str, limits: KeyLimits, estimated_tokens: int) -> Lease:
        """Admit one request for ``key_id`` or raise :class:`~.types.RateLimitExceeded`."""
        if limits.unlimited:
            return NOOP_LEASE
        now = self._clock()
        reserve = max(0, estimated_tokens)
        state = self._keys.setdefault(key_id, _KeyState())
        state.evict(now)
        refused = self._check(state, limits, reserve, now)
        if refused is not None:
            if state.empty:
                del self._keys[key_id]
            raise refusal(refused[0], refused[1], limits, reserve)
        lease_id = str(next(self._lease_ids))
        if limits.rpm is not None:
            state.requests.append(now)
        track_tokens = limits.tpm is not None
        if track_tokens or limits.max_concurrency is not None:
            reserved = reserve if track_tokens else 0
            state.in_flight[lease_id] = (now + self._lease_ttl_s, reserved)
            state.reserved_tokens += reserved
        return MemoryLease(self, key_id, lease_id, track_tokens=track_tokens)

    @staticmethod
    def _check(
        state: _KeyState, limits: KeyLimits, reserve: int, now: float
    ) -> tuple[LimitName, float] | None:
        if limits.max_concurrency is not None and len(state.in_flight) >= limits.max_concurrency:
            return "concurrency", IN_FLIGHT_RETRY_S
        if limits.rpm is not None and len(state.requests) >= limits.rpm:
            return "rpm", state.requests[len(state.requests) - limits.rpm] + WINDOW_S - now
        if limits.tpm is None:
            return None
        if reserve > limits.tpm:
            return "tpm", WINDOW_S
        excess = state.completed_tokens + state.reserved_tokens + reserve - limits.tpm
        if excess <= 0:
            return None
        freed = 0
        for finished_at, tokens in state.completed:
            freed += tokens
            if freed >= excess:
                return "tpm", finished_at + WINDOW_S - now
        return "tpm", IN_FLIGHT_RETRY_S

    def _release(self, key_id: str, lease_id: str, used_tokens: int, track_tokens: bool) -> None:
        state = self._keys.setdefault(key_id, _KeyState())
        held = state.in_flight.pop(lease_id, None)
        if held is not None:
            state.reserved_tokens -= held[1]
        if track_tokens:
            state.completed.append((self._clock(), used_tokens))
            state.completed_tokens += used_tokens
        if state.empty:
            del self._keys[key_id]

    def tracked_keys(self) -> int:
        """How many keys hold state (for tests and the gateway's metrics)."""
        return len(self._keys)
