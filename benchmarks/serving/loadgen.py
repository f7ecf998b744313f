"""The load generator process of ``stic bench gateway`` (``python -m benchmarks.serving.loadgen``).

Reads one JSON spec on stdin and writes one JSON report on stdout. It runs in its own process (and
event loop, uvloop when installed) so the servers it measures never share its CPU time slices, and it
reports its own CPU use and how late it sent requests against the plan, so a saturated generator is
visible in the results.

Modes:

- ``latency``: ``rounds`` rounds; in each, every target in ``targets`` (alternating which goes first)
  gets ``rate × round_s`` streaming requests (its own ``body``, else the spec's) at Poisson times.
  Per target: E2E and TTFT samples (ms), errors, achieved rate, sender lag, and the generator's CPU
  share while loading it.
- ``streams``: for each level in ``levels``, open that many streams to ``target`` spread evenly over
  ``ramp_s`` (the upstream holds each for longer, so all overlap), wait for all, and record how many
  completed within ``ttft_bound_ms`` / ``e2e_bound_ms``, the peak number open and the peak number
  streaming (between first chunk and end) at once. Stops after the first level under ``min_success``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import resource
import sys
import time
from collections.abc import Mapping
from typing import Any

from benchmarks.serving.metrics import RequestOutcome, percentile
from benchmarks.serving.procs import raise_fd_limit
from benchmarks.serving.rawhttp import RawHTTPClient, RawSender
from benchmarks.serving.runner import run_open_loop
from benchmarks.serving.workload import arrival_offsets


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _client(target: Mapping[str, Any]) -> RawHTTPClient:
    return RawHTTPClient(host=target["host"], port=int(target["port"]), headers=target.get("headers") or {})


async def _warm(sender: RawSender, body: Mapping[str, Any], count: int) -> None:
    for _ in range(count):
        await sender.send(body)


def _freeze_heap() -> None:
    """Collect, then move everything alive to the collector's permanent generation.

    The outcomes of earlier rounds pile up in this process; a full collection walking them took
    20-30 ms, several times per round, and every request in flight then looked that much slower
    on whichever side was being measured. Frozen before each round, they are not walked again.
    """
    gc.collect()
    gc.freeze()


async def latency(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Interleaved open-loop rounds against every target; see the module docstring."""
    targets: Mapping[str, Mapping[str, Any]] = spec["targets"]
    bodies = {name: target.get("body", spec.get("body")) for name, target in targets.items()}
    rate, round_s, rounds = float(spec["rate"]), float(spec["round_s"]), int(spec["rounds"])
    count = max(1, round(rate * round_s))
    clients = {name: _client(target) for name, target in targets.items()}
    timeout_s = float(spec.get("request_timeout_s", 60.0))
    senders = {
        name: RawSender(client, path=targets[name]["path"], timeout_s=timeout_s)
        for name, client in clients.items()
    }
    for name, sender in senders.items():
        await _warm(sender, bodies[name], int(spec.get("warmup", 20)))
    out: dict[str, dict[str, Any]] = {
        name: {"e2e_ms": [], "ttft_ms": [], "requests": 0, "ok": 0, "errors": {}, "rounds": []}
        for name in targets
    }
    names = list(targets)
    for index in range(rounds):
        order = names if index % 2 == 0 else list(reversed(names))
        for name in order:
            offsets = arrival_offsets(count, rate=rate, seed=int(spec.get("seed", 0)) + index)
            _freeze_heap()
            cpu0, wall0 = _cpu_s(), time.perf_counter()
            run = await run_open_loop(senders[name], [bodies[name]] * count, offsets)
            cpu, wall = _cpu_s() - cpu0, time.perf_counter() - wall0
            side = out[name]
            side["requests"] += count
            for outcome in run.outcomes:
                _record(side, outcome)
            side["rounds"].append(
                {
                    "achieved_rate": run.achieved_rate,
                    "lag_p50_ms": run.lag_p50_ms,
                    "lag_p99_ms": run.lag_p99_ms,
                    "loadgen_cpu_share": cpu / wall if wall > 0 else 0.0,
                    "loadgen_cpu_us_per_request": cpu / count * 1e6,
                }
            )
    for client in clients.values():
        client.close()
    return {"mode": "latency", "rate": rate, "round_s": round_s, "rounds": rounds, "targets": out}


