"""Trace replay: our policy against baselines on the same trace, two experiments each.

``timeline``: pods arrive at their trace creation times and leave after their trace run times;
reports the GPU allocation ratio over time, FGD fragmentation, queueing delay and job completion
time. ``saturation`` (the FGD paper's methodology): pods drawn from the trace arrive one by one
and never leave until the GPUs they request add up to ``saturation_target`` × cluster GPUs; a pod
that does not fit on arrival stays pending. Reports the GPUs left unallocated at that point
(capacity minus allocated, in GPUs) and the arrival at which the first pod failed.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scheduler.config import load_config
from scheduler.framework.scheduler import Scheduler
from scheduler.framework.snapshot import Snapshot
from scheduler.plugins.sharing import Fragmentation
from scheduler.simulator.engine import Simulator
from scheduler.simulator.synth import (
    SimJob,
    build_inventory,
    build_jobs,
    build_queues,
    synthesis_note,
    workload_profile,
)
from scheduler.simulator.traces.openb import OpenbTrace, TracePod

DEFAULT_POLICIES = ("default", "best-fit", "fifo-first-fit")
SAMPLES = 200


@dataclass
class ReplaySettings:
    """Knobs of a replay (defaults reproduce ``stic sched replay``)."""

    policies: Sequence[str] = DEFAULT_POLICIES
    queues: int = 4
    seed: int = 7
    saturation_target: float = 1.0
    experiments: Sequence[str] = ("timeline", "saturation")
    progress: Callable[[str, int, int], None] | None = None
    workers: int = 1
    """Processes for the (policy, experiment) runs; results do not depend on it."""
    extra: dict[str, Any] = field(default_factory=dict)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _frag_ratio(measure: Fragmentation, snap: Snapshot) -> float:
    total = snap.total[2]
    frag = sum(measure.of(n.cpu_free, n.mem_free, n.acc_free) for n in snap.nodes if n.n_acc)
    return frag / total if total else 0.0


def saturation_stream(
    pods: Sequence[TracePod], capacity_milli: int, target: float, seed: int
) -> list[SimJob]:
    """Trace pods in order, then reshuffled copies, until their GPU demand reaches ``target`` × capacity."""
    rng = random.Random(seed)
    gpu_pods = list(pods)
    out: list[TracePod] = []
    demand, rounds = 0, 0
    order = list(gpu_pods)
    while demand < target * capacity_milli:
        for pod in order:
            if demand >= target * capacity_milli:
                break
            out.append(pod)
            demand += pod.gpu_demand_milli
        rounds += 1
        order = list(gpu_pods)
        rng.shuffle(order)
        if rounds > 1000:
            break
    jobs = build_jobs(out, queues=1, seed=seed, gangs=False)
    return [
        SimJob(
            type(j.spec)(
                **{**{f: getattr(j.spec, f) for f in j.spec.__dataclass_fields__}, "id": f"s{i}-{j.spec.id}"}
            ),
            float(i),
            None,
        )
        for i, j in enumerate(jobs)
    ]


def _timeline(name: str, trace: OpenbTrace, settings: ReplaySettings) -> dict[str, Any]:
    inventory = build_inventory(trace.nodes)
    queues = build_queues(inventory, settings.queues)
    profile = workload_profile(trace.pods)
    jobs = build_jobs(trace.pods, queues=settings.queues, seed=settings.seed)
    sim = Simulator(Scheduler(load_config(name)), inventory, queues, profile=profile)
    sim.submit(jobs)
    measure = Fragmentation(profile)
    frag: list[float] = []
    span = max((j.arrival for j in jobs), default=0.0) - min((j.arrival for j in jobs), default=0.0)
    done = [0]
    total_events = len(jobs) + sum(1 for j in jobs if j.duration is not None)

    def tick(n: int) -> None:
        done[0] += n
        if settings.progress is not None:
            settings.progress(f"{name} timeline", done[0], total_events)

    log = sim.run(
        sample_every=span / SAMPLES if span else 0.0,
        on_sample=lambda snap, _t: frag.append(_frag_ratio(measure, snap)),
        progress=tick,
    )
    delays = [o.start - o.arrival for o in log.outcomes.values() if o.start is not None]
    jcts = [o.end - o.arrival for o in log.outcomes.values() if o.end is not None]
    return {
        "jobs": len(jobs),
        "cycles": log.cycles,
        "idle_instants": log.idle_instants,
        "times_s": log.times,
        "gpu_alloc_ratio": log.alloc_ratio,
        "fragmentation_ratio": frag,
        "gpu_alloc_ratio_mean": statistics.fmean(log.alloc_ratio) if log.alloc_ratio else 0.0,
        "gpu_alloc_ratio_peak": max(log.alloc_ratio, default=0.0),
        "queueing_delay_s": {
            "mean": statistics.fmean(delays) if delays else None,
            "p50": _pct(delays, 0.5),
            "p95": _pct(delays, 0.95),
        },
        "jct_s": {
            "mean": statistics.fmean(jcts) if jcts else None,
            "p50": _pct(jcts, 0.5),
            "p95": _pct(jcts, 0.95),
        },
        "never_started": sum(1 for o in log.outcomes.values() if o.start is None),
        "unschedulable": sum(1 for o in log.outcomes.values() if o.unschedulable),
    }


def _saturation(name: str, trace: OpenbTrace, settings: ReplaySettings) -> dict[str, Any]:
    inventory = build_inventory(trace.nodes)
    queues = build_queues(inventory, 1)
    profile = workload_profile(trace.pods)
    capacity = sum(len(n.accelerators) for n in inventory.nodes) * 1000
    jobs = saturation_stream(trace.pods, capacity, settings.saturation_target, settings.seed)
    sim = Simulator(Scheduler(load_config(name)), inventory, queues, profile=profile)
    sim.submit(jobs)
    arrived: list[float] = []
    demand_by_time = {}
    acc = 0
    for j in jobs:
        acc += sum(g.replicas * (g.accelerators.milli if g.accelerators else 0) for g in j.spec.groups)
        demand_by_time[j.arrival] = acc
    measure = Fragmentation(profile)
    frag: list[float] = []

    def sample(snap: Snapshot, t: float) -> None:
        arrived.append(demand_by_time.get(t, acc) / capacity)
        frag.append(_frag_ratio(measure, snap))

    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        if settings.progress is not None:
            settings.progress(f"{name} saturation", done[0], len(jobs))

    log = sim.run(sample_every=max(1.0, len(jobs) / SAMPLES), on_sample=sample, progress=tick)
    used = sim.snapshot.used[2]
    failed = [o.arrival for o in log.outcomes.values() if o.start is None]
    first_fail = min(failed) if failed else None
    return {
        "arrivals": len(jobs),
        "arrived_gpu_ratio": arrived,
        "gpu_alloc_ratio": log.alloc_ratio,
        "fragmentation_ratio": frag,
        "gpu_alloc_ratio_final": used / capacity,
        "unallocated_gpus_at_saturation": (capacity - used) / 1000,
        "unplaced_pods": len(failed),
        "first_failure_at_arrived_gpu_ratio": demand_by_time[first_fail] / capacity
        if first_fail is not None
        else None,
    }


def replay(trace: OpenbTrace, settings: ReplaySettings) -> dict[str, Any]:
    """Run every policy and experiment; returns the report (see module docs for the method)."""
    started = time.perf_counter()
    gpus = sum(n.gpus for n in trace.nodes)
    report: dict[str, Any] = {
        "trace": {
            "source": trace.source,
            "nodes": len(trace.nodes),
            "gpus": gpus,
            "pods": len(trace.pods),
            "citation": "Weng et al., Beware of Fragmentation, USENIX ATC'23 (Alibaba openb trace)",
        },
        "method": {
            "timeline": "pods arrive at trace creation_time and run for deletion_time - scheduled_time; "
            "one scheduling cycle per event instant; samples of GPU allocation ratio (allocated milli-GPUs / "
            "capacity) and FGD fragmentation ratio; queueing delay = start - arrival; JCT = end - arrival",
            "saturation": "FGD-style inflation: trace pods (then seeded reshuffles) arrive one by one "
            f"with no departures until requested GPUs reach {settings.saturation_target:g}x capacity; "
            "unallocated GPUs = capacity - allocated at that point (pods that do not fit stay pending)",
            "fragmentation": "FGD: expected free GPU capacity unusable by a task drawn from the trace's "
            "(GPUs, share, CPU, memory) distribution, summed over nodes / total GPU capacity",
            "timing": "wall_s: elapsed for the whole replay; per policy, wall_s and cpu_s add up its runs "
            "(each measured where it ran); the (policy, experiment) runs are independent and run in "
            "`workers` processes, which changes timings only",
        },
        "synthesis": synthesis_note(queues=settings.queues, seed=settings.seed, gangs=True),
        "policies": {},
    }
    runs = [(name, exp) for name in settings.policies for exp in EXPERIMENTS if exp in settings.experiments]
    outcomes = _run_all(runs, trace, settings)
    for name in settings.policies:
        entry: dict[str, Any] = {}
        for exp in EXPERIMENTS:
            if (name, exp) in outcomes:
                entry[exp] = outcomes[name, exp].result
        mine = [outcomes[name, exp] for exp in EXPERIMENTS if (name, exp) in outcomes]
        entry["wall_s"] = sum(o.wall_s for o in mine)
        entry["cpu_s"] = sum(o.cpu_s for o in mine)
        report["policies"][name] = entry
    pol = report["policies"]
    if "saturation" in settings.experiments and "default" in pol and "best-fit" in pol:
        ours = pol["default"]["saturation"]["unallocated_gpus_at_saturation"]
        base = pol["best-fit"]["saturation"]["unallocated_gpus_at_saturation"]
        report["unallocated_ratio_ours_vs_best_fit"] = ours / base if base else None
    report["wall_s"] = time.perf_counter() - started
    report["cpu_s"] = sum(o.cpu_s for o in outcomes.values())
    report["workers"] = min(max(1, settings.workers), len(runs)) if runs else 1
    return report


EXPERIMENTS = ("timeline", "saturation")
_EXPERIMENT_FNS: dict[str, Callable[[str, OpenbTrace, ReplaySettings], dict[str, Any]]] = {
    "timeline": _timeline,
    "saturation": _saturation,
}


@dataclass(frozen=True)
class _Outcome:
    result: dict[str, Any]
    wall_s: float
    cpu_s: float


def _run_one(name: str, experiment: str, trace: OpenbTrace, settings: ReplaySettings) -> _Outcome:
    wall, cpu = time.perf_counter(), time.process_time()
    result = _EXPERIMENT_FNS[experiment](name, trace, settings)
    return _Outcome(result, time.perf_counter() - wall, time.process_time() - cpu)


def _run_all(
    runs: list[tuple[str, str]], trace: OpenbTrace, settings: ReplaySettings
) -> dict[tuple[str, str], _Outcome]:
    """Every (policy, experiment) run; in ``settings.workers`` processes when more than one.

    The runs share nothing (each builds its own inventory, snapshot and scheduler from the seed),
    so running them in parallel changes wall time only. Worker processes are spawned (not forked:
    the caller may have threads, such as a progress display); progress is ``(label, 0, 1)`` for
    every run at the start and ``(label, 1, 1)`` when it ends.
    """
    workers = min(max(1, settings.workers), len(runs))
    if workers <= 1:
        return {(name, exp): _run_one(name, exp, trace, settings) for name, exp in runs}
    quiet = replace(settings, progress=None)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_run_one, name, exp, trace, quiet): (name, exp) for name, exp in runs}
        if settings.progress is not None:
            for name, exp in runs:
                settings.progress(f"{name} {exp}", 0, 1)
        outcomes: dict[tuple[str, str], _Outcome] = {}
        for future in as_completed(futures):
            name, exp = futures[future]
            outcomes[name, exp] = future.result()
            if settings.progress is not None:
                settings.progress(f"{name} {exp}", 1, 1)
    return outcomes


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The report without per-sample series (for ``--format json`` on a terminal)."""
    out = {k: v for k, v in report.items() if k != "policies"}
    out["policies"] = {}
    for name, entry in report["policies"].items():
        slim: dict[str, Any] = {"wall_s": entry["wall_s"], "cpu_s": entry["cpu_s"]}
        for exp in ("timeline", "saturation"):
            if exp in entry:
                slim[exp] = {k: v for k, v in entry[exp].items() if not isinstance(v, list)}
        out["policies"][name] = slim
    return out


def write_plot(report: dict[str, Any], path: Path) -> Path:
    """PNG: GPU allocation ratio over time (timeline) and against arrived demand (saturation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for name, entry in report["policies"].items():
        if "timeline" in entry:
            tl = entry["timeline"]
            axes[0].plot([t / 86400 for t in tl["times_s"]], tl["gpu_alloc_ratio"], label=name, linewidth=1)
        if "saturation" in entry:
            st = entry["saturation"]
            axes[1].plot(
                st["arrived_gpu_ratio"], st["gpu_alloc_ratio"][: len(st["arrived_gpu_ratio"])], label=name
            )
    axes[0].set(title="Timeline replay", xlabel="trace time (days)", ylabel="GPU allocation ratio")
    axes[1].set(
        title="Saturation (no departures)",
        xlabel="arrived GPU demand / capacity",
        ylabel="GPU allocation ratio",
    )
    axes[1].plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("openb trace replay (simulated cluster)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
