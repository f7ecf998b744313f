"""The ``stic sched`` typer app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scheduler.cli import app
from scheduler.simulator.traces.synthetic import write_synthetic_openb

runner = CliRunner()


def test_bench_json() -> None:
    result = runner.invoke(
        app,
        [
            "bench",
            "--nodes",
            "128",
            "--pods",
            "300",
            "--batch",
            "100",
            "--gang-tasks",
            "32",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["pods_placed"] == 300 and data["pods_per_second"] > 0
    assert data["gang"]["placed"] == 32 and data["simulated"] is True


def test_replay_json_and_plot(tmp_path: Path) -> None:
    trace = write_synthetic_openb(tmp_path / "trace", pods=120)
    plot = tmp_path / "out.png"
    result = runner.invoke(
        app,
        [
            "replay",
            "--trace-dir",
            str(trace),
            "--format",
            "json",
            "--plot",
            str(plot),
            "--policy",
            "default",
            "--policy",
            "best-fit",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(data["policies"]) == {"default", "best-fit"} and plot.is_file()
    assert data["unallocated_ratio_ours_vs_best_fit"] is not None


def test_replay_missing_trace_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", "--trace-dir", str(tmp_path / "none")])
    assert result.exit_code == 2 and "not found" in result.output


def test_unknown_trace_name() -> None:
    result = runner.invoke(app, ["replay", "--trace", "philly"])
    assert result.exit_code != 0
