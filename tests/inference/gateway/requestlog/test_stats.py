"""Service and variant statistics on both databases (percentiles: SQL on PostgreSQL, Python on SQLite)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from inference.gateway.requestlog import service_stats, variant_stats
from inference.gateway.requestlog.stats import percentile
from tests.inference.gateway.requestlog.conftest import T0, make_sink, record
from tests.services.builders import unique


def test_percentile_interpolates_like_percentile_cont() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 100.0]
    assert percentile(values, 0.5) == 30.0
    assert percentile(values, 0.95) == pytest.approx(88.0)
    assert percentile(values, 0.99) == pytest.approx(97.6)
    assert percentile([5.0], 0.99) == 5.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


async def test_service_stats(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, _ = logs_app
    tenant_id = unique("ten")
    sink = make_sink(app)
    await sink.start()
    for n, latency in enumerate([40.0, 10.0, 100.0, 30.0, 20.0]):
        sink.submit(
            record(
                tenant_id, n, service_id="svc_s", latency_ms=latency, ttft_ms=latency / 10, prompt_tokens=n
            )
        )
    sink.submit(
        record(tenant_id, 5, service_id="svc_s", status_code=503, latency_ms=1.0, completion_tokens=0)
    )
    sink.submit(record(tenant_id, 6, service_id="svc_s", error_type="stream_broken", latency_ms=5_000.0))
    sink.submit(record(tenant_id, 7, service_id="svc_other", latency_ms=999.0))
    sink.submit(record(unique("ten"), 8, service_id="svc_s", latency_ms=999.0))  # another tenant
    await sink.aclose()

    async with app.state.database.sessionmaker() as session:
        stats = await service_stats(session, tenant_id=tenant_id, service_id="svc_s")
        recent = await service_stats(
            session, tenant_id=tenant_id, service_id="svc_s", since=T0 + timedelta(seconds=3)
        )
        none = await service_stats(session, tenant_id=tenant_id, service_id="svc_none")
    assert stats["requests"] == 7 and stats["errors"] == 2
    assert stats["success_rate"] == pytest.approx(5 / 7, abs=1e-6)
    # percentiles over the five successful requests only
    assert stats["latency_ms"] == {"p50": 30.0, "p95": 88.0, "p99": 97.6}
    assert stats["ttft_ms"] == {"p50": 3.0, "p95": 8.8, "p99": 9.76}
    assert stats["prompt_tokens"] == 0 + 1 + 2 + 3 + 4 + 5 + 5
    assert stats["completion_tokens"] == 7 * 6
    assert (recent["requests"], recent["errors"], recent["latency_ms"]["p50"]) == (4, 2, 25.0)
    assert none == {
        "requests": 0,
        "errors": 0,
        "success_rate": None,
        "latency_ms": {"p50": None, "p95": None, "p99": None},
        "ttft_ms": {"p50": None, "p95": None, "p99": None},
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }


async def test_variant_stats(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, _ = logs_app
    tenant_id = unique("ten")
    sink = make_sink(app)
    await sink.start()
    for n in range(4):
        sink.submit(record(tenant_id, n, route_id="rt_1", variant="stable", latency_ms=10.0 * (n + 1)))
    sink.submit(record(tenant_id, 4, route_id="rt_1", variant="canary", latency_ms=50.0, completion_tokens=3))
    sink.submit(record(tenant_id, 5, route_id="rt_1", variant="canary", status_code=502, latency_ms=2.0))
    sink.submit(record(tenant_id, 6, route_id="rt_2", variant="stable", latency_ms=1.0))
    await sink.aclose()

    async with app.state.database.sessionmaker() as session:
        stats = await variant_stats(session, tenant_id=tenant_id, route_id="rt_1")
    assert set(stats) == {"stable", "canary"}
    assert (stats["stable"]["requests"], stats["stable"]["errors"], stats["stable"]["success_rate"]) == (
        4,
        0,
        1.0,
    )
    assert stats["stable"]["latency_ms"] == {"p50": 25.0, "p95": 38.5, "p99": 39.7}
    assert stats["stable"]["ttft_ms"] == {"p50": None, "p95": None, "p99": None}
    assert (stats["canary"]["requests"], stats["canary"]["errors"]) == (2, 1)
    assert stats["canary"]["success_rate"] == 0.5
    assert stats["canary"]["latency_ms"] == {"p50": 50.0, "p95": 50.0, "p99": 50.0}
    assert stats["canary"]["completion_tokens"] == 3 + 7
