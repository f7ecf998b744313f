"""Per-replica observations for the autoscaler: engine, process and accelerator metrics.

* Engine metrics come from the replica's Prometheus ``/metrics`` under vLLM's names
  (``vllm:num_requests_waiting`` and ``vllm:num_requests_running`` summed over label sets,
  ``vllm:kv_cache_usage_perc`` — or its older name ``vllm:gpu_cache_usage_perc`` — averaged).
* Process metrics come from the executor that runs the replica's task (``/proc`` of the task's
  process for the local executor): ``cpu_utilization`` is CPU seconds per wall second between two
  observations divided by the replica's requested cores; ``memory_utilization`` is resident memory
  over the requested memory.
* Accelerator metrics, when the replica's ``/metrics`` carries them, are normalised to fractions
  from NVIDIA DCGM (``DCGM_FI_DEV_FB_USED``/``_FREE``, ``DCGM_FI_DEV_GPU_UTIL``), the Huawei Ascend
  npu-exporter (``npu_chip_info_hbm_used_memory``/``_total_memory``, ``npu_chip_info_utilization``),
  or STIC's vendor-neutral names for any other chip (``stic_accelerator_memory_used_mib``,
  ``stic_accelerator_memory_total_mib``, ``stic_accelerator_utilization`` 0-1). Engines on this
  project's CPU machines report none of them, so those metrics are simply absent there. A replica
  whose chip series are simulated (builtin engine ``--simulated-npu-*``) also reports
  ``stic_accelerator_simulated 1``, passed on as ``accelerator_simulated``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inference.autoscaler.decision import ReplicaSample
from scheduler.executors.base import Executor, TaskKey

SUMMED = ("vllm:num_requests_waiting", "vllm:num_requests_running")
KV_CACHE_NAMES = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
# (used, total or free, second is "free") per exporter: memory fraction = used / total
MEMORY_PAIRS = (
    ("DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", True),
    ("npu_chip_info_hbm_used_memory", "npu_chip_info_hbm_total_memory", False),
    ("stic_accelerator_memory_used_mib", "stic_accelerator_memory_total_mib", False),
)
# utilisation metrics and the divisor that makes them 0-1
UTILISATION = (
    ("DCGM_FI_DEV_GPU_UTIL", 100.0),
    ("npu_chip_info_utilization", 100.0),
    ("stic_accelerator_utilization", 1.0),
)


def _series(text: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(float(sample.value))
    return out


def parse_engine_metrics(text: str) -> dict[str, float]:
    """The autoscaler's metric values in one ``/metrics`` text (absent metrics are left out).

    Raises ``ValueError`` when the text is not Prometheus exposition format.
    """
    series = _series(text)
    values: dict[str, float] = {}
    for name in SUMMED:
        if name in series:
            values[name] = sum(series[name])
    for name in KV_CACHE_NAMES:
        if name in series:
            values["vllm:kv_cache_usage_perc"] = sum(series[name]) / len(series[name])
            break
    for used_name, other_name, other_is_free in MEMORY_PAIRS:
        used, other = sum(series.get(used_name, [])), sum(series.get(other_name, []))
        total = used + other if other_is_free else other
        if used_name in series and total > 0:
            values["accelerator_memory_utilization"] = used / total
            break
    for name, scale in UTILISATION:
        if name in series:
            values["accelerator_utilization"] = sum(series[name]) / len(series[name]) / scale
            break
    if any(series.get("stic_accelerator_simulated", [])):
        values["accelerator_simulated"] = 1.0
    return values


@dataclass(frozen=True, slots=True)
class ReplicaProbe:
    """What the collector needs to observe one replica."""

    replica_id: str
    metrics_url: str | None
    task: TaskKey | None
    cpu_milli: int
    memory_mib: int


class MetricsCollector:
    """Scrapes replicas and reads their process use; remembers CPU counters between calls.

    ``http`` is the seam for tests (``httpx.MockTransport``); ``executor`` returns the executor that
    runs the replicas' tasks, or ``None`` when the scheduler does not run in this process (then CPU
    and memory are not observed).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        executor: Callable[[], Executor | None] = lambda: None,
        timeout_s: float = 2.0,
    ) -> None:
        self._http = http
        self._executor = executor
        self._timeout_s = timeout_s
        self._cpu: dict[TaskKey, tuple[float, float]] = {}

    async def _engine(self, url: str | None) -> dict[str, float]:
        if url is None:
            return {}
        try:
            response = await self._http.get(url, timeout=self._timeout_s)
            if not response.is_success:
                return {}
            return parse_engine_metrics(response.text)
        except (httpx.HTTPError, ValueError):
            return {}

    async def _process(self, probe: ReplicaProbe) -> dict[str, float]:
        executor = self._executor()
        if executor is None or probe.task is None:
            return {}
        metrics = await executor.metrics(probe.task)
        values: dict[str, float] = {}
        if metrics.rss_mib is not None and probe.memory_mib > 0:
            values["memory_utilization"] = metrics.rss_mib / probe.memory_mib
        if metrics.cpu_seconds is not None and probe.cpu_milli > 0:
            now = time.monotonic()
            before = self._cpu.get(probe.task)
            self._cpu[probe.task] = (now, metrics.cpu_seconds)
            if before is not None and now > before[0]:
                rate = (metrics.cpu_seconds - before[1]) / (now - before[0])
                values["cpu_utilization"] = max(0.0, rate) / (probe.cpu_milli / 1000)
        return values

    async def collect(self, probe: ReplicaProbe) -> ReplicaSample:
        """Everything observable on ``probe`` now (CPU needs a previous observation of the task)."""
        values = await self._engine(probe.metrics_url)
        values.update(await self._process(probe))
        return ReplicaSample(replica_id=probe.replica_id, values=values)

    def forget(self, keep: Iterable[TaskKey]) -> None:
        """Drop CPU counters of tasks not in ``keep``."""
        kept = set(keep)
        self._cpu = {k: v for k, v in self._cpu.items() if k in kept}
