"""Prometheus series for routing, labelled by ``model`` and ``endpoint``.

Cardinality stays bounded: a :class:`~inference.gateway.routing.replica_set.ReplicaSet` calls
:meth:`RoutingMetrics.forget` for every endpoint that a sync removes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

_LABELS = ("model", "endpoint")


@dataclass(frozen=True, slots=True)
class EndpointSeries:
    """The series of one endpoint, bound once so the request path skips label lookups."""

    outstanding: Gauge
    healthy: Gauge
    ejected: Gauge
    ejections: Counter
    ok: Counter
    error: Counter
    latency: Histogram


class RoutingMetrics:
    """The routing metric family, registered once per registry (the process default unless given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = REGISTRY if registry is None else registry
        self.outstanding = Gauge(
            "stic_gateway_endpoint_outstanding_requests",
            "Requests sent to the endpoint and not yet finished.",
            _LABELS,
            registry=reg,
        )
        self.healthy = Gauge(
            "stic_gateway_endpoint_healthy",
            "1 when the endpoint's active health check passes, else 0.",
            _LABELS,
            registry=reg,
        )
        self.ejected = Gauge(
            "stic_gateway_endpoint_ejected",
            "1 while the endpoint is passively ejected (outlier detection), else 0.",
            _LABELS,
            registry=reg,
        )
        self.ejections = Counter(
            "stic_gateway_endpoint_ejections",
            "Passive ejections of the endpoint after consecutive failures.",
            _LABELS,
            registry=reg,
        )
        self.requests = Counter(
            "stic_gateway_endpoint_requests",
            "Requests finished on the endpoint, by outcome (ok, error).",
            (*_LABELS, "outcome"),
            registry=reg,
        )
        self.latency = Histogram(
            "stic_gateway_endpoint_latency_seconds",
            "Time from routing a request to the endpoint until the attempt finished.",
            _LABELS,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=reg,
        )
        self.retries = Counter(
            "stic_gateway_failover_retries",
            "Attempts retried on another endpoint after an upstream failure before the first byte.",
            ("model",),
            registry=reg,
        )

    def series(self, model: str, endpoint: str) -> EndpointSeries:
        """Create (or look up) the series of ``endpoint`` in ``model``'s set."""
        return EndpointSeries(
            outstanding=self.outstanding.labels(model, endpoint),
            healthy=self.healthy.labels(model, endpoint),
            ejected=self.ejected.labels(model, endpoint),
            ejections=self.ejections.labels(model, endpoint),
            ok=self.requests.labels(model, endpoint, "ok"),
            error=self.requests.labels(model, endpoint, "error"),
            latency=self.latency.labels(model, endpoint),
        )

    def forget(self, model: str, endpoint: str) -> None:
        """Drop every series of ``endpoint`` (it left its replica set)."""
        for metric in (self.outstanding, self.healthy, self.ejected, self.ejections, self.latency):
            with contextlib.suppress(KeyError):
                metric.remove(model, endpoint)
        for outcome in ("ok", "error"):
            with contextlib.suppress(KeyError):
                self.requests.remove(model, endpoint, outcome)


_default: RoutingMetrics | None = None


def default_metrics() -> RoutingMetrics:
    """The process-wide :class:`RoutingMetrics` on the default registry (created on first use)."""
    global _default
    if _default is None:
        _default = RoutingMetrics()
    return _default
