"""Prometheus metrics under vLLM's names, so the gateway and autoscaler read every engine alike."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Bucket edges copied from vLLM's v1 metrics so histograms from both engines can be merged.
TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
E2E_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
    30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class EngineMetrics:
    """The builtin engine's metrics, in a registry of their own (one per app, so tests do not collide).

    ``running`` and ``waiting`` are read at scrape time from the worker.
    """

    def __init__(self, *, model_name: str, running: Callable[[], int], waiting: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["model_name"]
        Gauge(
            "vllm:num_requests_running", "Requests being generated now.", labels, registry=self.registry
        ).labels(model_name).set_function(running)
        Gauge(
            "vllm:num_requests_waiting",
            "Requests admitted and queued for a worker.",
            labels,
            registry=self.registry,
        ).labels(model_name).set_function(waiting)
        # This engine keeps no shared paged KV cache (each request holds its own transformers cache
        # for its lifetime), so the usage is reported as 0; autoscaling on it then relies on the
        # waiting-queue metric alone.
        Gauge(
            "vllm:kv_cache_usage_perc", "KV-cache usage, 0-1 (always 0: no shared KV cache).", labels,
            registry=self.registry,
        ).labels(model_name).set(0)  # fmt: skip
        self.prompt_tokens = Counter(
            "vllm:prompt_tokens", "Prefill tokens processed.", labels, registry=self.registry
        ).labels(model_name)
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Generation tokens produced.", labels, registry=self.registry
        ).labels(model_name)
        self.time_to_first_token = Histogram(
            "vllm:time_to_first_token_seconds", "From arrival to the first generated token.", labels,
            buckets=TTFT_BUCKETS, registry=self.registry,
        ).labels(model_name)  # fmt: skip
        self.e2e_latency = Histogram(
            "vllm:e2e_request_latency_seconds", "From arrival to the last token.", labels,
            buckets=E2E_BUCKETS, registry=self.registry,
        ).labels(model_name)  # fmt: skip
        self._success = Counter(
            "vllm:request_success", "Finished requests by finish reason.", [*labels, "finished_reason"],
            registry=self.registry,
        )  # fmt: skip
        self._model_name = model_name

    def simulate_npu(self, *, used_mib: float, total_mib: float, utilization_pct: float) -> None:
        """Expose a SIMULATED Huawei Ascend npu-exporter chip (fixed values, label ``simulated="true"``)
        plus ``stic_accelerator_simulated 1``, so that the autoscaler's chip path can be exercised on
        machines without a domestic chip. Off unless the engine is started with ``--simulated-npu-*``.
        """
        labels = ["id", "simulated"]
        for name, value in (
            ("npu_chip_info_hbm_used_memory", used_mib),
            ("npu_chip_info_hbm_total_memory", total_mib),
            ("npu_chip_info_utilization", utilization_pct),
        ):
            Gauge(name, f"SIMULATED npu-exporter {name}", labels, registry=self.registry).labels(
                "0", "true"
            ).set(value)
        Gauge(
            "stic_accelerator_simulated", "1: the accelerator series are simulated", registry=self.registry
        ).set(1)

    def record_success(self, finish_reason: str) -> None:
        """Count one finished request."""
        self._success.labels(self._model_name, finish_reason).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
