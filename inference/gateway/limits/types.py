"""The rate-limit contract shared by the in-memory and the Redis limiter.

Semantics (both backends implement exactly these, and the tests run one script against both):

* **RPM** — at most ``rpm`` admitted requests in any sliding window of :data:`WINDOW_S` seconds
  (a sliding-window log: exact, no burst at window edges). A rejected request is not counted.
* **TPM** — tokens of requests *completed* in the last :data:`WINDOW_S` seconds plus the tokens
  *reserved* by requests still in flight must stay within ``tpm``. A request reserves its
  estimated tokens when admitted; :meth:`Lease.release` drops the reservation and records the
  tokens really used at release time (so an under-estimate is corrected, an over-estimate given
  back). A request whose estimate alone exceeds ``tpm`` is refused (like OpenAI's "request too
  large"): retrying it does not help, which the message says.
* **Concurrency** — at most ``max_concurrency`` leases of the key unreleased at once.

Every lease expires after ``lease_ttl_s`` even if never released (a crashed gateway replica
cannot hold a slot or a reservation forever). ``None`` for a limit means unlimited.
Checks run in the order concurrency, RPM, TPM; the first one that refuses is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

WINDOW_S = 60.0
DEFAULT_LEASE_TTL_S = 600.0
# How soon to retry when the budget is held by requests in flight, whose end is unknown.
IN_FLIGHT_RETRY_S = 1.0

LimitName = Literal["rpm", "tpm", "concurrency"]


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """Limits of one API key; ``None`` means unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        for name in ("rpm", "tpm", "max_concurrency"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 or None (unlimited), got {value}")

    @property
    def unlimited(self) -> bool:
        """True when no limit is set (the limiter then does no bookkeeping at all)."""
        return self.rpm is None and self.tpm is None and self.max_concurrency is None


UNLIMITED = KeyLimits()


class RateLimitExceeded(Exception):
    """A request refused by a limit: ``limit`` says which, ``retry_after_s`` when to try again."""

    def __init__(self, limit: LimitName, retry_after_s: float, message: str) -> None:
        super().__init__(message)
        self.limit: LimitName = limit
        self.retry_after_s = max(0.0, retry_after_s)
        self.message = message


class RateLimiterUnavailable(Exception):
    """The shared limiter's store (Redis) did not answer; the request cannot be checked."""


@runtime_checkable
class Lease(Protocol):
    """An admitted request's hold on its key's concurrency slot and token reservation."""

    async def release(self, *, used_tokens: int) -> None:
        """Free the slot and record ``used_tokens`` (prompt + completion); idempotent."""
        ...


class RateLimiter(Protocol):
    """Admission control per API key."""

    async def acquire(self, *, key_id: str, limits: KeyLimits, estimated_tokens: int) -> Lease:
        """Admit one request or raise :class:`RateLimitExceeded`; release the lease when done."""
        ...


class NoopLease:
    """The lease of a request whose key has no limits."""

    __slots__ = ()

    async def release(self, *, used_tokens: int) -> None:
        """Nothing to free."""


NOOP_LEASE = NoopLease()


def rpm_message(limits: KeyLimits) -> str:
    """The refusal message of the RPM check."""
    return f"rate limit reached: {limits.rpm} requests per minute for this API key"


def tpm_message(limits: KeyLimits) -> str:
    """The refusal message of the TPM check."""
    return f"rate limit reached: {limits.tpm} tokens per minute for this API key"


def too_large_message(limits: KeyLimits, estimated_tokens: int) -> str:
    """The refusal message for a request larger than the whole TPM budget."""
    return (
        f"request too large: about {estimated_tokens} tokens, more than this API key's limit of "
        f"{limits.tpm} tokens per minute; retrying will not help"
    )


def concurrency_message(limits: KeyLimits) -> str:
    """The refusal message of the concurrency check."""
    return f"too many concurrent requests: at most {limits.max_concurrency} for this API key"


def refusal(
    limit: LimitName, retry_after_s: float, limits: KeyLimits, estimated_tokens: int
) -> RateLimitExceeded:
    """The exception for a refusal as both backends report it."""
    if limit == "concurrency":
        message = concurrency_message(limits)
    elif limit == "rpm":
        message = rpm_message(limits)
    elif limits.tpm is not None and estimated_tokens > limits.tpm:
        message = too_large_message(limits, estimated_tokens)
    else:
        message = tpm_message(limits)
    return RateLimitExceeded(limit, retry_after_s, message)
