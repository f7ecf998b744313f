"""Call volume, success rate, latency percentiles and tokens of a model service or a traffic split.

Counts and token sums are SQL aggregates over every matching row. Latency (and time to first
token) percentiles are taken over the *successful* requests: on PostgreSQL with
``percentile_cont`` over all of them; on SQLite, which has no percentile function, in Python
over the newest :data:`PERCENTILE_SAMPLE` of them — the same linear interpolation, so both give
the same numbers whenever the window holds fewer rows than that.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inference.gateway.requestlog.models import InferenceRequestLog as Log
from inference.gateway.requestlog.query import failed_clause, ok_clause, window

QUANTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
PERCENTILE_SAMPLE = 20_000


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (PostgreSQL ``percentile_cont``, numpy's default)."""
    if not sorted_values:
        raise ValueError("no values")
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _empty_quantiles() -> dict[str, float | None]:
    return {name: None for name, _ in QUANTILES}


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return _empty_quantiles()
    ordered = sorted(values)
    return {name: round(percentile(ordered, q), 3) for name, q in QUANTILES}


async def _stats_by(
    session: AsyncSession, conditions: list[ColumnElement[bool]], group: Any
) -> dict[Any, dict[str, Any]]:
    counts = (
        select(
            group,
            func.count(),
            func.coalesce(func.sum(case((failed_clause(), 1), else_=0)), 0),
            func.coalesce(func.sum(Log.prompt_tokens), 0),
            func.coalesce(func.sum(Log.completion_tokens), 0),
        )
        .where(*conditions)
        .group_by(group)
    )
    out: dict[Any, dict[str, Any]] = {}
    for key, requests, errors, prompt_tokens, completion_tokens in (await session.execute(counts)).all():
        out[key] = {
            "requests": int(requests),
            "errors": int(errors),
            "success_rate": round((requests - errors) / requests, 6) if requests else None,
            "latency_ms": _empty_quantiles(),
            "ttft_ms": _empty_quantiles(),
            "prompt_tokens": int(prompt_tokens),
            "completion_tokens": int(completion_tokens),
        }
    if not out:
        return out
    ok = [*conditions, ok_clause()]
    if session.get_bind().dialect.name == "postgresql":
        await _percentiles_in_sql(session, ok, group, out)
    else:
        await _percentiles_in_python(session, ok, group, out)
    return out


async def _percentiles_in_sql(
    session: AsyncSession, conditions: list[ColumnElement[bool]], group: Any, out: dict[Any, dict[str, Any]]
) -> None:
    for metric, column in (("latency_ms", Log.latency_ms), ("ttft_ms", Log.ttft_ms)):
        columns = [func.percentile_cont(q).within_group(column) for _, q in QUANTILES]
        query = select(group, *columns).where(*conditions, column.is_not(None)).group_by(group)
        for key, *values in (await session.execute(query)).all():
            if key in out:
                out[key][metric] = {
                    name: round(float(value), 3)
                    for (name, _), value in zip(QUANTILES, values, strict=True)
                    if value is not None
                } or _empty_quantiles()


async def _percentiles_in_python(
    session: AsyncSession, conditions: list[ColumnElement[bool]], group: Any, out: dict[Any, dict[str, Any]]
) -> None:
    query = (
        select(group, Log.latency_ms, Log.ttft_ms)
        .where(*conditions)
        .order_by(Log.created_at.desc())
        .limit(PERCENTILE_SAMPLE)
    )
    latency: dict[Any, list[float]] = defaultdict(list)
    ttft: dict[Any, list[float]] = defaultdict(list)
    for key, latency_ms, ttft_ms in (await session.execute(query)).all():
        latency[key].append(float(latency_ms))
        if ttft_ms is not None:
            ttft[key].append(float(ttft_ms))
    for key, stats in out.items():
        stats["latency_ms"] = _quantiles(latency.get(key, []))
        stats["ttft_ms"] = _quantiles(ttft.get(key, []))


def _window(tenant_id: str, since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    return [Log.tenant_id == tenant_id, *window(since, until)]


def empty_stats() -> dict[str, Any]:
    """The statistics of no requests at all."""
    return {
        "requests": 0,
        "errors": 0,
        "success_rate": None,
        "latency_ms": _empty_quantiles(),
        "ttft_ms": _empty_quantiles(),
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }


async def service_stats(
    session: AsyncSession,
    *,
    tenant_id: str,
    service_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """``{"requests", "errors", "success_rate", "latency_ms": {"p50","p95","p99"}, "ttft_ms": {...},
    "prompt_tokens", "completion_tokens"}`` of one model service (``success_rate`` null with no requests)."""
    conditions = [*_window(tenant_id, since, until), Log.service_id == service_id]
    stats = await _stats_by(session, conditions, Log.service_id)
    return stats.get(service_id, empty_stats())


async def variant_stats(
    session: AsyncSession,
    *,
    tenant_id: str,
    route_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, dict[str, Any]]:
    """The same statistics per variant of a traffic split (variants with requests only)."""
    conditions = [*_window(tenant_id, since, until), Log.route_id == route_id, Log.variant.is_not(None)]
    return {str(key): value for key, value in (await _stats_by(session, conditions, Log.variant)).items()}
