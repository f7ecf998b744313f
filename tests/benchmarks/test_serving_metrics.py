"""vLLM's serving metrics on synthetic timings, against hand-computed values."""

from __future__ import annotations

import itertools
import math

import pytest

from benchmarks.serving.metrics import (
    RequestOutcome,
    calculate_metrics,
    meets_slos,
    parse_slos,
    percentile,
    summarize_ms,
)
from benchmarks.serving.stream import StreamAccumulator
from benchmarks.serving.workload import arrival_offsets, chat_body, make_prompts


def _ok(ttft: float, e2e: float, tokens: int, chunks: list[float], prompt: int = 10) -> RequestOutcome:
    return RequestOutcome(
        success=True, prompt_tokens=prompt, output_tokens=tokens, ttft_s=ttft, e2e_s=e2e, chunk_times=chunks
    )


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, 0.0),
        ([7.0], 99, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 90, 3.7),  # rank 2.7 → 3 + 0.7
        ([4.0, 1.0, 3.0, 2.0], 99, 3.97),  # unsorted input; rank 2.97
        ([10.0, 20.0], 0, 10.0),
        ([10.0, 20.0], 100, 20.0),
    ],
)
def test_percentile_interpolates_linearly(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


@pytest.mark.parametrize(
    ("outcome", "tpot", "itls"),
    [
        # 5 tokens, TTFT 0.1 s, E2E 0.5 s → (0.5 - 0.1) / 4 = 0.1 s per token
        (_ok(0.1, 0.5, 5, [0.1, 0.2, 0.3, 0.4, 0.5]), 0.1, [0.1, 0.1, 0.1, 0.1]),
        # usage says 9 tokens in 3 chunks: TPOT uses tokens, ITL uses chunk gaps
        (_ok(0.2, 1.0, 9, [0.2, 0.5, 1.0]), 0.1, [0.3, 0.5]),
        # a single token has no TPOT and no ITL
        (_ok(0.3, 0.3, 1, [0.3]), None, []),
    ],
)
def test_tpot_and_itl_of_one_request(outcome: RequestOutcome, tpot: float | None, itls: list[float]) -> None:
    assert outcome.tpot_s == (None if tpot is None else pytest.approx(tpot))
    assert outcome.itls == pytest.approx(itls)


def test_calculate_metrics_matches_hand_computed_values() -> None:
    outcomes = [
        _ok(0.1, 0.5, 5, [0.1, 0.2, 0.3, 0.4, 0.5]),  # TPOT 100 ms
        _ok(0.2, 1.0, 9, [0.2, 0.5, 1.0]),  # TPOT 100 ms
        _ok(0.3, 0.3, 1, [0.3]),  # no TPOT
        RequestOutcome(success=False, error="http_500"),
    ]
    m = calculate_metrics(outcomes, duration_s=2.0, accelerators=2)
    assert (m.requests, m.completed, m.failed) == (4, 3, 1)
    assert m.success_rate == pytest.approx(0.75)
    assert m.total_output_tokens == 15 and m.total_input_tokens == 30
    assert m.request_throughput == pytest.approx(1.5)
    assert m.output_throughput == pytest.approx(7.5)
    assert m.total_token_throughput == pytest.approx(22.5)
    assert m.output_throughput_per_accelerator == pytest.approx(3.75)
    assert m.ttft_ms["mean"] == pytest.approx(200.0)
    assert m.ttft_ms["p50"] == pytest.approx(200.0)
    assert m.ttft_ms["p99"] == pytest.approx(298.0)  # 200 + 0.98 * 100
    assert m.tpot_ms["mean"] == pytest.approx(100.0)
    # pooled ITLs: 100, 100, 100, 100, 300, 500 ms
    assert m.itl_ms["mean"] == pytest.approx(200.0)
    assert m.itl_ms["p50"] == pytest.approx(100.0)
    assert m.itl_ms["p90"] == pytest.approx(400.0)  # rank 4.5 → 300 + 0.5 * 200
    assert m.e2e_ms["p50"] == pytest.approx(500.0)
    assert m.e2e_ms["max"] == pytest.approx(1000.0)
    assert m.errors == {"http_500": 1}
    assert m.goodput is None


@pytest.mark.parametrize(
    ("slos", "good"),
    [
        ({"ttft_ms": 250.0}, 2),  # TTFTs 100, 200 pass; 300 fails
        ({"tpot_ms": 99.0}, 1),  # only the one-token request (TPOT counted as 0) passes
        ({"e2e_ms": 500.0}, 2),  # 500 and 300 pass; 1000 fails
        ({"ttft_ms": 250.0, "e2e_ms": 600.0}, 1),
    ],
)
def test_goodput_counts_requests_meeting_every_slo(slos: dict[str, float], good: int) -> None:
    outcomes = [
        _ok(0.1, 0.5, 5, [0.1, 0.5]),
        _ok(0.2, 1.0, 9, [0.2, 1.0]),
        _ok(0.3, 0.3, 1, [0.3]),
        RequestOutcome(success=False, error="x"),
    ]
    metrics = calculate_metrics(outcomes, duration_s=4.0, slos=slos)
    assert metrics.goodput == pytest.approx(good / 4.0)
    assert not meets_slos(outcomes[3], slos)


def test_empty_series_summarise_to_zero_and_bad_arguments_fail() -> None:
    assert summarize_ms([]) == {"mean": 0.0, "p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    with pytest.raises(ValueError, match="duration_s"):
        calculate_metrics([], duration_s=0)
    with pytest.raises(ValueError, match="accelerators"):
        calculate_metrics([], duration_s=1, accelerators=0)


def test_parse_slos() -> None:
    assert parse_slos("ttft_ms=500, tpot_ms=50") == {"ttft_ms": 500.0, "tpot_ms": 50.0}
    assert parse_slos(None) == {}
    for bad in ("latency=5", "ttft_ms", "e2e_ms=-1", "e2e_ms=nan"):
        with pytest.raises(ValueError):
            parse_slos(bad)


def _sse(*payloads: str) -> bytes:
    return b"".join(f"data: {p}\n\n".encode() for p in payloads)


def test_stream_accumulator_times_chunks_and_reads_usage() -> None:
    acc = StreamAccumulator()
    role = '{"choices":[{"delta":{"role":"assistant","content":""}}]}'
    first = '{"choices":[{"delta":{"content":"Hel"}}]}'
    usage = '{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}'
    stream = _sse(role, first, first) + _sse(usage, "[DONE]")
    # split mid-event: the role chunk arrives at 0.05 s, the rest at 0.2 s and 0.3 s
    acc.feed(stream[:30], 0.01)
    acc.feed(stream[30 : len(_sse(role))], 0.05)
    acc.feed(_sse(first), 0.2)
    acc.feed(_sse(first) + _sse(usage), 0.3)
    acc.feed(b"data: [DONE]\n\n", 0.31)
    outcome = acc.finish()
    assert outcome.success and outcome.usage_reported
    assert outcome.ttft_s == pytest.approx(0.05)  # first chunk with non-empty choices
    assert outcome.chunk_times == pytest.approx([0.05, 0.2, 0.3])
    assert outcome.e2e_s == pytest.approx(0.3)  # last data event (the usage chunk)
    assert (outcome.prompt_tokens, outcome.output_tokens) == (7, 3)


def test_stream_accumulator_falls_back_to_counting_chunks_and_flags_truncation() -> None:
    acc = StreamAccumulator()
    acc.feed(_sse('{"choices":[{"delta":{"content":"a"}}]}', '{"choices":[{"delta":{"content":"b"}}]}'), 0.1)
    acc.feed(b"data: [DONE]\n\n", 0.2)
    outcome = acc.finish()
    assert outcome.success and not outcome.usage_reported and outcome.output_tokens == 2
    truncated = StreamAccumulator()
    truncated.feed(_sse('{"choices":[{"delta":{"content":"a"}}]}'), 0.1)
    assert truncated.finish().error == "stream_truncated"
    errored = StreamAccumulator()
    errored.feed(_sse('{"error":{"message":"boom"}}', "[DONE]"), 0.1)
    assert errored.finish().error == "stream_error"


def test_workload_is_deterministic_and_poisson_rate_is_right() -> None:
    assert make_prompts(5, input_len=20, seed=3) == make_prompts(5, input_len=20, seed=3)
    assert make_prompts(5, input_len=20, seed=3) != make_prompts(5, input_len=20, seed=4)
    assert all(len(p.split()) == 21 for p in make_prompts(5, input_len=20))  # index prefix + 20 words
    offsets = arrival_offsets(4000, rate=50.0, seed=1)
    assert offsets == sorted(offsets)
    assert 4000 / offsets[-1] == pytest.approx(50.0, rel=0.05)
    assert arrival_offsets(3, rate=math.inf) == [0.0, 0.0, 0.0]
    bursty = arrival_offsets(4000, rate=50.0, burstiness=0.2, seed=1)
    gaps = [b - a for a, b in itertools.pairwise(bursty)]
    poisson_gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert max(gaps) > max(poisson_gaps)  # lower shape → heavier tail
    body = chat_body("hi", model="m", max_tokens=8, ignore_eos=False)
    assert body["stream_options"] == {"include_usage": True} and "ignore_eos" not in body
    assert chat_body("hi", model="m", max_tokens=8, ignore_eos=True, stream=False)["ignore_eos"] is True
