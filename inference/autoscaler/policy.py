"""Autoscaling policies of model services: which metrics, their targets, windows and cooldown.

A policy is stored as JSON on the service (``ModelService.autoscaling``) together with the
service's ``min_replicas`` / ``max_replicas``. Targets are per-replica averages, as in the
Kubernetes HPA: ``vllm:num_requests_waiting`` = 2 means "about two queued requests per replica".
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from services.kernel.types import StrictModel

# Metric names the autoscaler understands (per replica):
#   engine metrics scraped from the replica's /metrics (vLLM names; the builtin engine uses them too),
#   process metrics from the executor (share of the replica's requested CPU / memory),
#   accelerator metrics normalised from vendor exporters (NVIDIA DCGM, Huawei Ascend npu-exporter,
#   or STIC's vendor-neutral names) — see inference.autoscaler.metrics.
MetricName = Literal[
    "vllm:num_requests_waiting",
    "vllm:num_requests_running",
    "vllm:kv_cache_usage_perc",
    "cpu_utilization",
    "memory_utilization",
    "accelerator_memory_utilization",
    "accelerator_utilization",
]
METRIC_NAMES: tuple[str, ...] = MetricName.__args__  # type: ignore[attr-defined]


class MetricTarget(StrictModel):
    """Keep the replicas' average of ``name`` near ``target`` (fractions for *_utilization and kv cache)."""

    name: MetricName
    target: Annotated[float, Field(gt=0, le=1_000_000)]


class AutoscalingPolicy(StrictModel):
    """How the autoscaler sizes a service.

    * ``metrics``: the desired count is the largest over metrics of ``ceil(current * avg / target)``;
    * ``tolerance``: no change while every ratio ``avg / target`` is within ``1 ± tolerance``;
    * ``scale_up_stabilization_s`` / ``scale_down_stabilization_s``: a scale-up takes the *smallest*
      recommendation of the window, a scale-down the *largest* (so a brief spike or dip does not act);
    * ``cooldown_s``: no change within this long of the previous one;
    * ``max_scale_up_step``: at most this many replicas added at once.
    """

    enabled: bool = True
    metrics: Annotated[list[MetricTarget], Field(min_length=1, max_length=7)]
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.1
    scale_up_stabilization_s: Annotated[float, Field(ge=0, le=3600)] = 0.0
    scale_down_stabilization_s: Annotated[float, Field(ge=0, le=3600)] = 300.0
    cooldown_s: Annotated[float, Field(ge=0, le=3600)] = 30.0
    max_scale_up_step: Annotated[int, Field(ge=1, le=64)] = 4
    interval_s: Annotated[float, Field(ge=1, le=600)] = 15.0

    @model_validator(mode="after")
    def _distinct_metrics(self) -> AutoscalingPolicy:
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise ValueError("metrics: each metric may appear once")
        return self
