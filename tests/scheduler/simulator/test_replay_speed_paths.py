"""The replay's speed-ups change timings only: idle instants and worker processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scheduler.config import load_config
from scheduler.framework.scheduler import Scheduler
from scheduler.simulator.engine import SimulationLog, Simulator
from scheduler.simulator.replay import ReplaySettings, replay, summary
from scheduler.simulator.synth import build_inventory, build_jobs, build_queues, workload_profile
from scheduler.simulator.traces.openb import load_openb


def _simulate(trace_dir: Path, *, skip_idle: bool) -> SimulationLog:
    trace = load_openb(trace_dir)
    inventory = build_inventory(trace.nodes)
    sim = Simulator(
        Scheduler(load_config("default")),
        inventory,
        build_queues(inventory, 4),
        profile=workload_profile(trace.pods),
    )
    sim.submit(build_jobs(trace.pods, queues=4, seed=7))
    return sim.run(sample_every=0.0, skip_idle=skip_idle)


def _small_trace(folder: Path) -> Path:
    """Four GPU nodes; pods that overlap in time (some wait) and gaps in which nothing waits."""
    nodes = ["sn,cpu_milli,memory_mib,gpu,model"]
    nodes += [f"n{i},32000,262144,2,T4" for i in range(4)]
    pods = [
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"
    ]
    for i in range(40):
        start = (i // 10) * 1000 + (i % 10) * 10  # bursts of ten, 1000 s apart
        gpus, milli = (2, 1000) if i % 3 == 0 else (1, 500)
        pods.append(f"p{i:03d},4000,8192,{gpus},{milli},,LS,Running,{start},{start + 300 + i},{start}")
    (folder / "openb_node_list_all_node.csv").write_text("\n".join(nodes) + "\n")
    (folder / "openb_pod_list_default.csv").write_text("\n".join(pods) + "\n")
    return folder


def test_skipping_idle_instants_changes_nothing_but_the_cycle_count(tmp_path: Path) -> None:
    trace_dir = _small_trace(tmp_path)
    every = _simulate(trace_dir, skip_idle=False)
    skipped = _simulate(trace_dir, skip_idle=True)
    assert skipped.idle_instants > 0 and every.idle_instants == 0
    assert skipped.cycles + skipped.idle_instants == every.cycles
    assert skipped.times == every.times
    assert skipped.alloc_ratio == every.alloc_ratio
    assert skipped.outcomes == every.outcomes
    assert any(o.start is not None and o.start > o.arrival for o in every.outcomes.values())  # some waited


def _without_timings(report: dict[str, Any]) -> dict[str, Any]:
    """The whole report (every per-sample series included) less its timing fields."""
    rest = {k: v for k, v in report.items() if k not in ("wall_s", "cpu_s", "workers")}
    rest["policies"] = {
        name: {k: v for k, v in entry.items() if k not in ("wall_s", "cpu_s")}
        for name, entry in report["policies"].items()
    }
    assert summary(report)["policies"].keys() == rest["policies"].keys()
    return rest


def test_worker_processes_give_the_same_report(synthetic_trace: Path) -> None:
    trace = load_openb(synthetic_trace)
    policies = ("default", "best-fit")
    seen: list[tuple[str, int, int]] = []
    serial = replay(trace, ReplaySettings(policies=policies, workers=1))
    parallel = replay(
        trace,
        ReplaySettings(policies=policies, workers=2, progress=lambda *args: seen.append(args)),
    )
    assert serial["workers"] == 1 and parallel["workers"] == 2
    assert _without_timings(serial) == _without_timings(parallel)
    labels = ["best-fit saturation", "best-fit timeline", "default saturation", "default timeline"]
    assert sorted(label for label, done, _ in seen if done == 0) == labels
    assert sorted(label for label, done, _ in seen if done == 1) == labels
    assert parallel["cpu_s"] > 0 and all(entry["cpu_s"] > 0 for entry in parallel["policies"].values())
