"""A tiny real ``stic bench serve`` run against the builtin engine (shape and sanity, no timing bounds)."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from benchmarks.serving.serve import ServeConfig, command, run_serve
from inference.engines.base import Replica, ReplicaSpec
from inference.engines.builtin.engine import BuiltinEngine
from inference.engines.settings import EngineSettings
from inference.tinymodel.builder import build_tiny_llama
from services.assessment.benchmark_results import load_results
from services.assessment.catalogue.loader import load_catalogue

SERVED_NAME = "tiny-bench"


@pytest.fixture(scope="module")
def builtin_replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    """A real builtin-engine process serving a freshly built tiny Llama (as the engine tests do)."""
    model_dir = tmp_path_factory.mktemp("serve-model") / "tiny"
    build_tiny_llama(model_dir, train_steps=20)
    engine = BuiltinEngine(
        EngineSettings(builtin_threads=1, engine_log_dir=tmp_path_factory.mktemp("serve-engine-logs"))
    )
    replica = asyncio.run(engine.start(ReplicaSpec(model=str(model_dir), served_model_name=SERVED_NAME)))
    yield replica
    asyncio.run(engine.stop(replica))


async def test_serve_against_the_builtin_engine(builtin_replica: Replica, tmp_path: Path) -> None:
    config = ServeConfig(
        url=builtin_replica.api_base,
        model=SERVED_NAME,
        num_requests=6,
        request_rate=20.0,
        input_len=8,
        output_len=4,
        warmup_requests=1,
        accelerators=2,
        slos={"ttft_ms": 60_000.0},
        search_max_qps=True,
        p99_bound=("e2e_ms", 60_000.0),
        search_requests=3,
        search_runs=2,
        search_min_duration_s=0.0,
        max_streams=True,
        streams_start=2,
        streams_max=4,
        streams_runs=2,
    )
    report = await run_serve(config)
    assert report["ignore_eos"] is False  # the builtin engine refuses unknown fields
    run = report["run"]
    assert run["requests"] == 6 and run["completed"] == 6 and run["errors"] == {}
    assert run["usage_reported"] == 6  # token counts came from the final usage chunk
    assert 0 < run["total_output_tokens"] <= 6 * 4
    assert run["total_input_tokens"] > 6 * 8
    assert 0 < run["ttft_ms"]["p50"] <= run["ttft_ms"]["p99"] <= run["e2e_ms"]["max"]
    assert run["ttft_ms"]["p99"] <= run["e2e_ms"]["p99"]
    assert math.isclose(run["output_throughput_per_accelerator"], run["output_throughput"] / 2, rel_tol=1e-3)
    # a one-minute TTFT SLO is met by every request
    assert math.isclose(run["goodput"], run["request_throughput"], rel_tol=1e-3)
    assert len(report["latencies_ms"]["e2e"]) == 6
    assert report["qps_search"]["probes"][0]["level"] == 1.0 and report["qps_search"]["best"] >= 1.0
    assert report["streams_search"]["best"] == 4.0
    results = {row["metric"]: row for row in report["results"]}
    assert set(results) == {
        "7.3.1.a.1",
        "7.3.1.b.1",
        "7.3.1.b.2",
        "7.3.1.c.1",
        "7.3.1.d.1",
        "7.3.1.e.1",
        "7.3.1.f.1",
    }
    for row in results.values():
        assert row["environment"]["engine"]["owned_by"] == "stic"
        assert row["environment"]["cpus"] >= 1 and row["environment"]["cpu_model"]
        assert row["method"] and row["simulated"] is False
    assert results["7.3.1.e.1"]["value"] == 4.0
    # the assessment reads the results as they are
    (tmp_path / "serve.json").write_text(json.dumps(report["results"]), encoding="utf-8")
    loaded = load_results(tmp_path, catalogue=load_catalogue())
    assert set(loaded) == set(results)
    assert loaded["7.3.1.c.1"].reported_value == results["7.3.1.c.1"]["value"]
    assert loaded["7.3.1.d.1"].reported_unit == "QPS"


def test_serve_command_prints_json_and_checks_options(builtin_replica: Replica, tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(command)
    plot = tmp_path / "serve.png"
    args = [
        "--url",
        builtin_replica.api_base,
        "--model",
        SERVED_NAME,
        "--format",
        "json",
        "--num-requests",
        "3",
        "--request-rate",
        "inf",
        "--input-len",
        "4",
        "--output-len",
        "3",
        "--warmup",
        "0",
        "--plot",
        str(plot),
    ]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data["run"]["completed"] == 3 and plot.stat().st_size > 0
    for bad in (["--format", "xml"], ["--search-max-qps"], ["--slo", "speed=1"], ["--ignore-eos", "maybe"]):
        assert CliRunner().invoke(app, [*args[:6], *bad]).exit_code != 0
