"""The status-metrics and autoscaling probes pass on the real platform and fail when broken.

Each runs a builtin service of its own (real replica processes); the breakages are a status that
loses the I/O counters and an autoscaler that no longer runs.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

import inference.probes_resources as probes_resources
from services.assessment.probes.base import ProbeFailure
from services.assessment.status import Status
from tests.conftest import PlatformDB
from tests.inference.test_probes import _run, demo_platform, probe_platform  # noqa: F401 - fixtures
from tests.services.faults import FaultInjector, RewriteJSON

STATUS = r"/v1/tenants/[^/]+/model-services/[^/]+/status"


def _without_io(status: dict) -> dict:  # type: ignore[type-arg]
    details = [{**d, "io": {}} for d in status["replicas"]["details"]]
    return {**status, "replicas": {**status["replicas"], "details": details}}


@pytest.mark.parametrize("isolated_db", ["sqlite"], indirect=True)  # real replicas: once is enough
async def test_status_metrics_probe(demo_platform: FastAPI, isolated_db: PlatformDB) -> None:  # noqa: F811
    probe = probes_resources.StatusMetricsProbe()
    result = await _run(probe, demo_platform, isolated_db.admin_token)
    assert result.status is Status.VERIFIED, result.message
    assert "no accelerator" in result.message
    broken = FaultInjector(demo_platform, RewriteJSON("GET", STATUS, _without_io))
    with pytest.raises(ProbeFailure, match="I/O counters"):
        await _run(probe, broken, isolated_db.admin_token)


@pytest.mark.parametrize("isolated_db", ["sqlite"], indirect=True)
async def test_autoscaling_probes(
    demo_platform: FastAPI,  # noqa: F811
    isolated_db: PlatformDB,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory = await _run(probes_resources.AutoscalingProbe(), demo_platform, isolated_db.admin_token)
    assert memory.status is Status.VERIFIED, memory.message
    chip = await _run(probes_resources.ChipAutoscalingProbe(), demo_platform, isolated_db.admin_token)
    assert chip.status is Status.SIMULATED, chip.message
    assert "SIMULATED npu-exporter" in chip.message

    await demo_platform.state.modelservice.autoscaler.stop()  # policies are stored but never acted on
    monkeypatch.setattr(probes_resources, "SCALE_TIMEOUT_S", 4.0)
    for probe in (probes_resources.AutoscalingProbe(), probes_resources.ChipAutoscalingProbe()):
        with pytest.raises(ProbeFailure, match="autoscaler to set 2"):
            await _run(probe, demo_platform, isolated_db.admin_token)
