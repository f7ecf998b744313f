"""Serving metrics with vLLM's definitions (``vllm bench serve``'s ``calculate_metrics``).

Per successful request, from the client's clock (seconds, relative to when the request was sent):

- TTFT: arrival of the first stream chunk whose ``choices`` is non-empty.
- E2E: arrival of the last data chunk of the stream.
- TPOT: ``(E2E - TTFT) / (output_tokens - 1)``, only for requests with more than one output token.
- ITL: the gaps between consecutive chunks carrying choices, pooled over all requests.

System figures: request throughput = successes / duration; output throughput (system TPS) = output
tokens of successes / duration; TPS per accelerator = system TPS / accelerators; goodput = successes
meeting every SLO / duration (a request with one output token has TPOT 0 for the SLO check, as in
vLLM). Percentiles interpolate linearly between ranks (numpy's default); an empty series gives 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PERCENTILES = (50.0, 90.0, 99.0)
SLO_NAMES = ("ttft_ms", "tpot_ms", "e2e_ms")


@dataclass(slots=True)
class RequestOutcome:
    """What one request measured; times in seconds from the moment it was sent.

    ``chunk_times`` are the arrival times of the chunks carrying ``choices`` (the first is the TTFT);
    ``output_tokens`` comes from the stream's final ``usage``, else the number of such chunks.
    """

    success: bool
    prompt_tokens: int = 0
    output_tokens: int = 0
    ttft_s: float = 0.0
    e2e_s: float = 0.0
    chunk_times: list[float] = field(default_factory=list)
    usage_reported: bool = False
    error: str | None = None
    sent_at: float = 0.0

    @property
    def itls(self) -> list[float]:
        """Gaps between consecutive content chunks."""
        return [b - a for a, b in zip(self.chunk_times, self.chunk_times[1:], strict=False)]

    @property
    def tpot_s(self) -> float | None:
        """``(E2E - TTFT) / (output_tokens - 1)``; ``None`` for fewer than two output tokens."""
        if self.output_tokens <= 1:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation (numpy's default); 0 when empty."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_ms(values_s: Sequence[float]) -> dict[str, float]:
    """Mean, P50/P90/P99 (and max) of ``values_s`` converted to milliseconds."""
    summary = {"mean": (sum(values_s) / len(values_s) * 1000.0) if values_s else 0.0}
    for q in PERCENTILES:
        summary[f"p{q:g}"] = percentile(values_s, q) * 1000.0
    summary["max"] = max(values_s) * 1000.0 if values_s else 0.0
    return summary


def parse_slos(text: str | None) -> dict[str, float]:
    """``"ttft_ms=500,tpot_ms=50"`` → ``{"ttft_ms": 500.0, "tpot_ms": 50.0}``; raises ``ValueError``."""
    slos: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in SLO_NAMES:
            raise ValueError(f"SLO {part.strip()!r} must be NAME=MS with NAME one of {', '.join(SLO_NAMES)}")
        number = float(value)
        if not math.isfinite(number) or number <= 0:
            raise ValueError(f"SLO {name} must be a positive number of milliseconds, got {value!r}")
        slos[name] = number
    return slos


def meets_slos(outcome: RequestOutcome, slos: Mapping[str, float]) -> bool:
    """True when a successful ``outcome`` is within every SLO (milliseconds)."""
    if not outcome.success:
        return False
    observed = {
        "ttft_ms": outcome.ttft_s * 1000.0,
        "tpot_ms": (outcome.tpot_s or 0.0) * 1000.0,
        "e2e_ms": outcome.e2e_s * 1000.0,
    }
    return all(observed[name] <= bound for name, bound in slos.items())


@dataclass(frozen=True, slots=True)
class ServingMetrics:
    """The figures of one load run (latencies in ms, rates per second)."""

    requests: int
    completed: int
    failed: int
    duration_s: float
    total_input_tokens: int
    total_output_tokens: int
    usage_reported: int
    request_throughput: float
    output_throughput: float
    total_token_throughput: float
    output_throughput_per_accelerator: float
    accelerators: int
    goodput: float | None
    slos: Mapping[str, float]
    ttft_ms: Mapping[str, float]
    tpot_ms: Mapping[str, float]
    itl_ms: Mapping[str, float]
    e2e_ms: Mapping[str, float]
    errors: Mapping[str, int]

    @property
    def success_rate(self) -> float:
        """Completed requests over sent requests (1.0 for an empty run)."""
        return self.completed / self.requests if self.requests else 1.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "requests": self.requests,
            "completed": self.completed,
            "failed": self.failed,
            "success_rate": self.success_rate,
            "duration_s": self.duration_s,
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
            "usage_reported": self.usage_reported,
            "request_throughput": self.request_throughput,
            "output_throughput": self.output_throughput,
            "total_token_throughput": self.total_token_throughput,
            "output_throughput_per_accelerator": self.output_throughput_per_accelerator,
            "accelerators": self.accelerators,
            "goodput": self.goodput,
            "slos": dict(self.slos),
            "ttft_ms": dict(self.ttft_ms),
            "tpot_ms": dict(self.tpot_ms),
            "itl_ms": dict(self.itl_ms),
            "e2e_ms": dict(self.e2e_ms),
            "errors": dict(self.errors),
        }


def calculate_metrics(
    outcomes: Sequence[RequestOutcome],
    *,
    duration_s: float,
    accelerators: int = 1,
    slos: Mapping[str, float] | None = None,
) -> ServingMetrics:
    """Aggregate ``outcomes`` of a run that lasted ``duration_s`` seconds (vLLM's definitions)."""
    if duration_s <= 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    if accelerators < 1:
        raise ValueError(f"accelerators must be at least 1, got {accelerators}")
    done = [o for o in outcomes if o.success]
    errors: dict[str, int] = {}
    for outcome in outcomes:
        if not outcome.success:
            key = outcome.error or "unknown"
            errors[key] = errors.get(key, 0) + 1
    tpots = [t for o in done if (t := o.tpot_s) is not None]
    itls = [gap for o in done for gap in o.itls]
    output_tokens = sum(o.output_tokens for o in done)
    input_tokens = sum(o.prompt_tokens for o in done)
    goodput = sum(meets_slos(o, slos) for o in done) / duration_s if slos else None
    return ServingMetrics(
        requests=len(outcomes),
        completed=len(done),
        failed=len(outcomes) - len(done),
        duration_s=duration_s,
        total_input_tokens=input_tokens,
        total_output_tokens=output_tokens,
        usage_reported=sum(o.usage_reported for o in done),
        request_throughput=len(done) / duration_s,
        output_throughput=output_tokens / duration_s,
        total_token_throughput=(input_tokens + output_tokens) / duration_s,
        output_throughput_per_accelerator=output_tokens / duration_s / accelerators,
        accelerators=accelerators,
        goodput=goodput,
        slos=dict(slos or {}),
        ttft_ms=summarize_ms([o.ttft_s for o in done]),
        tpot_ms=summarize_ms(tpots),
        itl_ms=summarize_ms(itls),
        e2e_ms=summarize_ms([o.e2e_s for o in done]),
        errors=errors,
    )
