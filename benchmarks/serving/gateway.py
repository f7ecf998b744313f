"""``stic bench gateway``: what the gateway adds, measured side by side with the upstream alone.

Method: a fake OpenAI-compatible upstream (:mod:`benchmarks.serving.fakeupstream`, simulated: a
fixed completion streamed as ``chunks`` SSE chunks) and the gateway in front of it each run in
their own process. The gateway is the product as shipped — ``python -m inference.gateway.bench_app``
(``--gateway-module``: the all-in-one app with API-key auth, limits, content safety unless
``--no-gateway-safety``, request logs; it prints ``{"url", "api_key", "model"}`` once it routes the
upstream) — or any ASGI app from ``--gateway-factory module:function`` (called with
``upstream_api_base=`` and ``model=``), served by :mod:`benchmarks.serving.gatewayproc`; the load generator
(:mod:`benchmarks.serving.loadgen`) runs in a third. It sends the same open-loop Poisson load of
streaming chat completions at ``--rate`` to the upstream directly and through the gateway, in
interleaved rounds (the side that goes first alternates), and the added latency is the gateway's
percentile minus the direct percentile (E2E and TTFT, P50 and P99). The achieved rate, the
generator's send lag and its CPU share are reported: on a small shared machine the target rate may
not be reached, and the report says so rather than hiding it. So is the gateway's CPU per request
(``gateway_cpu``: user + system CPU of every gateway process over the generator's run, from
``/proc``, divided by the gateway requests; also with the idle share of the background loops
taken off). In this phase the gateway runs on CPUs of its own and the upstream and load generator on
the others (:mod:`benchmarks.serving.placement`; ``cpu_placement`` in the report, ``--no-pin-cpus``
to share every CPU as before). ``--floor`` adds a third side on the gateway's CPUs: the bare relay of
:mod:`benchmarks.serving.floor` (the same HTTP server, upstream client and SSE relay, no product
feature), with its own added latency and CPU per request (``floor``), so a report separates what the
machine and the stack cost from what the features cost. ``--gateway-workers N`` runs the module's
gateway as N processes on one port (:mod:`inference.gateway.workers`) for this phase; the streams
phase keeps one process.

Encryption: ``inference.gateway.secure.bench.measure_overhead`` (CPU cost of sealing and opening a
request, a response and a stream chunk), and, when the gateway serves ``/v1/secure/key``, an
encrypted run (httpx + ``SecureTransport``) against a plain httpx run through the gateway at
``--encrypted-rate``, interleaved.

Streams: a second upstream holds each stream open (``--stream-hold-s``) and the generator opens
``--streams`` levels of concurrent SSE streams through a fresh gateway, spread over ``--ramp-s``;
the most held with >= 99.9 % completing is reported. The slow upstream speaks HTTP/2 cleartext
and the gateway's model service says ``protocol: h2c`` (``--stream-upstream-protocol``, default
``h2c``: the streams share a few upstream connections, so each costs the gateway one socket, its
client's), or HTTP/1.1 (``http1``: one upstream connection per stream, two sockets each). Levels
are capped by the gateway process's open-file limit at that many sockets per stream; the report
names the protocol (``streams.upstream_protocol``). The report says what stopped the levels
(``streams.limited``: ``errors``, ``latency_bounds`` or ``fd_limit``) and, from the gateway's RSS
and open files sampled during the phase (:mod:`benchmarks.serving.procstats`), its memory per
open stream.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from benchmarks.serving.client import HttpxSender
from benchmarks.serving.environment import host_environment
from benchmarks.serving.metrics import percentile, summarize_ms
from benchmarks.serving.placement import Placement, clients_pinned, pin_process, plan
from benchmarks.serving.procs import ServerProcess, running, start_announcing_server, start_server
from benchmarks.serving.procstats import ProcessSampler, cpu_seconds
from benchmarks.serving.report import print_results, result, rounded
from benchmarks.serving.runner import run_open_loop
from benchmarks.serving.workload import arrival_offsets, chat_body

DEFAULT_MODULE = "inference.gateway.bench_app"
FLOOR_FACTORY = "benchmarks.serving.floor:create"
GOAL_P50_MS, GOAL_P99_MS, GOAL_STREAMS = 1.0, 5.0, 10_000
_FD_RESERVE = 256


class GatewayBenchError(RuntimeError):
    """A server of the benchmark did not come up or the load generator failed."""


@dataclass(frozen=True, kw_only=True)
class GatewayBenchConfig:
    """Options of one ``stic bench gateway`` run (see the command for their meaning)."""

    factory: str | None = None
    gateway_module: str = DEFAULT_MODULE
    gateway_safety: bool = True
    gateway_workers: int = 1
    pin_cpus: bool = True
    floor: bool = False
    api_key: str | None = None
    model: str = "bench"
    rate: float = 1000.0
    round_s: float = 2.0
    rounds: int = 3
    chunks: int = 8
    warmup: int = 50
    encrypted_rate: float = 50.0
    encrypted_requests: int = 200
    encryption: bool = True
    overhead_iterations: int = 2000
    overhead_handshakes: int = 20
    streams: tuple[int, ...] = (1000, 2000, 5000, 10_000)
    ramp_s: float = 5.0
    stream_hold_s: float = 10.0
    stream_ttft_ms: float = 2000.0
    stream_slack_s: float = 5.0
    stream_protocol: str = "h2c"
    ready_timeout_s: float = 60.0
    seed: int = 0
    log_dir: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _target(server: ServerProcess, headers: Mapping[str, str]) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "path": "/v1/chat/completions",
        "headers": dict(headers),
    }


def _log_tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-2000:]
    except OSError:
        return ""


async def wait_ready(
    server: ServerProcess, *, body: Mapping[str, Any], headers: Mapping[str, str], timeout_s: float, log: Path
) -> None:
    """Wait until ``server`` answers a streaming chat completion with 200 (raise if it exits or times out)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise GatewayBenchError(
                    f"{server.name} exited with {server.process.returncode}: {_log_tail(log)}"
                )
            try:
                response = await http.post(
                    f"{server.base_url}/v1/chat/completions", json=body, headers=headers
                )
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise GatewayBenchError(f"{server.name} not ready after {timeout_s} s: {_log_tail(log)}")


