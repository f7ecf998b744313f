"""A tiny ``stic bench gateway`` run through a trivial pass-through proxy (shape, not speed)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from benchmarks.serving.fakeupstream import create_app
from benchmarks.serving.gateway import GatewayBenchConfig, command, run_gateway_bench, stream_limit
from benchmarks.serving.gatewayproc import load_factory
from benchmarks.serving.loadgen import peak_streaming
from benchmarks.serving.metrics import RequestOutcome
from benchmarks.serving.placement import Placement, plan

PROXY = "tests.benchmarks.test_serving_gateway:make_proxy"
REPO = Path(__file__).resolve().parents[2]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def make_proxy(*, upstream_api_base: str, model: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The stand-in gateway: forwards /v1/* to the upstream and streams the bytes back untouched."""
    state: dict[str, httpx.AsyncClient] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                state["http"] = httpx.AsyncClient(limits=httpx.Limits(max_connections=None), timeout=60.0)
                await send({"type": "lifespan.startup.complete"})
            await state["http"].aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        url = upstream_api_base + scope["path"].removeprefix("/v1")
        request = state["http"].build_request(scope["method"], url, content=body)
        upstream = await state["http"].send(request, stream=True)
        headers = [(b"content-type", upstream.headers.get("content-type", "application/json").encode())]
        await send({"type": "http.response.start", "status": upstream.status_code, "headers": headers})
        async for chunk in upstream.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await upstream.aclose()
        await send({"type": "http.response.body", "body": b""})

    return app


@pytest.fixture
def importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Child processes import the proxy from this module: put the repository on their path."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.chdir(REPO)


