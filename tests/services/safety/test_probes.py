"""The 6.4.2 b probe passes on the real platform and fails when any part of the capability breaks."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp

from services.assessment.probes.base import ProbeContext, ProbeFailure, ProbeResult
from services.assessment.status import Status
from services.kernel.audit import MemoryAuditSink
from services.safety.probes import ContentGovernanceProbe
from tests.conftest import PlatformDB
from tests.services.faults import FaultInjector, RewriteJSON, RewriteStatus, Rule

CHECK = r"/v1/tenants/[^/]+/safety/check"


def _allow_everything(decision: dict) -> dict:
    return {**decision, "action": "allow", "categories": [], "masked_text": None, "message": None}


def _perfect_scores(report: dict) -> dict:
    for counts in report["per_category"].values():
        counts.update(precision=1.0, recall=1.0)
    return report


def _forward_everything(stream: dict) -> dict:
    return {**stream, "stopped": False, "forwarded": "".join(["probe-contra", "band"])}


# breakage → (fault, what the probe must say)
BREAKAGES: dict[str, tuple[Rule, str]] = {
    "checks-allow-everything": (
        RewriteJSON("POST", CHECK, _allow_everything),
        "refused term was decided 'allow'",
    ),
    "review-approval-fails": (
        RewriteStatus("POST", r"/v1/tenants/[^/]+/safety/reviews/[^/]+/approve", 200, 500),
        "approving the review item answered 500",
    ),
    "evaluation-invents-scores": (
        RewriteJSON("POST", r"/v1/tenants/[^/]+/safety/packs/[^/]+/evaluate", _perfect_scores),
        "evaluation of contraband",
    ),
    "stream-leaks-split-term": (
        RewriteJSON("POST", CHECK + "/stream", _forward_everything),
        "split across stream chunks was not stopped",
    ),
    "bad-packs-accepted": (
        RewriteStatus("POST", r"/v1/tenants/[^/]+/safety/packs", 422, 201),
        "expected 422 naming categories.escalate.action",
    ),
}


async def _run(app: ASGIApp, token: str) -> ProbeResult:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://stic.test"
    ) as client:
        return await ContentGovernanceProbe().run(ProbeContext(client=client, admin_key=token))


async def test_probe_verifies_the_real_platform(platform_app: FastAPI, platform_db: PlatformDB) -> None:
    result = await _run(platform_app, platform_db.admin_token)
    assert result.status is Status.VERIFIED, result.message
    assert "Multimodal detection is not implemented" in result.message
    stages = next(e for e in result.evidence if e.kind == "note" and e.summary == "stages")
    assert stages.details["multimodal"] == "not implemented" and stages.details["semantic"] is False
    calls = [e for e in result.evidence if e.kind == "http"]
    assert len(calls) >= 30 and all(len(e.details["response_sm3"]) == 64 for e in calls)


# Faults are injected at the HTTP layer, so the database backend adds nothing here: SQLite only.
ON_SQLITE = pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)


@ON_SQLITE
@pytest.mark.parametrize("breakage", list(BREAKAGES))
async def test_probe_fails_when_the_capability_is_broken(
    breakage: str, platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    fault, message = BREAKAGES[breakage]
    with pytest.raises(ProbeFailure, match=re.escape(message)):
        await _run(FaultInjector(platform_app, fault), platform_db.admin_token)


@ON_SQLITE
async def test_probe_fails_when_decisions_are_not_audited(
    platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    platform_app.state.audit.set_sink(MemoryAuditSink())  # decisions no longer reach the Merkle log
    with pytest.raises(ProbeFailure, match="not in the audit log"):
        await _run(platform_app, platform_db.admin_token)
