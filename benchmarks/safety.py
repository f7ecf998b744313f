"""``stic bench safety``: per-request content-safety check latency on a 20,000-term pack.

Method: a rule pack of 20,000 distinct CJK terms (2–6 characters, fixed seed, four refuse/
mask/review categories) plus the PII detectors and two regexes is compiled once per keyword
backend. Prompts are 1,000 characters of CJK text with ASCII words, punctuation, a mobile
number and, in one prompt out of four, a pack term split by a separator; they are generated
from the same seed, so every run checks the same texts. Each backend runs the same prompts
(after a warm-up) through :func:`security.safety.engine.check` without the semantic stage;
P50/P99 are over ``requests`` checks, both wall-clock (``*_ms``, what a caller sees) and
thread CPU time (``*_cpu_ms``, which stays meaningful when other processes compete for the
cores: the 1-minute load average is recorded in ``environment``). Stage timings
(normalisation, automaton alone) are reported too, and the ratio of the backends' P50s (wall
and CPU), measured side by side in one process. The goal is P99 ≤ 2 ms per check (wall clock).
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from importlib import metadata
from typing import Annotated, Any

import typer

from security.safety.engine import check
from security.safety.keywords import BACKENDS
from security.safety.normalize import normalize
from security.safety.packs import CompiledPack, compile_pack
from security.safety.rules import parse_pack

SEED = 20240611
TERMS = 20_000
PROMPT_CHARS = 1_000
GOAL_P99_MS = 2.0
_CATEGORIES = (
    ("violence", "refuse", 100),
    ("fraud", "refuse", 90),
    ("abuse", "review", 80),
    ("spam", "mask", 10),
)


def _cjk(rng: random.Random) -> str:
    return chr(rng.randint(0x4E00, 0x9FA5))


def make_terms(count: int = TERMS, *, seed: int = SEED) -> list[str]:
    """``count`` distinct CJK terms of 2–6 characters, the same for the same seed."""
    rng = random.Random(seed)
    terms: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < count:
        term = "".join(_cjk(rng) for _ in range(rng.randint(2, 6)))
        if term not in terms:
            terms.add(term)
            ordered.append(term)
    return ordered


def make_pack_document(terms: list[str]) -> dict[str, Any]:
    """A pack document spreading ``terms`` over four categories, with PII and regex rules."""
    share = -(-len(terms) // len(_CATEGORIES))
    categories: dict[str, Any] = {
        name: {"action": action, "priority": priority, "keywords": terms[i * share : (i + 1) * share]}
        for i, (name, action, priority) in enumerate(_CATEGORIES)
    }
    categories["fraud"]["regexes"] = ["(转账|汇款)到.{0,6}安全账户", r"launder(ing)? money"]
    return {
        "id": "bench",
        "version": "1.0.0",
        "categories": categories,
        "pii": {
            kind: {"action": "mask", "priority": 50} for kind in ("china_id", "mobile", "bank_card", "email")
        },
    }


def make_prompts(terms: list[str], count: int, *, seed: int = SEED) -> list[str]:
    """``count`` prompts of exactly ``PROMPT_CHARS`` characters (see module docstring)."""
    rng = random.Random(seed + 1)
    words = ["model", "cloud", "GPU", "latency", "的", "，", "。", " ", "2024", "ok"]
    prompts = []
    for index in range(count):
        parts = [_cjk(rng) if rng.random() < 0.8 else rng.choice(words) for _ in range(PROMPT_CHARS)]
        parts.insert(rng.randrange(len(parts)), " 13812345678 ")
        if index % 4 == 0:
            term = rng.choice(terms)
            parts.insert(rng.randrange(len(parts)), term[0] + " * " + term[1:])
        prompts.append("".join(parts)[:PROMPT_CHARS])
    return prompts


def _check(text: str, *, pack: CompiledPack) -> object:
    return check(text, pack=pack)


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p99": cuts[98], "mean": statistics.fmean(ordered), "max": ordered[-1]}


def _time(fn: Callable[[str], object], prompts: list[str], requests: int) -> tuple[list[float], list[float]]:
    """Wall-clock and thread CPU milliseconds of ``requests`` calls, after a warm-up."""
    for prompt in prompts[: min(50, len(prompts))]:
        fn(prompt)
    wall: list[float] = []
    cpu: list[float] = []
    for index in range(requests):
        prompt = prompts[index % len(prompts)]
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        fn(prompt)
        cpu.append((time.thread_time_ns() - started_cpu) / 1e6)
        wall.append((time.perf_counter_ns() - started) / 1e6)
    return wall, cpu


def _environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in ("ahocorasick-rs", "pyahocorasick", "opencc-python-reimplemented"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "packages": versions,
    }


def _result(metric: str, value: float, unit: str, method: str, environment: dict[str, Any]) -> dict[str, Any]:
    return {
        "metric": metric,
        "value": round(value, 4),
        "unit": unit,
        "method": method,
        "environment": environment,
    }


def run(*, requests: int = 2000, terms: int = TERMS, seed: int = SEED) -> dict[str, Any]:
    """Run the benchmark and return the result object (see module docstring)."""
    if requests < 2:
        raise ValueError(f"requests must be at least 2, got {requests}")
    term_list = make_terms(terms, seed=seed)
    document = make_pack_document(term_list)
    prompts = make_prompts(term_list, min(requests, 200), seed=seed)
    pack = parse_pack(document, source="bench")
    backends: dict[str, Any] = {}
    refused = 0
    for backend in BACKENDS:
        started = time.perf_counter()
        compiled: CompiledPack = compile_pack(pack, backend=backend)
        build_s = time.perf_counter() - started
        compact_prompts = [normalize(prompt).compact.text for prompt in prompts]
        automaton_wall, automaton_cpu = _time(compiled.matcher.find, compact_prompts, requests)
        check_wall, check_cpu = _time(partial(_check, pack=compiled), prompts, requests)
        refused = sum(check(prompt, pack=compiled).action.value == "refuse" for prompt in prompts)
        backends[backend] = {
            "build_s": round(build_s, 3),
            "check_ms": _percentiles(check_wall),
            "check_cpu_ms": _percentiles(check_cpu),
            "automaton_ms": _percentiles(automaton_wall),
            "automaton_cpu_ms": _percentiles(automaton_cpu),
        }
    normalise_wall, normalise_cpu = _time(normalize, prompts, requests)
    default = backends["ahocorasick-rs"]["check_ms"]
    environment = _environment()
    method = (
        f"engine.check without the semantic stage, {requests} requests over {len(prompts)} prompts of "
        f"{PROMPT_CHARS} chars, {terms} CJK terms, seed {seed}, one process, perf_counter per call"
    )
    results = [
        _result(
            f"safety_check_{stat}_{clock}[{backend}]", data[f"check_{clock}"][stat], "ms", method, environment
        )
        for backend, data in backends.items()
        for clock in ("ms", "cpu_ms")
        for stat in ("p50", "p99")
    ]
    for clock in ("ms", "cpu_ms"):
        ratio = (
            backends["pyahocorasick"][f"check_{clock}"]["p50"]
            / backends["ahocorasick-rs"][f"check_{clock}"]["p50"]
        )
        metric = f"safety_check_p50_{clock}_ratio[pyahocorasick/ahocorasick-rs]"
        results.append(_result(metric, ratio, "ratio", method, environment))
    return {
        "benchmark": "safety",
        "terms": terms,
        "prompt_chars": PROMPT_CHARS,
        "requests": requests,
        "prompts": len(prompts),
        "prompts_refused": refused,
        "semantic_stage": False,
        "normalise_ms": _percentiles(normalise_wall),
        "normalise_cpu_ms": _percentiles(normalise_cpu),
        "backends": backends,
        "goal": {
            "p99_ms_max": GOAL_P99_MS,
            "backend": "ahocorasick-rs",
            "met": default["p99"] <= GOAL_P99_MS,
            "met_on_cpu_time": backends["ahocorasick-rs"]["check_cpu_ms"]["p99"] <= GOAL_P99_MS,
        },
        "results": results,
    }


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _round(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_round(item) for item in value]
    return value


def command(
    format: Annotated[str, typer.Option("--format", help="json or table.")] = "json",
    requests: Annotated[int, typer.Option("--requests", min=2, help="Checks timed per backend.")] = 2000,
) -> None:
    """Print P50/P99 content-safety check latency for each keyword backend."""
    if format not in ("json", "table"):
        raise typer.BadParameter(f"--format must be json or table, not {format!r}")
    result = _round(run(requests=requests))
    if format == "json":
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "backend", "build s", "check P50/P99 ms", "check CPU P50/P99 ms", "automaton CPU P50/P99 ms"
    )
    for backend, data in result["backends"].items():
        table.add_row(
            backend,
            str(data["build_s"]),
            f"{data['check_ms']['p50']} / {data['check_ms']['p99']}",
            f"{data['check_cpu_ms']['p50']} / {data['check_cpu_ms']['p99']}",
            f"{data['automaton_cpu_ms']['p50']} / {data['automaton_cpu_ms']['p99']}",
        )
    console = Console()
    console.print(table)
    normalise = result["normalise_cpu_ms"]
    console.print(f"normalise CPU P50/P99 ms: {normalise['p50']} / {normalise['p99']}")
    console.print(f"load average (1 min): {result['results'][0]['environment']['load_average_1m']}")
    goal = result["goal"]
    console.print(f"goal P99 ≤ {GOAL_P99_MS} ms met: {goal['met']} (on CPU time: {goal['met_on_cpu_time']})")
