"""The data-loop protection probe passes on the real platform and fails when masking or the KMS breaks."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from services.assessment.probes.base import ProbeContext, ProbeFailure
from services.assessment.status import Status
from services.kms.probes import PERSONAL, DataLoopProtectionProbe
from tests.conftest import PlatformDB
from tests.services.faults import FaultInjector, RewriteJSON, RewriteStatus


async def _run(app, token: str):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://stic.test"
    ) as client:
        return await DataLoopProtectionProbe().run(ProbeContext(client=client, admin_key=token))


async def test_probe_verifies_masking_and_encryption(platform_app: FastAPI, platform_db: PlatformDB) -> None:
    result = await _run(platform_app, platform_db.admin_token)
    assert result.status is Status.VERIFIED, result.message


def _leak_mobile(document: dict) -> dict:
    document["record"]["prompt"] += PERSONAL["mobile"]
    return document


@pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)  # the breakage is not in the DB
@pytest.mark.parametrize(
    "fault",
    [
        RewriteJSON("POST", r"/v1/tenants/[^/]+/safety/mask", _leak_mobile),
        RewriteStatus("POST", r"/v1/kms/decrypt", 400, 200),
        RewriteStatus("POST", r"/v1/kms/decrypt", 200, 503),
    ],
    ids=["masking-leaks", "wrong-context-accepted", "decrypt-broken"],
)
async def test_probe_fails_when_protection_breaks(
    fault, platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    with pytest.raises(ProbeFailure):
        await _run(FaultInjector(platform_app, fault), platform_db.admin_token)
