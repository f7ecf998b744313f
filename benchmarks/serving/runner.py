"""Open-loop load: send request bodies at planned times, whatever the server's pace.

Each request is its own task, started at its planned offset from the run's start, so a slow server
builds a queue of outstanding requests instead of slowing the sender (open loop, as vLLM does).
``max_concurrency`` optionally caps requests in flight (those over the cap wait for a slot; their
latency is measured from the actual send, as in vLLM). The run reports how late the sender was
against the plan, so an overloaded load generator shows up in the figures instead of hiding in them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.serving.client import Sender
from benchmarks.serving.metrics import RequestOutcome, percentile


@dataclass(frozen=True, slots=True)
class LoadRun:
    """Outcomes in send order, the run's duration (first send to last completion) and sender lag."""

    outcomes: list[RequestOutcome]
    duration_s: float
    send_span_s: float
    lag_p50_ms: float
    lag_p99_ms: float

    @property
    def achieved_rate(self) -> float:
        """Requests per second actually sent (over the span from the first to the last send)."""
        n = len(self.outcomes)
        return (n - 1) / self.send_span_s if n > 1 and self.send_span_s > 0 else float(n)


async def run_open_loop(
    sender: Sender,
    bodies: Sequence[Mapping[str, Any]],
    offsets: Sequence[float],
    *,
    max_concurrency: int | None = None,
) -> LoadRun:
    """Send ``bodies[i]`` at ``offsets[i]`` seconds after the start and wait for every answer."""
    if len(bodies) != len(offsets):
        raise ValueError("bodies and offsets must have the same length")
    if not bodies:
        raise ValueError("a load run needs at least one request")
    semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None
    lags: list[float] = []
    sends: list[float] = []

    async def one(body: Mapping[str, Any]) -> RequestOutcome:
        if semaphore is None:
            return await sender.send(body)
        async with semaphore:
            return await sender.send(body)

    tasks: list[asyncio.Task[RequestOutcome]] = []
    start = time.perf_counter()
    for body, offset in zip(bodies, offsets, strict=True):
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.perf_counter()
        lags.append(max(0.0, now - start - offset))
        sends.append(now)
        tasks.append(asyncio.create_task(one(body)))
    outcomes = list(await asyncio.gather(*tasks))
    end = time.perf_counter()
    return LoadRun(
        outcomes=outcomes,
        duration_s=max(end - sends[0], 1e-9),
        send_span_s=sends[-1] - sends[0],
        lag_p50_ms=percentile(lags, 50) * 1000.0,
        lag_p99_ms=percentile(lags, 99) * 1000.0,
    )
