"""Prometheus metrics shared by every service in the process (one registry per process)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from starlette.requests import Request
from starlette.responses import Response

HTTP_REQUESTS = Counter(
    "stic_http_requests_total",
    "HTTP requests handled, by service, method, route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "stic_http_request_duration_seconds",
    "HTTP request latency by service, method and route template.",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@lru_cache(maxsize=8192)
def labelled(metric: MetricWrapperBase, *values: str) -> Any:
    """``metric.labels(*values)``, looked up once per label set (each lookup locks and hashes).

    For hot paths whose label sets are bounded (route templates, model names) and whose children
    are never removed: a removed child would stay cached here and no longer be exported.
    """
    return metric.labels(*values)


async def metrics_endpoint(_request: Request) -> Response:
    """``GET /metrics`` in the Prometheus text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
