"""``stic bench serve``: load an OpenAI-compatible endpoint and report vLLM's serving metrics.

Method: ``num_requests`` streaming chat completions (synthetic prompts of ``input_len`` words, fixed
seed; ``max_tokens = output_len``, ``ignore_eos`` when the upstream accepts it, usage requested in
the final chunk) are sent open-loop at Poisson arrival times (gamma gaps with ``burstiness``) after
a few warm-up requests. TTFT, TPOT, ITL and E2E (mean, P50/P90/P99) follow
:mod:`benchmarks.serving.metrics`. Optional searches:

- ``--search-max-qps --p99-bound e2e_ms=MS``: the highest Poisson rate whose P99 (failed requests
  count as infinitely slow) stays within the bound — bracketing, then bisection, at most
  ``--search-runs`` runs, each of ``--search-requests`` requests or ``--search-min-duration-s``
  seconds of arrivals at the probed rate, whichever is more (so a queue has time to build).
- ``--max-streams``: the most concurrent streams held with >= 99.9 % success (each stream must
  complete, and meet ``--slo`` when given): ramp by doubling, then bisection.

Results for the assessment (``results``): 7.3.1.a.1 mean TTFT, 7.3.1.b.1 system output TPS,
7.3.1.b.2 TPS per accelerator, 7.3.1.c.1 P99 E2E, 7.3.1.d.1 max QPS (with the search),
7.3.1.e.1 max streams (with the ramp), 7.3.1.f.1 mean TPOT; every figure of the run is in
``run`` and in each result's ``details``.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from benchmarks.serving.client import HttpxSender, Sender
from benchmarks.serving.environment import engine_from_models, host_environment
from benchmarks.serving.metrics import (
    RequestOutcome,
    ServingMetrics,
    calculate_metrics,
    meets_slos,
    parse_slos,
)
from benchmarks.serving.report import print_results, result, rounded
from benchmarks.serving.runner import LoadRun, run_open_loop
from benchmarks.serving.search import SearchResult, search_max_rate, search_max_streams
from benchmarks.serving.workload import arrival_offsets, chat_body, make_prompts

_BOUND_FIELDS = {"ttft_ms": "ttft_s", "tpot_ms": "tpot_s", "e2e_ms": "e2e_s"}


@dataclass(frozen=True, kw_only=True)
class ServeConfig:
    """Everything one ``stic bench serve`` run needs; see the command's options for meanings."""

    url: str
    model: str
    api_key: str | None = None
    num_requests: int = 100
    request_rate: float = 1.0
    burstiness: float = 1.0
    input_len: int = 128
    output_len: int = 64
    range_ratio: float = 0.0
    seed: int = 0
    max_concurrency: int | None = None
    warmup_requests: int = 2
    accelerators: int = 1
    accelerator: str = "cpu"
    slos: Mapping[str, float] = field(default_factory=dict)
    ignore_eos: str = "auto"
    search_max_qps: bool = False
    p99_bound: tuple[str, float] | None = None
    search_requests: int = 50
    search_runs: int = 6
    search_min_duration_s: float = 10.0
    search_start_rate: float = 1.0
    max_streams: bool = False
    streams_start: int = 8
    streams_max: int = 1024
    streams_runs: int = 8
    simulated: bool = False


class _CountingSender:
    """Wraps a sender and calls ``on_done`` after each request (for progress bars)."""

    def __init__(self, inner: Sender, on_done: Callable[[], None]) -> None:
        self._inner, self._on_done = inner, on_done

    async def send(self, body: Mapping[str, Any]) -> RequestOutcome:
        outcome = await self._inner.send(body)
        self._on_done()
        return outcome


async def probe_ignore_eos(sender: HttpxSender, model: str) -> bool:
    """True when the upstream accepts vLLM's ``ignore_eos`` (a one-token non-streaming request)."""
    body = chat_body("ping", model=model, max_tokens=1, ignore_eos=True, stream=False)
    response = await sender.post_json("chat/completions", body)
    return response.status_code == 200


def p99_with_failures(outcomes: list[RequestOutcome], field_name: str) -> float:
    """P99 in ms of ``field_name`` over all requests, a failed request counting as infinitely slow."""
    values = [(getattr(o, field_name) or 0.0) if o.success else math.inf for o in outcomes]
    if not values:
        return math.inf
    ordered = sorted(values)
    rank = (len(ordered) - 1) * 0.99
    low, high = math.floor(rank), math.ceil(rank)
    if math.isinf(ordered[high]):
        return math.inf
    return (ordered[low] + (ordered[high] - ordered[low]) * (rank - low)) * 1000.0