def run_loadgen(spec: Mapping[str, Any], *, timeout_s: float) -> dict[str, Any]:
    """Run :mod:`benchmarks.serving.loadgen` with ``spec`` in its own process and return its report."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.serving.loadgen"],
            input=json.dumps(spec).encode(),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GatewayBenchError(f"load generator still running after {timeout_s} s") from exc
    if done.returncode != 0:
        raise GatewayBenchError(f"load generator failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _side_summary(side: Mapping[str, Any]) -> dict[str, Any]:
    rounds = side["rounds"]
    return {
        "requests": side["requests"],
        "ok": side["ok"],
        "success_rate": side["ok"] / side["requests"] if side["requests"] else 0.0,
        "errors": side["errors"],
        "e2e_ms": summarize_ms([v / 1000.0 for v in side["e2e_ms"]]),
        "ttft_ms": summarize_ms([v / 1000.0 for v in side["ttft_ms"]]),
        "achieved_rate": min(r["achieved_rate"] for r in rounds),
        "sender_lag_p99_ms": max(r["lag_p99_ms"] for r in rounds),
        "loadgen_cpu_share": max(r["loadgen_cpu_share"] for r in rounds),
        "loadgen_cpu_us_per_request": max(r["loadgen_cpu_us_per_request"] for r in rounds),
    }


def _floor_summary(
    sides: Mapping[str, Any], cpu: Mapping[str, Any] | None, gateway_cpu: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The floor relay's side, its added latency over direct, and its CPU; ``None`` without ``--floor``.

    ``gateway_cpu_ratio`` is the gateway's CPU per request over the floor's, both less their idle
    share: measured side by side, it carries over between machines better than either figure.
    """
    if "floor" not in sides:
        return None
    ratio = None
    if cpu and gateway_cpu and cpu["ms_per_request_less_idle"] > 0:
        ratio = gateway_cpu["ms_per_request_less_idle"] / cpu["ms_per_request_less_idle"]
    return {
        "gateway": FLOOR_FACTORY,
        "side": _side_summary(sides["floor"]),
        "added_latency_ms": added_latency(sides["direct"], sides["floor"]),
        "cpu": dict(cpu) if cpu else None,
        "gateway_cpu_ratio": ratio,
        "note": "the least a gateway on this HTTP server, upstream client and SSE relay adds on this machine "
        "(no keys, limits, routing, safety, logs, audit or metrics); the product's added latency minus "
        "this is what its features cost",
    }


def added_latency(direct: Mapping[str, Any], gateway: Mapping[str, Any]) -> dict[str, float]:
    """Gateway percentile minus direct percentile, for E2E and TTFT at P50 and P99 (ms)."""
    out: dict[str, float] = {}
    for kind in ("e2e", "ttft"):
        for q in (50, 99):
            out[f"{kind}_p{q}_ms"] = percentile(gateway[f"{kind}_ms"], q) - percentile(
                direct[f"{kind}_ms"], q
            )
    return out


