"""The engine probes: ``inference.engines`` passes only where a second, acceleration-library engine
(vLLM) really serves the model; ``inference.unified-api`` sees one API structure over the builtin
engine and the openai adapter, and fails when one engine answers in another structure."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from inference.engines.settings import EngineSettings
from inference.probes_engines import InferenceEnginesProbe, UnifiedInferenceApiProbe
from services.assessment.probes.base import ProbeFailure
from services.assessment.status import Status
from tests.conftest import PlatformDB
from tests.inference.test_probes import _run, demo_platform, probe_platform  # noqa: F401 - fixtures
from tests.services.faults import FaultInjector, RewriteJSON

ENGINES = r"/v1/inference/engines"


class DropUsageAfterFirst:
    """From the second non-streamed chat answer on, the usage is missing (one engine differs)."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        self.seen += 1
        return body if self.seen == 1 else {k: v for k, v in body.items() if k != "usage"}


def _hide_vllm(body: dict[str, Any]) -> dict[str, Any]:
    items = [
        {**e, "available": False, "reason": "hidden"} if e["name"] == "vllm" else e for e in body["items"]
    ]
    return {**body, "items": items}


def _claim_vllm(body: dict[str, Any]) -> dict[str, Any]:
    items = [{**e, "available": True, "reason": ""} if e["name"] == "vllm" else e for e in body["items"]]
    return {**body, "items": items}


@pytest.mark.parametrize("isolated_db", ["sqlite"], indirect=True)  # real replicas: once is enough
async def test_unified_api_probe(demo_platform: FastAPI, isolated_db: PlatformDB) -> None:  # noqa: F811
    probe = UnifiedInferenceApiProbe()
    result = await _run(probe, demo_platform, isolated_db.admin_token)
    assert result.status is Status.SIMULATED, result.message
    assert "uni-builtin" in result.message and "uni-openai" in result.message
    broken = FaultInjector(demo_platform, RewriteJSON("POST", "/v1/chat/completions", DropUsageAfterFirst()))
    with pytest.raises(ProbeFailure, match="another structure"):
        await _run(probe, broken, isolated_db.admin_token)


@pytest.mark.parametrize("isolated_db", ["sqlite"], indirect=True)
async def test_engines_probe_needs_a_real_second_engine(
    demo_platform: FastAPI,  # noqa: F811
    isolated_db: PlatformDB,
) -> None:
    probe = InferenceEnginesProbe()
    if EngineSettings().vllm_python.is_file():  # CI: .venv-vllm exists, a real vLLM replica starts
        result = await _run(probe, demo_platform, isolated_db.admin_token)
        assert result.status is Status.VERIFIED, result.message
        assert "vllm" in result.message
        # the engine catalogue loses vLLM: the probe must not pass on the builtin engine alone
        broken = FaultInjector(demo_platform, RewriteJSON("GET", ENGINES, _hide_vllm))
        with pytest.raises(ProbeFailure, match="only"):
            await _run(probe, broken, isolated_db.admin_token)
    else:
        with pytest.raises(ProbeFailure, match="vllm"):
            await _run(probe, demo_platform, isolated_db.admin_token)
        # a listing that claims vLLM where none runs: the probe must see the service fail, not trust it
        broken = FaultInjector(demo_platform, RewriteJSON("GET", ENGINES, _claim_vllm))
        with pytest.raises(ProbeFailure):
            await _run(probe, broken, isolated_db.admin_token)
