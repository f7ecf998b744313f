"""Retries on another endpoint when an upstream fails before the first byte.

The caller's ``attempt(endpoint)`` talks to one endpoint and signals an endpoint failure by
raising :class:`~inference.engines.errors.EngineUnavailableError` (no answer, connect error, or a
5xx: see :func:`raise_if_unavailable`). Only failures with ``after_first_byte`` false are retried.

Streams: the attempt for a stream must return as soon as it holds the first chunk (so that a
failure before it is retried and nothing was sent to the client yet), and the stream itself
continues on the returned endpoint. Use :func:`hold_with_failover` for that: the endpoint stays
counted as outstanding until the stream is closed through the returned :class:`Held`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, TypeVar

from inference.engines.errors import EngineUnavailableError, UpstreamResponse
from inference.gateway.routing.endpoint import Endpoint, RequestKey
from inference.gateway.routing.errors import AllReplicasFailed, NoHealthyReplica
from inference.gateway.routing.replica_set import ReplicaSet

T = TypeVar("T")


def raise_if_unavailable(response: UpstreamResponse, *, endpoint: Endpoint) -> UpstreamResponse:
    """Return ``response``, or raise :class:`EngineUnavailableError` when its status is 5xx, so that
    :func:`with_failover` counts the failure against ``endpoint`` and tries another one."""
    if response.status_code >= 500:
        detail = str(response.body.get("error", response.body))[:300]
        raise EngineUnavailableError(f"{endpoint.id} answered {response.status_code}: {detail}")
    return response


class Held(Generic[T]):
    """The result of a successful attempt whose endpoint is still in use (e.g. a stream in progress).

    Close it exactly once with :meth:`finish` (``ok=False`` when the stream broke: an endpoint
    failure) or :meth:`release` (ended for reasons unrelated to the endpoint, e.g. the client left);
    later calls do nothing. As an async context manager it closes itself on exit: ``finish(ok=False)``
    on an :class:`EngineUnavailableError`, ``release()`` on any other exception, ``finish()`` otherwise.
    """

    def __init__(
        self, replica_set: ReplicaSet, endpoint: Endpoint, value: T, started_at: float, tried: list[str]
    ) -> None:
        self.replica_set = replica_set
        self.endpoint = endpoint
        self.value = value
        self.tried = tried
        self._started_at = started_at
        self._open = True

    @property
    def attempts(self) -> int:
        """How many endpoints were tried, this one included."""
        return len(self.tried)

    def finish(self, *, ok: bool = True) -> None:
        """Close: the request on this endpoint ended, successfully or with an endpoint failure."""
        if self._open:
            self._open = False
            latency = self.replica_set.clock() - self._started_at
            self.replica_set.finished(self.endpoint, ok=ok, latency_s=latency)

    def release(self) -> None:
        """Close without a verdict on the endpoint."""
        if self._open:
            self._open = False
            self.replica_set.released(self.endpoint)

    async def __aenter__(self) -> Held[T]:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.finish(ok=True)
        elif isinstance(exc, EngineUnavailableError):
            self.finish(ok=False)
        else:
            self.release()


async def hold_with_failover(
    replica_set: ReplicaSet,
    key: RequestKey,
    attempt: Callable[[Endpoint], Awaitable[T]],
    *,
    max_attempts: int = 3,
) -> Held[T]:
    """Like :func:`with_failover`, but the successful endpoint stays outstanding until the returned
    :class:`Held` is closed. Raises as :func:`with_failover` does."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be >= 1")
    tried: list[str] = []
    errors: list[str] = []
    last: EngineUnavailableError | None = None
    note = ""
    while len(tried) < max_attempts:
        try:
            endpoint = replica_set.pick(key, exclude=frozenset(tried))
        except NoHealthyReplica as exc:
            if last is None:
                raise
            note = f"no other replica to try ({exc})"
            break
        if tried:
            replica_set.metrics.retries.labels(replica_set.model).inc()
        tried.append(endpoint.id)
        replica_set.started(endpoint)
        started_at = replica_set.clock()
        try:
            value = await attempt(endpoint)
        except EngineUnavailableError as exc:
            replica_set.finished(endpoint, ok=False, latency_s=replica_set.clock() - started_at)
            if exc.after_first_byte:
                raise
            last = exc
            errors.append(str(exc))
            continue
        except BaseException:
            replica_set.released(endpoint)
            raise
        return Held(replica_set, endpoint, value, started_at, tried)
    assert last is not None
    raise AllReplicasFailed(replica_set.model, tried, errors, note=note) from last


async def with_failover(
    replica_set: ReplicaSet,
    key: RequestKey,
    attempt: Callable[[Endpoint], Awaitable[T]],
    *,
    max_attempts: int = 3,
) -> T:
    """Run ``attempt`` on endpoints picked from ``replica_set`` until one succeeds.

    Each attempt is bracketed by ``started``/``finished`` (latency recorded, failures counted for
    passive ejection). An :class:`EngineUnavailableError` raised before the first byte is retried
    on an endpoint not tried yet, up to ``max_attempts`` in all; one raised after the first byte is
    re-raised at once. Any other exception propagates after releasing the endpoint without a
    verdict. Raises :class:`NoHealthyReplica` when no endpoint is available at the start, and
    :class:`AllReplicasFailed` (an ``EngineUnavailableError`` naming every endpoint tried and why it
    failed, chained to the last error) when the attempts or the endpoints run out.
    """
    held = await hold_with_failover(replica_set, key, attempt, max_attempts=max_attempts)
    held.finish(ok=True)
    return held.value