async def test_fake_upstream_streams_the_configured_chunks() -> None:
    app = create_app(model="m", chunks=3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://up") as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/v1/models")).json()["data"][0]["id"] == "m"
        plain = await http.post("/v1/chat/completions", json={"model": "m", "messages": []})
        assert plain.json()["usage"]["completion_tokens"] == 3
        streamed = await http.post("/v1/chat/completions", json={"model": "m", "stream": True})
        events = [line for line in streamed.text.split("\n\n") if line]
        assert len(events) == 1 + 3 + 1 + 1  # role, content chunks, usage, [DONE]
        assert events[-1] == "data: [DONE]"
        assert json.loads(events[-2].removeprefix("data: "))["usage"]["completion_tokens"] == 3
        assert (await http.post("/v1/chat/completions", content=b"{")).status_code == 400
        assert (await http.get("/nope")).status_code == 404


def test_peak_streaming_counts_overlapping_first_chunk_to_end_intervals() -> None:
    def stream(sent: float, ttft: float, e2e: float) -> RequestOutcome:
        return RequestOutcome(success=True, sent_at=sent, ttft_s=ttft, e2e_s=e2e, chunk_times=[ttft])

    outcomes = [
        stream(0.0, 0.1, 1.0),  # streaming 0.1 .. 1.0
        stream(0.0, 0.9, 2.0),  # queued, streaming 0.9 .. 2.0
        stream(0.5, 0.5, 1.0),  # streaming 1.0 .. 1.5: starts exactly when the first ends
        RequestOutcome(success=False, error="timeout"),
    ]
    assert peak_streaming(outcomes) == 2
    assert peak_streaming([]) == 0


def test_factory_loading_names_what_is_missing() -> None:
    assert load_factory(PROXY) is make_proxy
    for spec, message in (
        ("nocolon", "module:function"),
        ("no.such.module:f", "cannot be imported"),
        ("benchmarks.serving.gateway:missing", "no callable"),
    ):
        with pytest.raises(ValueError, match=message):
            load_factory(spec)


async def test_gateway_bench_through_a_pass_through_proxy(importable_tests: None, tmp_path: Path) -> None:
    config = GatewayBenchConfig(
        factory=PROXY,
        rate=20.0,
        round_s=0.5,
        rounds=2,
        chunks=3,
        warmup=2,
        encrypted_requests=4,
        overhead_iterations=50,
        overhead_handshakes=2,
        streams=(5, 10),
        ramp_s=0.3,
        stream_hold_s=1.0,
        log_dir=tmp_path,
    )
    report = await run_gateway_bench(config)
    for side in ("direct", "gateway"):
        assert report[side]["requests"] == 2 * 10 and report[side]["ok"] == report[side]["requests"]
        assert 0 < report[side]["e2e_ms"]["p50"] <= report[side]["e2e_ms"]["p99"]
        assert report[side]["ttft_ms"]["p50"] <= report[side]["e2e_ms"]["p50"]
    assert len(report["latencies_ms"]["gateway"]) == 20
    added = report["added_latency_ms"]
    assert added["e2e_p50_ms"] == pytest.approx(
        report["gateway"]["e2e_ms"]["p50"] - report["direct"]["e2e_ms"]["p50"], abs=1e-3
    )
    assert report["achieved_rate"] > 0 and isinstance(report["rate_reached"], bool)
    assert report["loadgen"]["cpu_share_max"] > 0
    assert report["gateway_cpu"]["processes"] == 1  # a factory's process is measured (and pinned) too
    assert report["floor"] is None
    # the proxy serves no /v1/secure/key, so only the envelope micro-benchmark ran
    assert "skipped" in report["encryption"]["encrypted_run"]
    assert report["encryption"]["envelope_overhead"]["per_request_us"] > 0
    levels = report["streams"]["levels"]
    assert [lv["streams"] for lv in levels] == [5, 10]
    for level in levels:
        assert level["completed"] == level["streams"]
        assert 1 <= level["peak_streaming"] <= level["peak_open"] <= level["streams"]
        assert 0.0 <= level["success_rate"] <= 1.0
    metrics = {row["metric"]: row for row in report["results"]}
    assert {
        "gateway_added_latency_p50",
        "gateway_added_latency_p99",
        "gateway_max_open_sse_streams",
        "gateway_encryption_cpu_per_request",
    } <= set(metrics)
    held = [lv["peak_streaming"] for lv in levels if lv["success_rate"] >= 0.999]
    assert metrics["gateway_max_open_sse_streams"]["value"] == max(held, default=0)
    assert "simulated" in metrics["gateway_added_latency_p50"]["environment"]["upstream"]
    assert metrics["gateway_added_latency_p50"]["environment"]["python_unit_us"] > 0  # machine speed
    assert report["goal"]["streams_met"] is False  # ten streams are not ten thousand
    if all(lv["success_rate"] >= 0.999 for lv in levels):
        assert report["streams"]["limited"]["by"] == "none"
    process = report["streams"]["gateway_process"]
    assert process["baseline_fds"] > 0 and process["samples"] > 0
    assert process["peak_rss_mib"] > 0


def _level(streams: int, *, within: int, errors: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "streams": streams,
        "completed": streams - sum((errors or {}).values()),
        "within_bounds": within,
        "success_rate": within / streams,
        "peak_streaming": within,
        "errors": errors or {},
    }


def test_stream_limit_names_what_stopped_the_levels() -> None:
    process = {"baseline_rss_mib": 100.0, "peak_rss_mib": 110.0}
    capped = stream_limit(
        {
            "levels": [_level(1000, within=1000)],
            "fd_cap": 1000,
            "requested_levels": [1000, 10_000],
            "gateway_process": process,
        }
    )
    assert capped["limited"]["by"] == "fd_limit" and capped["held"] == 1000
    assert capped["rss_per_stream_kib"] == pytest.approx(10.24)
    failed = stream_limit(
        {
            "levels": [_level(10, within=10), _level(20, within=5, errors={"timeout": 15})],
            "fd_cap": 9000,
            "requested_levels": [10, 20, 40],
        }
    )
    assert failed["limited"] == {"by": "errors", "level": 20, "detail": {"timeout": 15}}
    assert failed["held"] == 10 and failed["rss_per_stream_kib"] is None
    late = stream_limit({"levels": [_level(10, within=9)], "fd_cap": 9000, "requested_levels": [10]})
    assert late["limited"]["by"] == "latency_bounds"


def test_gateway_command_reports_a_missing_factory(importable_tests: None, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(command)
    outcome = CliRunner().invoke(
        app,
        [
            "--format",
            "json",
            "--gateway-factory",
            "no.such:app",
            "--rate",
            "5",
            "--round-s",
            "0.2",
            "--rounds",
            "1",
            "--streams",
            "",
            "--no-encryption",
            "--log-dir",
            str(tmp_path),
        ],
    )
    assert outcome.exit_code != 0
    assert "cannot be imported" in str(outcome.exception)
    assert CliRunner().invoke(app, ["--format", "xml"]).exit_code != 0
    assert CliRunner().invoke(app, ["--streams", "a,b"]).exit_code != 0


async def test_gateway_bench_against_the_shipped_gateway_with_encryption(tmp_path: Path) -> None:
    """Module mode: the real platform (inference.gateway.bench_app), plain and SM2/SM4-encrypted runs."""
    config = GatewayBenchConfig(
        rate=10.0,
        round_s=0.5,
        rounds=1,
        chunks=3,
        warmup=2,
        encrypted_rate=10.0,
        encrypted_requests=4,
        overhead_iterations=20,
        overhead_handshakes=1,
        streams=(),
        gateway_safety=False,
        floor=True,
        log_dir=tmp_path,
    )
    report = await run_gateway_bench(config)
    assert report["gateway"]["ok"] == report["gateway"]["requests"] == 5
    floor = report["floor"]  # the bare relay ran as a third side, on the gateway's CPUs
    assert floor["side"]["ok"] == floor["side"]["requests"] == 5
    assert floor["added_latency_ms"]["e2e_p50_ms"] == pytest.approx(
        floor["side"]["e2e_ms"]["p50"] - report["direct"]["e2e_ms"]["p50"], abs=1e-3
    )
    # measured (/proc counts CPU in 10 ms ticks: seven requests through the floor may read as none)
    assert floor["cpu"]["processes"] == 1 and floor["cpu"]["cpu_s"] >= 0
    assert report["direct"]["ok"] == 5
    encrypted = report["encryption"]["encrypted_run"]
    assert "skipped" not in encrypted, encrypted
    assert encrypted["errors"] == {"plain": 0, "encrypted": 0}
    assert encrypted["encrypted_e2e_ms"]["p50"] > 0
    metrics = {row["metric"] for row in report["results"]}
    assert {"gateway_encrypted_added_latency_p50", "gateway_encrypted_added_latency_p99"} <= metrics
    assert report["results"][0]["environment"]["gateway"] == "inference.gateway.bench_app"
    assert report["streams"] is None
    assert report["gateway_cpu"]["processes"] == 1 and report["gateway_cpu"]["ms_per_request"] > 0
    assert "gateway_cpu_per_request" in metrics
    assert {"gateway_floor_added_latency_p50", "gateway_floor_added_latency_p99"} <= metrics
    assert "gateway_floor_cpu_per_request" in metrics
    if floor["cpu"]["ms_per_request_less_idle"] <= 0:
        assert floor["gateway_cpu_ratio"] is None and "gateway_cpu_over_floor" not in metrics
    else:
        assert "gateway_cpu_over_floor" in metrics
    if floor["cpu"]["ms_per_request_less_idle"] >= 0.1:  # large enough for the report's 4 decimals
        assert floor["gateway_cpu_ratio"] == pytest.approx(
            report["gateway_cpu"]["ms_per_request_less_idle"] / floor["cpu"]["ms_per_request_less_idle"],
            rel=0.02,
        )
    assert report["cpu_placement"] == _expected_placement(1)


async def test_gateway_bench_with_two_gateway_processes(tmp_path: Path) -> None:
    """``--gateway-workers 2``: the latency phase runs through two processes on one port."""
    config = GatewayBenchConfig(
        rate=20.0,
        round_s=0.5,
        rounds=1,
        chunks=3,
        warmup=4,
        encryption=False,
        streams=(),
        gateway_workers=2,
        log_dir=tmp_path,
    )
    report = await run_gateway_bench(config)
    assert report["gateway"]["ok"] == report["gateway"]["requests"] == 10
    assert report["gateway_cpu"]["processes"] == 2
    assert report["results"][0]["environment"]["gateway_workers"] == 2
    assert report["cpu_placement"] == _expected_placement(2)


def _expected_placement(gateway_processes: int) -> dict[str, object]:
    planned = plan(gateway_processes)
    return planned.as_dict() if isinstance(planned, Placement) else {"pinned": False, "reason": planned}