class ServeBenchmark:
    """Runs the loads of one configuration against one endpoint through ``sender``."""

    def __init__(self, config: ServeConfig, sender: Sender, *, ignore_eos: bool) -> None:
        self.config, self.sender, self.ignore_eos = config, sender, ignore_eos

    def _bodies(self, count: int, *, seed: int) -> list[dict[str, Any]]:
        prompts = make_prompts(
            count, input_len=self.config.input_len, seed=seed, range_ratio=self.config.range_ratio
        )
        return [
            chat_body(
                p, model=self.config.model, max_tokens=self.config.output_len, ignore_eos=self.ignore_eos
            )
            for p in prompts
        ]

    async def load(self, *, count: int, rate: float, seed: int, sender: Sender | None = None) -> LoadRun:
        """One open-loop run of ``count`` requests at ``rate`` per second."""
        offsets = arrival_offsets(count, rate=rate, burstiness=self.config.burstiness, seed=seed)
        return await run_open_loop(
            sender or self.sender,
            self._bodies(count, seed=seed),
            offsets,
            max_concurrency=self.config.max_concurrency,
        )

    def metrics(self, run: LoadRun) -> ServingMetrics:
        """vLLM's metrics of ``run``."""
        return calculate_metrics(
            run.outcomes,
            duration_s=run.duration_s,
            accelerators=self.config.accelerators,
            slos=self.config.slos or None,
        )

    async def search_qps(self) -> SearchResult:
        """The max Poisson rate within the P99 bound."""
        assert self.config.p99_bound is not None
        name, bound = self.config.p99_bound
        runs = 0

        async def measure(rate: float) -> float:
            nonlocal runs
            runs += 1
            count = max(self.config.search_requests, math.ceil(rate * self.config.search_min_duration_s))
            run = await self.load(count=count, rate=rate, seed=self.config.seed + runs)
            return p99_with_failures(run.outcomes, _BOUND_FIELDS[name])

        return await search_max_rate(
            measure, bound=bound, start_rate=self.config.search_start_rate, max_runs=self.config.search_runs
        )

    async def search_streams(self) -> SearchResult:
        """The most concurrent streams, all sent at once, completing (and within the SLOs) >= 99.9 %."""

        async def success_rate(n: int) -> float:
            bodies = self._bodies(n, seed=self.config.seed + n)
            run = await run_open_loop(self.sender, bodies, [0.0] * n)
            slos = self.config.slos
            good = sum(meets_slos(o, slos) if slos else o.success for o in run.outcomes)
            return good / n

        return await search_max_streams(
            success_rate,
            start=self.config.streams_start,
            maximum=self.config.streams_max,
            max_runs=self.config.streams_runs,
        )


def _method(config: ServeConfig, ignore_eos: bool) -> str:
    return (
        f"stic bench serve: {config.num_requests} streaming chat completions, Poisson arrivals at "
        f"{config.request_rate} req/s (burstiness {config.burstiness}), ~{config.input_len} input words, "
        f"max_tokens {config.output_len} (ignore_eos {'on' if ignore_eos else 'off'}), seed {config.seed}; "
        "vLLM definitions (TTFT first chunk with choices; TPOT (E2E-TTFT)/(tokens-1))"
    )


