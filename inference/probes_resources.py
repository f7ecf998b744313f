"""Assessment probes for model-service status metrics (6.3.3.1 c) and autoscaling (6.3.1.3.1 h,
6.3.3.1 e), each on a builtin service of its own whose replica is a real local process.

* ``inference.status-metrics``: the status shows per replica memory, CPU, I/O counters and the
  accelerator section (empty on CPU replicas, and said so); traffic sent through the gateway must
  move the call volume, the CPU seconds and the replica's I/O counters.
* ``inference.autoscaling``: a policy on ``memory_utilization`` with a target below what the idle
  replica already uses scales the service up to ``max_replicas`` (no further, though the
  recommendation is higher); a target above it scales it back down to ``min_replicas``.
* ``inference.autoscaling-chip``: the same on ``accelerator_memory_utilization`` read from Huawei
  Ascend npu-exporter series. No domestic chip is present here, so the replica exposes a SIMULATED
  npu-exporter chip (builtin engine ``--simulated-npu-hbm-used-mib``); the decision and scaling
  path is real, the chip is not, and the probe reports ``simulated``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from inference.probes import REPLICA_CPU_MILLI, InferenceKit, replica_verdict
from services.assessment.probes.base import ProbeContext, ProbeResult

MEMORY_MIB = 2048
SCALE_TIMEOUT_S = 45.0
NPU_TOTAL_MIB = 65536.0
NPU_USED_MIB = 52428.8  # 80 % of a 64 GiB Ascend 910B


async def builtin_service(kit: InferenceKit, name: str, engine_args: list[str] | None = None) -> str:
    """A one-replica builtin service of the platform model, waited until ready; its id."""
    service = await kit.create(
        {
            "name": name,
            "engine": "builtin",
            "model_dir": await kit.model_dir(),
            "resources": {"cpu_milli": REPLICA_CPU_MILLI, "memory_mib": MEMORY_MIB},
            "engine_args": engine_args or [],
        }
    )
    await kit.wait_ready(service["id"], replicas=1)
    return str(service["id"])


def _ready_detail(status: dict[str, Any]) -> dict[str, Any]:
    ready = [d for d in status["replicas"]["details"] if d["state"] == "ready"]
    if not ready:
        return {}
    return dict(ready[0])


def _any_simulated(*statuses: dict[str, Any]) -> bool:
    """True when any replica listed in ``statuses`` was placed on a simulated node."""
    return any(d.get("simulated") for s in statuses for d in s["replicas"]["details"])


class StatusMetricsProbe:
    """Status of an inference service: memory, CPU, I/O and accelerator figures per replica."""

    name = "inference.status-metrics"
    clause_ids = ("6.3.3.1.c",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "status") as kit:
            sid = await builtin_service(kit, "status-llm")
            await kit.wait_routable("status-llm")
            before = await kit.get(sid, "/status")
            first = _ready_detail(before)
            ctx.require(bool(first), "the status lists no ready replica")
            for field in ("rss_mib", "cpu_seconds"):
                ctx.require(first.get(field) is not None, f"the status shows no {field} for the replica")
            io_before = first.get("io") or {}
            ctx.require(
                io_before.get("rchar") is not None and io_before.get("wchar") is not None,
                f"the status shows no I/O counters for the replica: {io_before}",
            )
            ctx.require("accelerator" in first, "the status has no accelerator section per replica")
            sent = 5
            for _ in range(sent):
                answer = await kit.chat("status-llm")
                ctx.require(answer.status_code == 200, f"a chat answered {answer.status_code}")
            await kit.logged(sent, service_id=sid)
            after = await kit.get(sid, "/status")
            second = _ready_detail(after)
            ctx.require(second.get("id") == first["id"], "the replica changed while the probe ran")
            io_after = second.get("io") or {}
            moved = {k: io_after[k] - io_before[k] for k in ("rchar", "wchar")}
            ctx.require(
                all(v > 0 for v in moved.values()), f"{sent} requests did not move the I/O counters: {moved}"
            )
            ctx.require(
                float(second["cpu_seconds"]) > float(first["cpu_seconds"]),
                "serving requests did not move the replica's CPU seconds",
            )
            calls = int(after["calls"]["requests"]) - int(before["calls"]["requests"])
            ctx.require(calls >= sent, f"the call volume moved by {calls}, expected {sent}")
            accelerator = second["accelerator"]
            ctx.note(
                "status figures",
                rss_mib=second["rss_mib"],
                io_delta=moved,
                calls=calls,
                accelerator=accelerator,
            )
            chip = (
                "no accelerator on this CPU replica (shown as none)"
                if accelerator is None
                else f"accelerator {accelerator}"
            )
            return replica_verdict(
                ctx,
                bool(second.get("simulated")),
                f"per-replica memory {second['rss_mib']:.0f} MiB, CPU and I/O counters (read/write bytes "
                f"+{moved['rchar']:.0f}/+{moved['wchar']:.0f}) and call volume (+{calls}) moved with "
                f"traffic; {chip}",
            )


async def set_policy(
    kit: InferenceKit, sid: str, metric: str, target: float, *, max_replicas: int = 2
) -> None:
    """Put a fast-acting policy on ``metric`` with bounds 1..``max_replicas``."""
    response = await kit.ctx.put(
        f"{kit.base}/{sid}/autoscaling",
        json={
            "metrics": [{"name": metric, "target": target}],
            "min_replicas": 1,
            "max_replicas": max_replicas,
            "interval_s": 1,
            "cooldown_s": 0,
            "scale_up_stabilization_s": 0,
            "scale_down_stabilization_s": 0,
            "tolerance": 0.1,
        },
        authenticated=False,
        headers=kit.admin(),
    )
    kit.ctx.require(
        response.status_code == 200,
        f"PUT autoscaling on {metric} answered {response.status_code}: {response.text[:300]}",
    )


async def wait_desired(kit: InferenceKit, sid: str, desired: int) -> dict[str, Any]:
    """The service's status once the autoscaler has set ``desired`` replicas (an ``autoscaled`` event)."""

    async def check() -> bool:
        return int((await kit.get(sid))["replicas"]["desired"]) == desired

    await kit.until(f"the autoscaler to set {desired} replica(s)", check, timeout_s=SCALE_TIMEOUT_S)
    events = await kit.get(sid, "/events")
    kit.ctx.require(
        any(e["kind"] == "autoscaled" for e in events["items"]),
        "the replica count changed without an autoscaled event",
    )
    return dict(await kit.get(sid, "/status"))