def _record(side: dict[str, Any], outcome: RequestOutcome) -> None:
    if outcome.success:
        side["ok"] += 1
        side["e2e_ms"].append(outcome.e2e_s * 1000.0)
        side["ttft_ms"].append(outcome.ttft_s * 1000.0)
    else:
        key = outcome.error or "unknown"
        side["errors"][key] = side["errors"].get(key, 0) + 1


def peak_streaming(outcomes: list[RequestOutcome]) -> int:
    """The most successful streams that were between their first chunk and their end at the same time."""
    edges: list[tuple[float, int]] = []
    for o in outcomes:
        if o.success:
            edges += [(o.sent_at + o.ttft_s, 1), (o.sent_at + o.e2e_s, -1)]
    edges.sort(key=lambda edge: (edge[0], edge[1]))  # an end before a start at the same instant
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


async def _hold(
    level: int,
    target: Mapping[str, Any],
    body: Mapping[str, Any],
    *,
    ramp_s: float,
    timeout_s: float,
    ttft_bound_ms: float,
    e2e_bound_ms: float,
) -> dict[str, Any]:
    """Open ``level`` streams spread over ``ramp_s`` and wait for all of them (each at most ``timeout_s``).

    A stream counts as held when it completed with TTFT and E2E within the bounds: a stream queued
    behind others (late first chunk) or stalled does not count.
    """
    client = _client(target)
    sender = RawSender(client, path=target["path"], timeout_s=timeout_s)
    open_now, peak = 0, 0

    async def one(delay: float) -> RequestOutcome:
        nonlocal open_now, peak
        await asyncio.sleep(delay)
        open_now += 1
        peak = max(peak, open_now)
        try:
            return await sender.send(body)
        finally:
            open_now -= 1

    cpu0, started = _cpu_s(), time.perf_counter()
    outcomes = list(await asyncio.gather(*(one(ramp_s * i / level) for i in range(level))))
    wall = time.perf_counter() - started
    client.close()
    ok = [o for o in outcomes if o.success]
    within = sum(o.ttft_s * 1000.0 <= ttft_bound_ms and o.e2e_s * 1000.0 <= e2e_bound_ms for o in ok)
    errors: dict[str, int] = {}
    for outcome in outcomes:
        if not outcome.success:
            errors[outcome.error or "unknown"] = errors.get(outcome.error or "unknown", 0) + 1
    return {
        "streams": level,
        "completed": len(ok),
        "within_bounds": within,
        "success_rate": within / level,
        "peak_open": peak,
        "peak_streaming": peak_streaming(outcomes),
        "errors": errors,
        "wall_s": wall,
        "ttft_p50_ms": percentile([o.ttft_s for o in ok], 50) * 1000.0,
        "ttft_p90_ms": percentile([o.ttft_s for o in ok], 90) * 1000.0,
        "ttft_p99_ms": percentile([o.ttft_s for o in ok], 99) * 1000.0,
        "e2e_p99_ms": percentile([o.e2e_s for o in ok], 99) * 1000.0,
        "loadgen_cpu_share": (_cpu_s() - cpu0) / wall if wall > 0 else 0.0,
    }


async def streams(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Hold ever more concurrent streams; see the module docstring."""
    ramp_s, min_success = float(spec["ramp_s"]), float(spec.get("min_success", 0.999))
    levels_out: list[dict[str, Any]] = []
    for level in spec["levels"]:
        measured = await _hold(
            int(level),
            spec["target"],
            spec["body"],
            ramp_s=ramp_s,
            timeout_s=float(spec.get("request_timeout_s", 120.0)),
            ttft_bound_ms=float(spec.get("ttft_bound_ms", math.inf)),
            e2e_bound_ms=float(spec.get("e2e_bound_ms", math.inf)),
        )
        levels_out.append(measured)
        if measured["success_rate"] < min_success:
            break
        await asyncio.sleep(float(spec.get("pause_s", 1.0)))
    return {"mode": "streams", "levels": levels_out}


def main() -> None:
    """Read the spec from stdin, run it, print the report."""
    raise_fd_limit()
    spec = json.loads(sys.stdin.read())
    runner = {"latency": latency, "streams": streams}[spec["mode"]]
    try:
        import uvloop

        result = uvloop.run(runner(spec))
    except ImportError:
        result = asyncio.run(runner(spec))
    # the report is one write of up to a few MiB: on a non-blocking pipe it could be cut at the
    # pipe's capacity (seen twice at 96/160 KiB, cause not pinned down), so make sure it blocks
    os.set_blocking(sys.stdout.fileno(), True)
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
