"""The endpoints of one model service, the policy that picks among them, and their health."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from inference.gateway.routing import ejection as ej
from inference.gateway.routing.ejection import EjectionConfig
from inference.gateway.routing.endpoint import Endpoint, EndpointSpec, RequestKey
from inference.gateway.routing.errors import NoHealthyReplica
from inference.gateway.routing.metrics import EndpointSeries, RoutingMetrics, default_metrics
from inference.gateway.routing.policies import DEFAULT_POLICY, POLICIES, Policy
from services.kernel.errors import BadRequest

log = logging.getLogger("stic.gateway.routing")

_EWMA_ALPHA = 0.2


def make_policy(name: str, rng: random.Random) -> Policy:
    """The policy registered under ``name``; :class:`BadRequest` naming the field if unknown."""
    factory = POLICIES.get(name)
    if factory is None:
        raise BadRequest(
            f"unknown routing policy {name!r}; expected one of {', '.join(sorted(POLICIES))}",
            detail={"field": "policy"},
        )
    return factory(rng)


class ReplicaSet:
    """The endpoints one model is served from, with live load and health.

    - :meth:`sync` sets the membership from the directory; endpoints whose id stays keep their
      live state (outstanding, health, ejection); new ones start healthy (the directory lists
      replicas the controller has seen ready).
    - :meth:`pick` returns an endpoint that is healthy, not ejected and not in ``exclude``, chosen
      by the policy, or raises :class:`NoHealthyReplica` listing why each endpoint was excluded.
    - :meth:`started` / :meth:`finished` bracket every attempt: they keep ``outstanding`` and drive
      passive ejection (see :class:`EjectionConfig`); :meth:`released` ends an attempt without a
      verdict on the endpoint (client went away, request refused for its own content).

    ``model`` labels the metrics (use a value unique per set, e.g. the service id). ``clock`` is
    monotonic seconds and ``rng`` the randomness; both are injectable for tests. Everything runs
    on the event loop: no method blocks or awaits.
    """

    def __init__(
        self,
        policy: str | Policy = DEFAULT_POLICY,
        ejection: EjectionConfig | None = None,
        *,
        model: str = "",
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        metrics: RoutingMetrics | None = None,
    ) -> None:
        self._rng = rng or random.Random()
        self.policy: Policy = make_policy(policy, self._rng) if isinstance(policy, str) else policy
        self.ejection = ejection or EjectionConfig()
        self.model = model
        self.clock = clock
        self.metrics = metrics or default_metrics()
        self._endpoints: dict[str, Endpoint] = {}
        self._series: dict[str, EndpointSeries] = {}

    # -- membership -------------------------------------------------------------------------

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Current members, in the order of the last sync."""
        return tuple(self._endpoints.values())

    def get(self, endpoint_id: str) -> Endpoint | None:
        """The member with ``endpoint_id``, if any."""
        return self._endpoints.get(endpoint_id)

    def __len__(self) -> int:
        return len(self._endpoints)

    def sync(self, specs: Sequence[EndpointSpec]) -> None:
        """Make ``specs`` the membership; kept ids keep their live state and take the new spec."""
        ids = [spec.id for spec in specs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate endpoint ids in {ids}")
        old = self._endpoints
        new: dict[str, Endpoint] = {}
        for spec in specs:
            endpoint = old.get(spec.id)
            if endpoint is None:
                endpoint = Endpoint(spec=spec, last_decay_at=self.clock())
                self._series[spec.id] = self.metrics.series(self.model, spec.id)
                self._publish(endpoint)
            else:
                endpoint.spec = spec
            new[spec.id] = endpoint
        for endpoint_id, endpoint in old.items():
            if endpoint_id not in new:
                endpoint.member = False
                del self._series[endpoint_id]
                self.metrics.forget(self.model, endpoint_id)
        self._endpoints = new
        if new.keys() != old.keys():
            self.policy.update_members(list(new.values()))

    # -- picking ----------------------------------------------------------------------------

    def available(self, *, exclude: frozenset[str] = frozenset()) -> list[Endpoint]:
        """Members that may take a request now: healthy, not ejected, not in ``exclude``."""
        now = self.clock()
        out = []
        for endpoint in self._endpoints.values():
            if endpoint.ejected_until is not None:
                if not ej.expire(endpoint, now):
                    continue
                self._publish(endpoint)
            if endpoint.healthy and endpoint.spec.id not in exclude:
                out.append(endpoint)
        return out

    def pick(self, key: RequestKey, *, exclude: frozenset[str] = frozenset()) -> Endpoint:
        """An available endpoint chosen by the policy; :class:`NoHealthyReplica` if there is none."""
        candidates = self.available(exclude=exclude)
        if not candidates:
            raise NoHealthyReplica(self.model, self.exclusion_reasons(exclude=exclude))
        if len(candidates) == 1:
            return candidates[0]
        return self.policy.choose(candidates, key)

    def exclusion_reasons(self, *, exclude: frozenset[str] = frozenset()) -> dict[str, str]:
        """Why each member that cannot take a request now is out (available ones are absent)."""
        now = self.clock()
        reasons: dict[str, str] = {}
        for endpoint in self._endpoints.values():
            if endpoint.id in exclude:
                reasons[endpoint.id] = "already tried"
            elif not endpoint.healthy:
                last = f" (last: {endpoint.last_health_error})" if endpoint.last_health_error else ""
                reasons[endpoint.id] = (
                    f"unhealthy after {endpoint.health_failures} failed health checks{last}"
                )
            elif endpoint.is_ejected(now):
                assert endpoint.ejected_until is not None
                reasons[endpoint.id] = (
                    f"ejected for {endpoint.ejected_until - now:.1f}s more "
                    f"(ejection #{endpoint.times_ejected} after repeated failures)"
                )
        return reasons

    # -- request bookkeeping ----------------------------------------------------------------

    def started(self, endpoint: Endpoint) -> None:
        """An attempt on ``endpoint`` begins."""
        endpoint.outstanding += 1
        endpoint.requests_total += 1
        if endpoint.member:
            self._series[endpoint.id].outstanding.set(endpoint.outstanding)

    def released(self, endpoint: Endpoint) -> None:
        """An attempt on ``endpoint`` ended without saying anything about the endpoint's health."""
        if endpoint.outstanding <= 0:
            log.error("released() without started() on %s/%s", self.model, endpoint.id)
            return
        endpoint.outstanding -= 1
        if endpoint.member:
            self._series[endpoint.id].outstanding.set(endpoint.outstanding)

    def finished(self, endpoint: Endpoint, *, ok: bool, latency_s: float) -> None:
        """An attempt on ``endpoint`` ended: ``ok`` false for an endpoint failure (no answer,
        connect error, 5xx). Failures may eject the endpoint; see :class:`EjectionConfig`."""
        self.released(endpoint)
        now = self.clock()
        prior = endpoint.latency_ewma_s
        endpoint.latency_ewma_s = latency_s if prior is None else prior + _EWMA_ALPHA * (latency_s - prior)
        if ok:
            ej.record_success(endpoint, self.ejection, now)
        else:
            endpoint.failures_total += 1
            if ej.should_eject(endpoint, self.ejection, now):
                self._try_eject(endpoint, now)
        if endpoint.member:
            series = self._series[endpoint.id]
            (series.ok if ok else series.error).inc()
            series.latency.observe(latency_s)

    def _try_eject(self, endpoint: Endpoint, now: float) -> None:
        if not endpoint.member:
            return
        members = list(self._endpoints.values())
        ejected = sum(1 for e in members if e.is_ejected(now))
        others_available = any(e is not endpoint and e.healthy and not e.is_ejected(now) for e in members)
        if ejected >= self.ejection.ejection_cap(len(members)) or not others_available:
            # warn once per failure streak, not on every failed request while the cap holds
            first = endpoint.consecutive_failures in (1, self.ejection.consecutive_failures)
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "not ejecting %s/%s after %d failures: ejection cap reached or it is the last one available",
                self.model,
                endpoint.id,
                endpoint.consecutive_failures,
            )
            return
        duration = ej.eject(endpoint, self.ejection, now)
        log.warning(
            "ejected %s/%s for %.1fs (ejection #%d)",
            self.model,
            endpoint.id,
            duration,
            endpoint.times_ejected,
        )
        self._series[endpoint.id].ejections.inc()
        self._publish(endpoint)

    # -- active health ----------------------------------------------------------------------

    def set_healthy(self, endpoint: Endpoint, healthy: bool, *, error: str | None = None) -> None:
        """Record the active health verdict for ``endpoint`` (called by the health checker)."""
        endpoint.last_health_error = error
        if endpoint.healthy != healthy:
            log.warning(
                "%s/%s is now %s%s",
                self.model,
                endpoint.id,
                "healthy" if healthy else "unhealthy",
                f": {error}" if error else "",
            )
            endpoint.healthy = healthy
            self._publish(endpoint)

    def snapshot(self) -> list[dict[str, Any]]:
        """A JSON-able view of every member, for admin APIs and logs."""
        now = self.clock()
        return [
            {
                "id": e.id,
                "api_base": e.spec.api_base,
                "weight": e.spec.weight,
                "outstanding": e.outstanding,
                "healthy": e.healthy,
                "ejected": e.is_ejected(now),
                "ejected_for_s": round(e.ejected_until - now, 3)
                if e.is_ejected(now) and e.ejected_until
                else 0.0,
                "times_ejected": e.times_ejected,
                "consecutive_failures": e.consecutive_failures,
                "requests": e.requests_total,
                "failures": e.failures_total,
                "latency_ewma_s": e.latency_ewma_s,
                "last_health_error": e.last_health_error,
            }
            for e in self._endpoints.values()
        ]

    def _publish(self, endpoint: Endpoint) -> None:
        if not endpoint.member:
            return
        series = self._series[endpoint.id]
        series.outstanding.set(endpoint.outstanding)
        series.healthy.set(1 if endpoint.healthy else 0)
        series.ejected.set(1 if endpoint.is_ejected(self.clock()) else 0)