def build_results(
    config: ServeConfig,
    metrics: ServingMetrics,
    *,
    ignore_eos: bool,
    environment: Mapping[str, Any],
    qps: SearchResult | None,
    streams: SearchResult | None,
) -> list[dict[str, Any]]:
    """The 7.3.1 result rows of one benchmark."""
    method = _method(config, ignore_eos)
    figures = rounded(metrics.as_dict())
    sim = config.simulated
    rows = [
        result(
            "7.3.1.a.1",
            metrics.ttft_ms["mean"],
            "ms",
            f"mean TTFT; {method}",
            environment,
            details={"ttft_ms": figures["ttft_ms"]},
            simulated=sim,
        ),
        result(
            "7.3.1.b.1",
            metrics.output_throughput,
            "tokens/s",
            f"output tokens of successful requests / run duration; {method}",
            environment,
            details={"total_output_tokens": metrics.total_output_tokens, "duration_s": metrics.duration_s},
            simulated=sim,
        ),
        result(
            "7.3.1.b.2",
            metrics.output_throughput_per_accelerator,
            "tokens/s/GPU",
            f"system TPS / {config.accelerators} accelerator(s) of kind {config.accelerator}; {method}",
            environment,
            details={"accelerators": config.accelerators, "accelerator": config.accelerator},
            simulated=sim,
        ),
        result(
            "7.3.1.c.1",
            metrics.e2e_ms["p99"] / 1000.0,
            "s",
            f"P99 end-to-end latency; {method}",
            environment,
            details={"e2e_ms": figures["e2e_ms"]},
            simulated=sim,
        ),
        result(
            "7.3.1.f.1",
            metrics.tpot_ms["mean"],
            "ms/token",
            f"mean TPOT; {method}",
            environment,
            details={
                "tpot_ms": figures["tpot_ms"],
                "itl_ms": figures["itl_ms"],
                "goodput": figures["goodput"],
                "slos": figures["slos"],
            },
            simulated=sim,
        ),
    ]
    if qps is not None and config.p99_bound is not None:
        name, bound = config.p99_bound
        rows.append(
            result(
                "7.3.1.d.1",
                qps.best if qps.best is not None else 0.0,
                "QPS",
                f"highest Poisson request rate with P99 {name} <= {bound} ms (failures count as infinite), "
                f"bracketing + bisection over {len(qps.probes)} runs of max({config.search_requests} "
                f"requests, {config.search_min_duration_s} s of arrivals)",
                environment,
                details=rounded(qps.as_dict()),
                simulated=sim,
            )
        )
    if streams is not None:
        rule = f"completing within SLOs {dict(config.slos)}" if config.slos else "completing"
        rows.append(
            result(
                "7.3.1.e.1",
                streams.best if streams.best is not None else 0.0,
                "connections",
                f"most concurrent streaming requests sent at once with >= 99.9 % {rule}; ramp x2 then "
                f"bisection, {len(streams.probes)} runs, capped at {config.streams_max}",
                environment,
                details=rounded(streams.as_dict()),
                simulated=sim,
            )
        )
    return rows