async def encrypted_comparison(config: GatewayBenchConfig, handle: GatewayHandle) -> dict[str, Any] | None:
    """Plain vs encrypted (``SecureTransport``) httpx runs through the gateway, or why they were skipped."""
    gateway = handle.server
    try:
        from inference.gateway.secure.client import SecureTransport
    except ImportError:
        return {"skipped": "inference.gateway.secure.client.SecureTransport is not importable"}
    async with httpx.AsyncClient(timeout=10.0) as probe:
        key = await probe.get(f"{gateway.base_url}/v1/secure/key", headers=handle.headers)
    if key.status_code != 200:
        return {"skipped": f"the gateway answers GET /v1/secure/key with {key.status_code}"}
    fingerprint = key.json()["fingerprint"]
    api_key = handle.headers.get("Authorization", "").removeprefix("Bearer ") or None
    body = chat_body("bench", model=handle.model, max_tokens=config.chunks, ignore_eos=False)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=1000)
    plain_http = httpx.AsyncClient(timeout=60.0, limits=limits)
    secure_http = httpx.AsyncClient(
        timeout=60.0,
        transport=SecureTransport(
            server_fingerprint=fingerprint, inner=httpx.AsyncHTTPTransport(limits=limits)
        ),
    )
    senders = {
        "plain": HttpxSender(api_base=f"{gateway.base_url}/v1", api_key=api_key, http=plain_http),
        "encrypted": HttpxSender(api_base=f"{gateway.base_url}/v1", api_key=api_key, http=secure_http),
    }
    samples: dict[str, list[float]] = {"plain": [], "encrypted": []}
    errors: dict[str, int] = {"plain": 0, "encrypted": 0}
    try:
        for sender in senders.values():
            for _ in range(5):
                await sender.send(body)
        per_round = max(1, config.encrypted_requests // (2 * config.rounds))
        for index in range(config.rounds):
            order = ["plain", "encrypted"] if index % 2 == 0 else ["encrypted", "plain"]
            for name in order:
                offsets = arrival_offsets(per_round, rate=config.encrypted_rate, seed=config.seed + index)
                run = await run_open_loop(senders[name], [body] * per_round, offsets)
                samples[name].extend(o.e2e_s for o in run.outcomes if o.success)
                errors[name] += sum(not o.success for o in run.outcomes)
    finally:
        await plain_http.aclose()
        await secure_http.aclose()
    plain, encrypted = summarize_ms(samples["plain"]), summarize_ms(samples["encrypted"])
    return {
        "rate": config.encrypted_rate,
        "client": "httpx (both sides), SecureTransport for the encrypted side",
        "plain_e2e_ms": plain,
        "encrypted_e2e_ms": encrypted,
        "errors": errors,
        "added_p50_ms": encrypted["p50"] - plain["p50"],
        "added_p99_ms": encrypted["p99"] - plain["p99"],
    }


def _envelope_overhead(config: GatewayBenchConfig) -> dict[str, Any]:
    try:
        from inference.gateway.secure.bench import measure_overhead
    except ImportError as exc:
        return {"skipped": f"inference.gateway.secure.bench is not importable: {exc}"}
    measured: dict[str, Any] = measure_overhead(
        iterations=config.overhead_iterations, handshakes=config.overhead_handshakes
    )
    return measured


def sockets_per_stream(protocol: str) -> int:
    """Gateway sockets one held stream costs: its client's, plus its own upstream connection on HTTP/1.1."""
    return 1 if protocol == "h2c" else 2


def stream_levels(levels: tuple[int, ...], protocol: str = "http1") -> tuple[list[int], int]:
    """``levels`` capped to what the gateway's open-file limit allows at ``protocol``'s sockets per stream."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    per_stream = sockets_per_stream(protocol)
    cap = (hard - _FD_RESERVE) // per_stream if hard != resource.RLIM_INFINITY else max(levels)
    capped = sorted({min(level, cap) for level in levels if level > 0})
    return capped, cap


@dataclass(frozen=True, slots=True)
class GatewayHandle:
    """A started gateway: its process, the headers and the model name its clients send."""

    server: ServerProcess
    headers: dict[str, str]
    model: str
    pids: tuple[int, ...] = ()  # every process serving the gateway port (``--gateway-workers``)


async def launch_gateway(
    config: GatewayBenchConfig,
    *,
    name: str,
    upstream: ServerProcess,
    logs: Path,
    protocol: str = "http1",
    workers: int = 1,
) -> GatewayHandle:
    """Start the gateway in front of ``upstream``: the ``--gateway-factory`` app, or ``--gateway-module``.

    ``protocol`` (``http1`` or ``h2c``) is passed to the module as ``--upstream-protocol``; a factory
    app chooses its own. ``workers`` > 1 runs that many gateway processes on the port (module only).
    """
    log = (logs / f"{name}.log").open("wb")
    if config.factory:
        server = start_server(
            name,
            "benchmarks.serving.gatewayproc",
            ["--factory", config.factory, "--upstream", f"{upstream.base_url}/v1", "--model", config.model],
            log=log,
        )
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        return GatewayHandle(server=server, headers=headers, model=config.model, pids=(server.process.pid,))
    args = ["--upstream", f"{upstream.base_url}/v1", "--model", config.model, "--data-dir", str(logs / name)]
    if not config.gateway_safety:
        args.append("--no-safety")
    if workers > 1:
        args += ["--workers", str(workers)]
    if protocol != "http1":
        args += ["--upstream-protocol", protocol]
    server, info = await asyncio.to_thread(
        start_announcing_server,
        name,
        config.gateway_module,
        args,
        log=log,
        timeout_s=config.ready_timeout_s * 3,
    )
    api_key = config.api_key or info.get("api_key")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    pids = tuple(int(pid) for pid in info.get("worker_pids") or [server.process.pid])
    return GatewayHandle(
        server=server, headers=headers, model=str(info.get("model") or config.model), pids=pids
    )


def _placement(config: GatewayBenchConfig) -> Placement | str:
    if not config.pin_cpus:
        return "turned off (--no-pin-cpus)"
    return plan(config.gateway_workers)


async def _latency_phase(config: GatewayBenchConfig, logs: Path) -> dict[str, Any]:
    body = chat_body("bench", model=config.model, max_tokens=config.chunks, ignore_eos=False)
    placement = _placement(config)
    pinned = placement if isinstance(placement, Placement) else None
    with clients_pinned(pinned), running([]) as servers:
        upstream = start_server(
            "upstream",
            "benchmarks.serving.fakeupstream",
            ["--model", config.model, "--chunks", str(config.chunks)],
            log=(logs / "upstream.log").open("wb"),
        )
        servers.append(upstream)
        await wait_ready(
            upstream, body=body, headers={}, timeout_s=config.ready_timeout_s, log=logs / "upstream.log"
        )
        gateway = await launch_gateway(
            config, name="gateway", upstream=upstream, logs=logs, workers=config.gateway_workers
        )
        servers.append(gateway.server)
        if pinned is not None:
            for pid in gateway.pids:
                pin_process(pid, pinned.gateway_cpus)
        gateway_body = {**body, "model": gateway.model}
        await wait_ready(
            gateway.server,
            body=gateway_body,
            headers=gateway.headers,
            timeout_s=config.ready_timeout_s,
            log=logs / "gateway.log",
        )
        targets = {
            "direct": {**_target(upstream, {}), "body": body},
            "gateway": {**_target(gateway.server, gateway.headers), "body": gateway_body},
        }
        floor: GatewayHandle | None = None
        if config.floor:
            floor = await launch_gateway(
                replace(config, factory=FLOOR_FACTORY, api_key=None),
                name="floor",
                upstream=upstream,
                logs=logs,
            )
            servers.append(floor.server)
            if pinned is not None:
                pin_process(floor.server.process.pid, pinned.gateway_cpus)
            await wait_ready(
                floor.server, body=body, headers={}, timeout_s=config.ready_timeout_s, log=logs / "floor.log"
            )
            targets["floor"] = {**_target(floor.server, {}), "body": body}
        spec = {
            "mode": "latency",
            "rate": config.rate,
            "round_s": config.round_s,
            "rounds": config.rounds,
            "warmup": config.warmup,
            "seed": config.seed,
            "targets": targets,
        }
        budget = config.rounds * len(targets) * (config.round_s * 5 + 30) + 60
        measured = {"gateway": gateway.pids, **({"floor": floor.pids} if floor is not None else {})}
        idle = {name: await _idle_cpu_share(pids) for name, pids in measured.items()}
        cpu_before = {name: _cpu_total(pids) for name, pids in measured.items()}
        wall_before = time.perf_counter()
        loaded = await asyncio.to_thread(run_loadgen, spec, timeout_s=budget)
        wall = time.perf_counter() - wall_before
        cpu_use = {
            name: _cpu_use(
                pids,
                cpu_s=_cpu_total(pids) - cpu_before[name],
                idle_share=idle[name],
                wall_s=wall,
                served=loaded["targets"][name]["requests"] + config.warmup,
            )
            for name, pids in measured.items()
        }
        encrypted = await encrypted_comparison(config, gateway) if config.encryption else None
    return {
        "loadgen": loaded,
        "encrypted": encrypted,
        "gateway_cpu": cpu_use["gateway"],
        "floor_cpu": cpu_use.get("floor"),
        "cpu_placement": pinned.as_dict() if pinned is not None else {"pinned": False, "reason": placement},
    }


def _cpu_use(
    pids: tuple[int, ...], *, cpu_s: float, idle_share: float, wall_s: float, served: int
) -> dict[str, Any]:
    """CPU per request of one server over the load generator's run, also less its idle background."""
    return {
        "processes": len(pids),
        "cpu_s": cpu_s,
        "idle_cpu_share": idle_share,
        "ms_per_request": cpu_s / served * 1000.0,
        "ms_per_request_less_idle": (cpu_s - idle_share * wall_s) / served * 1000.0,
    }


def _cpu_total(pids: tuple[int, ...]) -> float:
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


async def _idle_cpu_share(pids: tuple[int, ...], *, seconds: float = 2.0) -> float:
    """The gateway processes' CPU share with no load (their background loops)."""
    before = _cpu_total(pids)
    await asyncio.sleep(seconds)
    return (_cpu_total(pids) - before) / seconds


async def _streams_phase(config: GatewayBenchConfig, logs: Path) -> dict[str, Any]:
    protocol = config.stream_protocol
    levels, cap = stream_levels(config.streams, protocol)
    if not levels:
        return {"levels": [], "fd_cap": cap, "upstream_protocol": protocol}
    chunks = 4
    interval_ms = config.stream_hold_s * 1000.0 / chunks
    with running([]) as servers:
        upstream = start_server(
            "slow-upstream",
            "benchmarks.serving.fakeupstream",
            [
                "--model",
                config.model,
                "--chunks",
                str(chunks),
                "--interval-ms",
                str(interval_ms),
                "--protocol",
                protocol,
            ],
            log=(logs / "slow-upstream.log").open("wb"),
        )
        servers.append(upstream)
        # readiness with a non-streaming request: the slow upstream answers those at once
        ready = chat_body("ready", model=config.model, max_tokens=1, ignore_eos=False, stream=False)
        await wait_ready(
            upstream, body=ready, headers={}, timeout_s=config.ready_timeout_s, log=logs / "slow-upstream.log"
        )
        gateway = await launch_gateway(
            config, name="streams-gateway", upstream=upstream, logs=logs, protocol=protocol
        )
        servers.append(gateway.server)
        await wait_ready(
            gateway.server,
            body={**ready, "model": gateway.model},
            headers=gateway.headers,
            timeout_s=config.ready_timeout_s,
            log=logs / "streams-gateway.log",
        )
        spec = {
            "request_timeout_s": config.stream_hold_s * 3 + 30.0,
            "ttft_bound_ms": config.stream_ttft_ms,
            "e2e_bound_ms": (config.stream_hold_s + config.stream_slack_s) * 1000.0,
            "mode": "streams",
            "levels": levels,
            "ramp_s": config.ramp_s,
            "body": chat_body("bench", model=gateway.model, max_tokens=chunks, ignore_eos=False),
            "target": _target(gateway.server, gateway.headers),
            "min_success": 0.999,
        }
        budget = len(levels) * (config.ramp_s + config.stream_hold_s * 3 + 30 + 60) + 60
        sampler = ProcessSampler(gateway.server.process.pid)
        sampler.start()
        try:
            loaded = await asyncio.to_thread(run_loadgen, spec, timeout_s=budget)
        finally:
            process = sampler.stop()
    return {
        "levels": loaded["levels"],
        "fd_cap": cap,
        "upstream_protocol": protocol if not config.factory else f"{protocol} upstream, factory's client",
        "requested_levels": list(config.streams),
        "gateway_process": process,
        "hold_s": config.stream_hold_s,
        "ramp_s": config.ramp_s,
    }


def stream_limit(streams: Mapping[str, Any], *, min_success: float = 0.999) -> dict[str, Any]:
    """What bounded the streams held: the first failing level's errors, else the open-file cap, else none.

    Also the gateway's memory per open stream: its peak RSS above its idle RSS over the most streams
    open at once in any level (the peak comes from the largest level, passing or not).
    """
    levels = streams["levels"]
    failing = next((lv for lv in levels if lv["success_rate"] < min_success), None)
    held = max((lv["peak_streaming"] for lv in levels if lv["success_rate"] >= min_success), default=0)
    requested = max(streams.get("requested_levels") or [0], default=0)
    if failing is not None:
        late = failing["completed"] - failing["within_bounds"]
        reason = "errors" if failing["errors"] else "latency_bounds"
        detail: Any = failing["errors"] or f"{late} streams completed outside the TTFT/E2E bounds"
        limited = {"by": reason, "level": failing["streams"], "detail": detail}
    elif requested > streams["fd_cap"]:
        sockets = (
            "one socket each (the client's; upstream streams share h2c connections)"
            if str(streams.get("upstream_protocol", "http1")).startswith("h2c")
            else "two sockets each (client + upstream HTTP/1.1 connection)"
        )
        limited = {
            "by": "fd_limit",
            "level": streams["fd_cap"],
            "detail": f"the hard open-file limit allows {streams['fd_cap']} streams at {sockets}; "
            "higher levels were not attempted",
        }
    else:
        limited = {"by": "none", "level": requested, "detail": "every requested level was held"}
    process = streams.get("gateway_process") or {}
    per_stream_kib = None
    most_open = max((lv["peak_streaming"] for lv in levels), default=0)
    if most_open and process.get("peak_rss_mib") is not None and process.get("baseline_rss_mib") is not None:
        per_stream_kib = (process["peak_rss_mib"] - process["baseline_rss_mib"]) * 1024 / most_open
    return {"held": held, "limited": limited, "rss_per_stream_kib": per_stream_kib}


async def run_gateway_bench(config: GatewayBenchConfig) -> dict[str, Any]:
    """Run every phase and return the JSON-ready report."""
    with tempfile.TemporaryDirectory(prefix="stic-bench-gateway-") as scratch:
        logs = config.log_dir or Path(scratch)
        logs.mkdir(parents=True, exist_ok=True)
        latency = await _latency_phase(config, logs)
        streams = await _streams_phase(config, logs) if config.streams else None
    overhead = _envelope_overhead(config) if config.encryption else None
    return build_report(config, latency=latency, streams=streams, overhead=overhead)


def build_report(
    config: GatewayBenchConfig,
    *,
    latency: Mapping[str, Any],
    streams: Mapping[str, Any] | None,
    overhead: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Combine the phases into the report and its ``results`` rows."""
    sides = latency["loadgen"]["targets"]
    direct, gateway = _side_summary(sides["direct"]), _side_summary(sides["gateway"])
    added = added_latency(sides["direct"], sides["gateway"])
    floor = _floor_summary(sides, latency.get("floor_cpu"), latency.get("gateway_cpu"))
    environment = {
        **host_environment(),
        "upstream": "fake OpenAI-compatible server (simulated: fixed completion, no model)",
        "upstream_chunks": config.chunks,
        "gateway": config.factory or config.gateway_module,
        "gateway_content_safety": None if config.factory else config.gateway_safety,
        "gateway_workers": config.gateway_workers,
        "cpu_placement": latency.get("cpu_placement"),
        "load_generator": "separate process, asyncio + httptools HTTP/1.1 keep-alive client",
        "processes": "upstream, gateway and load generator each in their own process",
    }
    method = (
        f"stic bench gateway: open-loop Poisson streaming chat completions at {config.rate} req/s, "
        f"{config.rounds} interleaved rounds of {config.round_s} s per side; gateway percentile minus "
        "direct percentile of E2E"
    )
    achieved = min(direct["achieved_rate"], gateway["achieved_rate"])
    gateway_cpu = latency.get("gateway_cpu")
    rows = [
        result(
            "gateway_added_latency_p50",
            added["e2e_p50_ms"],
            "ms",
            method,
            environment,
            details={"achieved_rate": achieved},
        ),
        result(
            "gateway_added_latency_p99",
            added["e2e_p99_ms"],
            "ms",
            method,
            environment,
            details={"achieved_rate": achieved},
        ),
        result("gateway_added_ttft_p50", added["ttft_p50_ms"], "ms", method, environment),
        result("gateway_added_ttft_p99", added["ttft_p99_ms"], "ms", method, environment),
    ]
    if gateway_cpu:
        rows.append(
            result(
                "gateway_cpu_per_request",
                gateway_cpu["ms_per_request"],
                "ms",
                "CPU seconds (user + system, /proc) of every gateway process over the load generator's "
                "run, divided by the gateway requests (warm-up included); the processes also idle through "
                "the direct rounds, so this includes their background loops "
                f"({gateway_cpu['processes']} process(es))",
                environment,
                details=dict(gateway_cpu),
            )
        )
    if floor is not None:
        floor_method = (
            f"{method}; the floor relay ({FLOOR_FACTORY}: the gateway's HTTP server, upstream client "
            "and SSE relay with no product feature) as a third side on the gateway's CPUs"
        )
        for q in (50, 99):
            rows.append(
                result(
                    f"gateway_floor_added_latency_p{q}",
                    floor["added_latency_ms"][f"e2e_p{q}_ms"],
                    "ms",
                    floor_method,
                    environment,
                )
            )
        if floor.get("cpu"):
            rows.append(
                result(
                    "gateway_floor_cpu_per_request",
                    floor["cpu"]["ms_per_request"],
                    "ms",
                    "CPU seconds of the floor relay's process over the load generator's run, divided by its "
                    "requests (warm-up included)",
                    environment,
                    details=dict(floor["cpu"]),
                )
            )
        if floor.get("gateway_cpu_ratio") is not None:
            rows.append(
                result(
                    "gateway_cpu_over_floor",
                    floor["gateway_cpu_ratio"],
                    "ratio",
                    "the gateway's CPU per request over the floor relay's (each less its idle share), same "
                    "run, same pinned CPUs: what the product's features multiply the bare stack's cost by",
                    environment,
                )
            )
    encrypted = latency.get("encrypted")
    if overhead and "per_request_us" in overhead:
        rows.append(
            result(
                "gateway_encryption_cpu_per_request",
                overhead["per_request_us"] / 1000.0,
                "ms",
                "inference.gateway.secure.bench.measure_overhead: SM4-GCM seal+open of a request and "
                "a response body (median, CPU, no network)",
                environment,
                details=dict(overhead),
            )
        )
    if encrypted and "added_p50_ms" in encrypted:
        enc_method = (
            f"httpx plain vs httpx+SecureTransport through the gateway at {config.encrypted_rate} req/s, "
            "interleaved; encrypted percentile minus plain percentile of E2E"
        )
        rows.append(
            result(
                "gateway_encrypted_added_latency_p50",
                encrypted["added_p50_ms"],
                "ms",
                enc_method,
                environment,
            )
        )
        rows.append(
            result(
                "gateway_encrypted_added_latency_p99",
                encrypted["added_p99_ms"],
                "ms",
                enc_method,
                environment,
            )
        )
    held = None
    if streams is not None and "levels" in streams and "fd_cap" in streams:
        streams = {**streams, **stream_limit(streams)}
        held = streams["held"]
        rows.append(
            result(
                "gateway_max_open_sse_streams",
                held,
                "connections",
                f"concurrent SSE streams through one gateway process, opened over {streams.get('ramp_s')} s "
                f"and held {streams.get('hold_s')} s by a slow fake upstream called over "
                f"{streams.get('upstream_protocol', 'http1')}; the most streaming at once "
                f"(first chunk received, not yet ended) at a level where >= 99.9 % completed with TTFT <= "
                f"{config.stream_ttft_ms} ms and E2E <= hold + {config.stream_slack_s} s (levels capped at "
                f"{streams['fd_cap']} by the open-file limit)",
                environment,
                details={
                    "upstream_protocol": streams.get("upstream_protocol", "http1"),
                    "levels": streams["levels"],
                    "limited": streams["limited"],
                    "rss_per_stream_kib": streams["rss_per_stream_kib"],
                    "gateway_process": streams.get("gateway_process"),
                },
            )
        )
    report = {
        "benchmark": "gateway",
        "target_rate": config.rate,
        "achieved_rate": achieved,
        "rate_reached": achieved >= 0.95 * config.rate,
        "direct": direct,
        "gateway": gateway,
        "added_latency_ms": added,
        "gateway_cpu": gateway_cpu,
        "floor": floor,
        "cpu_placement": latency.get("cpu_placement"),
        "loadgen": {
            "cpu_share_max": max(direct["loadgen_cpu_share"], gateway["loadgen_cpu_share"]),
            "cpu_us_per_request_direct": direct["loadgen_cpu_us_per_request"],
            "sender_lag_p99_ms": max(direct["sender_lag_p99_ms"], gateway["sender_lag_p99_ms"]),
            "note": "the direct side's latency bounds what the generator itself adds; a CPU share near 1.0 "
            "or a large send lag means the generator, not the servers, limited the rate",
        },
        "encryption": {"envelope_overhead": overhead, "encrypted_run": encrypted},
        "streams": streams,
        "goal": {
            "added_p50_ms_max": GOAL_P50_MS,
            "added_p99_ms_max": GOAL_P99_MS,
            "streams_min": GOAL_STREAMS,
            "at_rate": config.rate,
            "latency_met": added["e2e_p50_ms"] <= GOAL_P50_MS and added["e2e_p99_ms"] <= GOAL_P99_MS,
            "streams_met": None if held is None else held >= GOAL_STREAMS,
        },
        "latencies_ms": {name: [round(v, 3) for v in side["e2e_ms"]] for name, side in sides.items()},
        "results": rows,
    }
    return dict(rounded(report))


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"--streams must be comma-separated integers, got {text!r}") from exc
    if any(level < 1 for level in levels):
        raise typer.BadParameter("--streams levels must be positive")
    return levels


def command(
    format: Annotated[str, typer.Option("--format", help="json or text.")] = "text",
    gateway_module: Annotated[
        str, typer.Option("--gateway-module", help="Gateway process module (prints its URL and key).")
    ] = DEFAULT_MODULE,
    gateway_factory: Annotated[
        str | None,
        typer.Option("--gateway-factory", help="module:function ASGI factory instead of the module."),
    ] = None,
    gateway_safety: Annotated[
        bool,
        typer.Option("--gateway-safety/--no-gateway-safety", help="Content-safety checks in the gateway."),
    ] = True,
    gateway_workers: Annotated[
        int,
        typer.Option(
            "--gateway-workers",
            min=1,
            help="Gateway processes on the port for the latency phase (the extra ones gateway-only).",
        ),
    ] = 1,
    pin_cpus: Annotated[
        bool,
        typer.Option(
            "--pin-cpus/--no-pin-cpus",
            help="Latency phase: the gateway on CPUs of its own, upstream and load generator on the rest.",
        ),
    ] = True,
    floor: Annotated[
        bool,
        typer.Option(
            "--floor/--no-floor",
            help="Latency phase: also run the bare floor relay (benchmarks.serving.floor) as a third side.",
        ),
    ] = False,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="STIC_BENCH_API_KEY")] = None,
    rate: Annotated[float, typer.Option("--rate", min=0.1, help="Target requests per second.")] = 1000.0,
    round_s: Annotated[float, typer.Option("--round-s", min=0.1, help="Seconds per side per round.")] = 2.0,
    rounds: Annotated[int, typer.Option("--rounds", min=1)] = 3,
    chunks: Annotated[int, typer.Option("--chunks", min=1, help="SSE chunks per fake completion.")] = 8,
    warmup: Annotated[int, typer.Option("--warmup", min=0)] = 50,
    encryption: Annotated[bool, typer.Option("--encryption/--no-encryption")] = True,
    encrypted_rate: Annotated[float, typer.Option("--encrypted-rate", min=0.1)] = 50.0,
    encrypted_requests: Annotated[int, typer.Option("--encrypted-requests", min=2)] = 200,
    streams: Annotated[
        str, typer.Option("--streams", help="Stream levels, e.g. 1000,2000,5000,10000; '' skips.")
    ] = "1000,2000,5000,10000",
    ramp_s: Annotated[float, typer.Option("--ramp-s", min=0.0)] = 5.0,
    stream_ttft_ms: Annotated[
        float, typer.Option("--stream-ttft-ms", min=1.0, help="TTFT bound per stream.")
    ] = 2000.0,
    stream_slack_s: Annotated[
        float, typer.Option("--stream-slack-s", min=0.0, help="E2E bound = hold + slack.")
    ] = 5.0,
    stream_hold_s: Annotated[float, typer.Option("--stream-hold-s", min=0.1)] = 10.0,
    stream_upstream_protocol: Annotated[
        str,
        typer.Option(
            "--stream-upstream-protocol",
            help="h2c (streams share upstream HTTP/2 connections) or http1 (one connection per stream).",
        ),
    ] = "h2c",
    log_dir: Annotated[Path | None, typer.Option("--log-dir", help="Keep server logs here.")] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write direct vs gateway latency CDFs (PNG).")
    ] = None,
) -> None:
    """Measure the gateway's added latency, encryption overhead and open-stream capacity."""
    if format not in ("json", "text"):
        raise typer.BadParameter(f"--format must be json or text, not {format!r}")
    if stream_upstream_protocol not in ("http1", "h2c"):
        raise typer.BadParameter(
            f"--stream-upstream-protocol must be http1 or h2c, not {stream_upstream_protocol!r}"
        )
    config = GatewayBenchConfig(
        factory=gateway_factory,
        gateway_module=gateway_module,
        gateway_safety=gateway_safety,
        gateway_workers=gateway_workers,
        pin_cpus=pin_cpus,
        floor=floor,
        api_key=api_key,
        rate=rate,
        round_s=round_s,
        rounds=rounds,
        chunks=chunks,
        warmup=warmup,
        encryption=encryption,
        encrypted_rate=encrypted_rate,
        encrypted_requests=encrypted_requests,
        streams=_levels(streams),
        ramp_s=ramp_s,
        stream_ttft_ms=stream_ttft_ms,
        stream_slack_s=stream_slack_s,
        stream_hold_s=max(stream_hold_s, ramp_s + 1.0),
        stream_protocol=stream_upstream_protocol,
        log_dir=log_dir,
    )
    report = asyncio.run(run_gateway_bench(config))
    if plot is not None:
        from benchmarks.serving.plot import plot_gateway

        plot_gateway(report, plot)
    if format == "json":
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    print_results(report, title=f"stic bench gateway (achieved {report['achieved_rate']} of {rate} req/s)")
