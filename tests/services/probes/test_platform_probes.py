"""The IAM and quota probes pass on the real platform and fail when the capability is broken."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.assessment.probes.base import ProbeContext, ProbeFailure
from services.assessment.status import Status
from services.iam.probes import TenantIsolationProbe
from services.quotas.probes import MultiLevelQuotaProbe
from tests.conftest import PlatformDB
from tests.services.faults import FaultInjector, RewriteStatus

PROBES = [TenantIsolationProbe(), MultiLevelQuotaProbe()]

BREAKAGES = {
    # another tenant can read a project: isolation broken
    "iam.tenant-isolation": RewriteStatus("GET", r"/v1/tenants/[^/]+/projects/[^/]+", 404, 200),
    # reservations beyond the quota are granted: enforcement broken
    "quotas.multi-level": RewriteStatus("POST", r"/v1/tenants/[^/]+/reservations", 409, 201),
}


async def _run(probe, app, token: str):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stic.test") as client:
        ctx = ProbeContext(client=client, admin_key=token)
        return await probe.run(ctx)


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
async def test_probe_verifies_the_real_platform(
    probe, platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    result = await _run(probe, platform_app, platform_db.admin_token)
    assert result.status is Status.VERIFIED, result.message
    calls = [e for e in result.evidence if e.kind == "http"]
    assert len(calls) >= 8
    assert all(e.details["status_code"] and len(e.details["response_sm3"]) == 64 for e in calls)


@pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)  # the breakage is not in the DB
@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
async def test_probe_fails_when_the_capability_is_broken(
    probe, platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    broken = FaultInjector(platform_app, BREAKAGES[probe.name])
    with pytest.raises(ProbeFailure):
        await _run(probe, broken, platform_db.admin_token)
