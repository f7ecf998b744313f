"""``stic sched``: scheduler benchmark and trace replay."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scheduler.simulator.replay import DEFAULT_POLICIES, ReplaySettings, replay, summary, write_plot
from scheduler.simulator.traces.openb import DEFAULT_TRACE_DIR, POD_FILE, TraceError, load_openb

app = typer.Typer(help="Scheduler benchmarks and trace replay.", no_args_is_help=True)
err = Console(stderr=True)


class Format(StrEnum):
    """Output format."""

    JSON = "json"
    TABLE = "table"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    )


def _table(title: str, rows: list[tuple[str, Any]]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    Console().print(table)


@app.command()
def bench(
    nodes: Annotated[int, typer.Option(min=1)] = 5000,
    accelerators_per_node: Annotated[int, typer.Option(min=1, max=64)] = 8,
    pods: Annotated[int, typer.Option(min=1)] = 20000,
    batch: Annotated[int, typer.Option(min=1, help="jobs submitted per scheduling cycle")] = 1000,
    gang_tasks: Annotated[int, typer.Option(min=1)] = 1024,
    config: Annotated[str, typer.Option(help="bundled config name or YAML path")] = "default",
    output_format: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """Placement throughput (pods/s) on a simulated cluster and the time to place one large gang."""
    from benchmarks.scheduler import run_gang, run_throughput

    with _progress() as progress:
        task = progress.add_task("placing pods", total=pods)
        result = run_throughput(
            nodes=nodes,
            accelerators_per_node=accelerators_per_node,
            pods=pods,
            batch=batch,
            config=config,
            progress=lambda n: progress.advance(task, n),
        )
        gang_task = progress.add_task(f"placing a {gang_tasks}-task gang", total=1)
        gang = run_gang(
            nodes=nodes, accelerators_per_node=accelerators_per_node, tasks=gang_tasks, config=config
        )
        progress.advance(gang_task)
    result["gang"] = gang
    if output_format is Format.JSON:
        typer.echo(json.dumps(result))
        return
    _table(
        "scheduler bench (simulated cluster)",
        [
            ("pods/s", result["pods_per_second"]),
            ("pods placed", f"{result['pods_placed']}/{result['pods_submitted']}"),
            ("GPU allocation ratio", result["gpu_alloc_ratio"]),
            (f"{gang_tasks}-task gang placement (s)", gang["seconds"]),
            ("gang tasks placed", gang["placed"]),
        ],
    )


@app.command("replay")
def replay_cmd(
    trace: Annotated[str, typer.Option(help="trace name (only 'openb')")] = "openb",
    trace_dir: Annotated[Path, typer.Option(help="folder with the openb CSV files")] = DEFAULT_TRACE_DIR,
    pod_file: Annotated[str, typer.Option(help="pod list file inside --trace-dir")] = POD_FILE,
    limit: Annotated[int | None, typer.Option(min=1, help="use only the first N pods")] = None,
    policy: Annotated[list[str] | None, typer.Option(help="config names/paths (repeatable)")] = None,
    queues: Annotated[int, typer.Option(min=1)] = 4,
    seed: Annotated[int, typer.Option()] = 7,
    workers: Annotated[
        int, typer.Option(min=0, help="processes for the policy x experiment runs (0: one per CPU)")
    ] = 0,
    plot: Annotated[Path | None, typer.Option(help="write a PNG of GPU allocation over time")] = None,
    full: Annotated[bool, typer.Option(help="include per-sample series in JSON output")] = False,
    output_format: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """Replay the openb trace for our policy and the FIFO first-fit / best-fit baselines."""
    if trace != "openb":
        raise typer.BadParameter(f"unknown trace {trace!r}; supported: openb", param_hint="--trace")
    try:
        data = load_openb(trace_dir, pod_file=pod_file, limit=limit)
    except TraceError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    with _progress() as progress:
        bars: dict[str, Any] = {}

        def report(label: str, done: int, total: int) -> None:
            if label not in bars:
                bars[label] = progress.add_task(label, total=total)
            progress.update(bars[label], completed=done)

        result = replay(
            data,
            ReplaySettings(
                policies=tuple(policy or DEFAULT_POLICIES),
                queues=queues,
                seed=seed,
                progress=report,
                workers=workers or len(os.sched_getaffinity(0)),
            ),
        )
    if plot is not None:
        result["plot"] = str(write_plot(result, plot))
    out = result if full else summary(result)
    if output_format is Format.JSON:
        typer.echo(json.dumps(out))
        return
    rows: list[tuple[str, Any]] = [("wall time (s)", result["wall_s"])]
    for name, entry in out["policies"].items():
        if "saturation" in entry:
            rows.append(
                (
                    f"{name}: unallocated GPUs at saturation",
                    entry["saturation"]["unallocated_gpus_at_saturation"],
                )
            )
        if "timeline" in entry:
            rows.append((f"{name}: mean GPU allocation ratio", entry["timeline"]["gpu_alloc_ratio_mean"]))
            rows.append((f"{name}: p95 queueing delay (s)", entry["timeline"]["queueing_delay_s"]["p95"]))
    if out.get("unallocated_ratio_ours_vs_best_fit") is not None:
        rows.append(("unallocated GPUs, ours / best-fit", out["unallocated_ratio_ours_vs_best_fit"]))
    _table(f"openb replay ({data.source})", rows)
