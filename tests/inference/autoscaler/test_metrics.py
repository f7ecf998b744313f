"""Metric observations: vLLM/builtin engine metrics, vendor accelerator exporters, process use."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import generate_latest

from inference.autoscaler.metrics import MetricsCollector, ReplicaProbe, parse_engine_metrics
from inference.engines.builtin.metrics import EngineMetrics
from scheduler.executors.base import TaskKey, TaskMetrics

VLLM_TEXT = """\
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 3.0
vllm:num_requests_waiting{engine="1",model_name="m"} 2.0
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 4.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.7
"""
ASCEND_TEXT = """\
# HELP npu_chip_info_hbm_used_memory the npu hbm used memory
# TYPE npu_chip_info_hbm_used_memory gauge
npu_chip_info_hbm_used_memory{id="0"} 24000 1613993498553
# HELP npu_chip_info_hbm_total_memory the npu hbm total memory
# TYPE npu_chip_info_hbm_total_memory gauge
npu_chip_info_hbm_total_memory{id="0"} 32000 1613993498553
# TYPE npu_chip_info_utilization gauge
npu_chip_info_utilization{id="0"} 40 1613993498553
"""
DCGM_TEXT = """\
DCGM_FI_DEV_FB_USED{gpu="0"} 30000
DCGM_FI_DEV_FB_FREE{gpu="0"} 10000
DCGM_FI_DEV_GPU_UTIL{gpu="0"} 90
"""
NEUTRAL_TEXT = """\
stic_accelerator_memory_used_mib{vendor="cambricon",device="0"} 1000
stic_accelerator_memory_total_mib{vendor="cambricon",device="0"} 4000
stic_accelerator_utilization{vendor="cambricon",device="0"} 0.3
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            VLLM_TEXT,
            {
                "vllm:num_requests_waiting": 5.0,
                "vllm:num_requests_running": 4.0,
                "vllm:kv_cache_usage_perc": 0.6,
            },
        ),
        ("vllm:gpu_cache_usage_perc 0.25\n", {"vllm:kv_cache_usage_perc": 0.25}),
        (ASCEND_TEXT, {"accelerator_memory_utilization": 0.75, "accelerator_utilization": 0.4}),
        (DCGM_TEXT, {"accelerator_memory_utilization": 0.75, "accelerator_utilization": 0.9}),
        (NEUTRAL_TEXT, {"accelerator_memory_utilization": 0.25, "accelerator_utilization": 0.3}),
        ("process_cpu_seconds_total 3.0\n", {}),
    ],
    ids=["vllm", "vllm-old-kv-name", "ascend-npu-exporter", "nvidia-dcgm", "stic-neutral", "unrelated"],
)
def test_parse_engine_metrics(text: str, expected: dict[str, float]) -> None:
    values = parse_engine_metrics(text)
    assert values.keys() == expected.keys()
    for name, value in expected.items():
        assert values[name] == pytest.approx(value)


def test_builtin_engine_exposition_is_understood() -> None:
    """The builtin engine's own /metrics text (vLLM names) parses to the queue metrics."""
    metrics = EngineMetrics(model_name="tiny", running=lambda: 1, waiting=lambda: 7)
    values = parse_engine_metrics(generate_latest(metrics.registry).decode())
    assert values["vllm:num_requests_waiting"] == 7
    assert values["vllm:num_requests_running"] == 1
    assert values["vllm:kv_cache_usage_perc"] == 0


class FakeExecutor:
    """Reports growing CPU seconds and a fixed resident size for one task."""

    name = "fake"

    def __init__(self) -> None:
        self.cpu = 0.0

    async def metrics(self, key: TaskKey) -> TaskMetrics:
        self.cpu += 1.0
        return TaskMetrics(cpu_seconds=self.cpu, rss_mib=512.0, runtime_s=10.0)


async def test_collector_combines_engine_and_process_metrics() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/metrics":
            return httpx.Response(200, text=VLLM_TEXT)
        return httpx.Response(404)

    executor = FakeExecutor()
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        collector = MetricsCollector(http=http, executor=lambda: executor)  # type: ignore[arg-type,return-value]
        probe = ReplicaProbe(
            "mrp_1", "http://replica/metrics", TaskKey("tsk_1", 0), cpu_milli=2000, memory_mib=1024
        )
        first = await collector.collect(probe)
        second = await collector.collect(probe)
    assert first.values["vllm:num_requests_waiting"] == 5.0
    assert first.values["memory_utilization"] == 0.5
    assert "cpu_utilization" not in first.values  # a rate needs two observations
    assert second.values["cpu_utilization"] > 0


async def test_collector_tolerates_dead_and_garbage_endpoints() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "dead":
            raise httpx.ConnectError("refused", request=request)
        if request.url.host == "error":
            return httpx.Response(500)
        return httpx.Response(200, text="this is { not prometheus")

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        collector = MetricsCollector(http=http)
        for host in ("dead", "error", "garbage"):
            sample = await collector.collect(ReplicaProbe("r", f"http://{host}/metrics", None, 1000, 1024))
            assert sample.values == {}


def test_a_simulated_npu_exporter_reads_as_ascend_series_and_says_it_is_simulated() -> None:
    metrics = EngineMetrics(model_name="m", running=lambda: 0, waiting=lambda: 0)
    assert "accelerator_simulated" not in parse_engine_metrics(metrics.render().decode())
    metrics.simulate_npu(used_mib=52428.8, total_mib=65536.0, utilization_pct=40.0)
    values = parse_engine_metrics(metrics.render().decode())
    assert values["accelerator_memory_utilization"] == pytest.approx(0.8)
    assert values["accelerator_utilization"] == pytest.approx(0.4)
    assert values["accelerator_simulated"] == 1.0