def _recommendation(status: dict[str, Any]) -> int:
    """The largest count a metric of the last decision asked for, before the bounds applied."""
    metrics = (status.get("autoscaler") or {}).get("metrics") or {}
    return max((int(m.get("proposal") or 0) for m in metrics.values()), default=0)


class AutoscalingProbe:
    """Automatic scaling of a model service on a custom CPU / memory policy, within min and max."""

    name = "inference.autoscaling"
    clause_ids = ("6.3.1.3.1.h",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "scale") as kit:
            sid = await builtin_service(kit, "scaled-llm")
            detail = _ready_detail(await kit.get(sid, "/status"))
            rss = detail.get("rss_mib")
            ctx.require(rss is not None and rss > 0, "the status shows no memory for the replica")
            used = float(rss or 0) / MEMORY_MIB
            low = max(used / 10, 0.0001)
            await set_policy(kit, sid, "memory_utilization", low)
            up = await wait_desired(kit, sid, 2)
            recommended = _recommendation(up)
            await kit.wait_ready(sid, replicas=2)  # the added replica really serves
            up = await kit.get(sid, "/status")
            ctx.require(
                recommended > 2,
                f"the recommendation was {recommended}: max_replicas 2 was not what held the count",
            )
            await asyncio.sleep(1.0)
            ctx.require(int((await kit.get(sid))["replicas"]["desired"]) == 2, "the count went past max")
            await set_policy(kit, sid, "memory_utilization", 1.0)
            down = await wait_desired(kit, sid, 1)
            ctx.note(
                "memory policy",
                memory_utilization=used,
                low_target=low,
                scale_up_recommendation=recommended,
                scale_down=down.get("autoscaler"),
            )
            return replica_verdict(
                ctx,
                _any_simulated(up, down),
                f"memory_utilization {used:.3f} above target {low:.4f}: scaled 1 → 2 (recommended "
                f"{recommended}, held at max 2); target 1.0: scaled back to min 1",
            )


class ChipAutoscalingProbe:
    """Automatic scaling on a domestic-chip (Ascend npu-exporter) metric — on a simulated chip."""

    name = "inference.autoscaling-chip"
    clause_ids = ("6.3.3.1.e",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        async with InferenceKit(ctx, "npu") as kit:
            sid = await builtin_service(
                kit,
                "npu-llm",
                [
                    f"--simulated-npu-hbm-used-mib={NPU_USED_MIB}",
                    f"--simulated-npu-hbm-total-mib={NPU_TOTAL_MIB}",
                ],
            )
            detail = _ready_detail(await kit.get(sid, "/status"))
            accelerator = detail.get("accelerator") or {}
            ctx.require(
                abs(float(accelerator.get("accelerator_memory_utilization", -1)) - 0.8) < 0.01,
                f"the status does not show the chip's HBM use from npu-exporter series: {accelerator}",
            )
            await set_policy(kit, sid, "accelerator_memory_utilization", 0.3)
            up = await wait_desired(kit, sid, 2)
            recommended = _recommendation(up)
            ctx.require(recommended > 2, f"the recommendation was {recommended}, expected above max 2")
            ctx.note("npu policy", accelerator=accelerator, recommendation=recommended)
            simulated = bool(accelerator.get("accelerator_simulated"))
            message = (
                "Ascend npu-exporter HBM use 0.80 above target 0.30: scaled 1 → 2 "
                f"(recommended {recommended}, held at max 2)"
            )
            if not simulated and not _any_simulated(up):
                return ctx.verified(message)
            return ctx.simulated(
                f"{message}; the chip series came from a SIMULATED npu-exporter (no chip here)"
            )


PROBES = (StatusMetricsProbe(), AutoscalingProbe(), ChipAutoscalingProbe())