async def run_serve(
    config: ServeConfig, *, http: httpx.AsyncClient | None = None, on_done: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Run the benchmark described by ``config`` and return the JSON-ready report."""
    sender = HttpxSender(api_base=config.url, api_key=config.api_key, http=http)
    try:
        models = await sender.get("models")
        engine = engine_from_models(models.json() if models.status_code == 200 else {}, config.model)
        if config.ignore_eos == "auto":
            ignore_eos = await probe_ignore_eos(sender, config.model)
        else:
            ignore_eos = config.ignore_eos == "on"
        bench = ServeBenchmark(config, sender, ignore_eos=ignore_eos)
        if config.warmup_requests:
            await bench.load(count=config.warmup_requests, rate=math.inf, seed=config.seed - 1)
        counted = _CountingSender(sender, on_done) if on_done else None
        main = await bench.load(
            count=config.num_requests, rate=config.request_rate, seed=config.seed, sender=counted
        )
        metrics = bench.metrics(main)
        qps = await bench.search_qps() if config.search_max_qps else None
        streams = await bench.search_streams() if config.max_streams else None
    finally:
        await sender.aclose()
    environment = {
        **host_environment(),
        "url": config.url,
        "model": config.model,
        "engine": engine,
        "accelerator": config.accelerator,
        "accelerators": config.accelerators,
        "load_generator": "httpx asyncio, same process",
    }
    run = rounded(metrics.as_dict())
    run.update(
        achieved_rate=round(main.achieved_rate, 4),
        sender_lag_ms={"p50": round(main.lag_p50_ms, 4), "p99": round(main.lag_p99_ms, 4)},
    )
    return {
        "benchmark": "serve",
        "ignore_eos": ignore_eos,
        "config": {
            "num_requests": config.num_requests,
            "request_rate": config.request_rate,
            "burstiness": config.burstiness,
            "input_len": config.input_len,
            "output_len": config.output_len,
            "seed": config.seed,
            "max_concurrency": config.max_concurrency,
            "slos": dict(config.slos),
        },
        "run": run,
        "latencies_ms": {
            "ttft": [round(o.ttft_s * 1000, 3) for o in main.outcomes if o.success],
            "e2e": [round(o.e2e_s * 1000, 3) for o in main.outcomes if o.success],
        },
        "qps_search": None if qps is None else rounded(qps.as_dict()),
        "streams_search": None if streams is None else rounded(streams.as_dict()),
        "results": build_results(
            config, metrics, ignore_eos=ignore_eos, environment=environment, qps=qps, streams=streams
        ),
    }


def _parse_bound(text: str | None) -> tuple[str, float] | None:
    if text is None:
        return None
    bounds = parse_slos(text)
    if len(bounds) != 1:
        raise typer.BadParameter("--p99-bound takes exactly one NAME=MS, e.g. e2e_ms=3000")
    return next(iter(bounds.items()))


def command(
    url: Annotated[str, typer.Option("--url", help="API base of the endpoint, ending in /v1.")],
    model: Annotated[str, typer.Option("--model", help="Model name to send.")],
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="STIC_BENCH_API_KEY")] = None,
    format: Annotated[str, typer.Option("--format", help="json or text.")] = "text",
    num_requests: Annotated[int, typer.Option("--num-requests", min=1)] = 100,
    request_rate: Annotated[
        float, typer.Option("--request-rate", help="Req/s; inf sends all at once.")
    ] = 1.0,
    burstiness: Annotated[float, typer.Option("--burstiness", help="Gamma shape; 1 = Poisson.")] = 1.0,
    input_len: Annotated[int, typer.Option("--input-len", min=1, help="Prompt words.")] = 128,
    output_len: Annotated[int, typer.Option("--output-len", min=1, help="max_tokens.")] = 64,
    range_ratio: Annotated[float, typer.Option("--range-ratio", min=0.0, max=0.99)] = 0.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    max_concurrency: Annotated[int | None, typer.Option("--max-concurrency", min=1)] = None,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Warm-up requests (not counted).")] = 2,
    accelerators: Annotated[int, typer.Option("--accelerators", min=1, help="Accelerators serving.")] = 1,
    accelerator: Annotated[str, typer.Option("--accelerator", help="Accelerator kind label.")] = "cpu",
    slo: Annotated[
        str | None, typer.Option("--slo", help="ttft_ms=…,tpot_ms=…,e2e_ms=… for goodput.")
    ] = None,
    ignore_eos: Annotated[str, typer.Option("--ignore-eos", help="auto (probe), on or off.")] = "auto",
    search_max_qps: Annotated[bool, typer.Option("--search-max-qps")] = False,
    p99_bound: Annotated[str | None, typer.Option("--p99-bound", help="e.g. e2e_ms=3000.")] = None,
    search_requests: Annotated[int, typer.Option("--search-requests", min=2)] = 50,
    search_runs: Annotated[int, typer.Option("--search-runs", min=1)] = 6,
    search_start_rate: Annotated[float, typer.Option("--search-start-rate", min=0.001)] = 1.0,
    search_min_duration_s: Annotated[float, typer.Option("--search-min-duration-s", min=0.0)] = 10.0,
    max_streams: Annotated[bool, typer.Option("--max-streams")] = False,
    streams_start: Annotated[int, typer.Option("--streams-start", min=1)] = 8,
    streams_max: Annotated[int, typer.Option("--streams-max", min=1)] = 1024,
    streams_runs: Annotated[int, typer.Option("--streams-runs", min=1)] = 8,
    simulated: Annotated[bool, typer.Option("--simulated", help="Mark results as simulated infra.")] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write latency CDFs (and QPS search) PNG.")
    ] = None,
) -> None:
    """Measure TTFT/TPOT/ITL/E2E, TPS and goodput of an OpenAI endpoint (vLLM's definitions)."""
    if format not in ("json", "text"):
        raise typer.BadParameter(f"--format must be json or text, not {format!r}")
    if ignore_eos not in ("auto", "on", "off"):
        raise typer.BadParameter("--ignore-eos must be auto, on or off")
    if search_max_qps and p99_bound is None:
        raise typer.BadParameter("--search-max-qps needs --p99-bound NAME=MS")
    try:
        slos = parse_slos(slo)
        bound = _parse_bound(p99_bound)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    config = ServeConfig(
        url=url,
        model=model,
        api_key=api_key,
        num_requests=num_requests,
        request_rate=request_rate,
        burstiness=burstiness,
        input_len=input_len,
        output_len=output_len,
        range_ratio=range_ratio,
        seed=seed,
        max_concurrency=max_concurrency,
        warmup_requests=warmup,
        accelerators=accelerators,
        accelerator=accelerator,
        slos=slos,
        ignore_eos=ignore_eos,
        search_max_qps=search_max_qps,
        p99_bound=bound,
        search_requests=search_requests,
        search_runs=search_runs,
        search_start_rate=search_start_rate,
        search_min_duration_s=search_min_duration_s,
        max_streams=max_streams,
        streams_start=streams_start,
        streams_max=max(streams_max, streams_start),
        streams_runs=streams_runs,
        simulated=simulated,
    )
    report = _run_with_progress(config, show=format == "text")
    if plot is not None:
        from benchmarks.serving.plot import plot_serve

        plot_serve(report, plot)
    if format == "json":
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    print_results(report, title="stic bench serve")


def _run_with_progress(config: ServeConfig, *, show: bool) -> dict[str, Any]:
    if not show:
        return asyncio.run(run_serve(config))
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("requests", total=config.num_requests)
        return asyncio.run(run_serve(config, on_done=lambda: progress.advance(task)))
