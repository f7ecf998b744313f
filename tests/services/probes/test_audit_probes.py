"""The audit probes verify the real Merkle log and fail when it is broken or tampered with."""

from __future__ import annotations

import base64

import httpx
import pytest
from fastapi import FastAPI

from services.assessment.probes.base import ProbeContext, ProbeFailure
from services.assessment.status import Status
from services.audit.probes import TamperEvidentAuditProbe, ToolCallAuditProbe
from services.kernel.audit import MemoryAuditSink
from tests.conftest import PlatformDB
from tests.services.faults import FaultInjector, RewriteJSON

PROBES = [TamperEvidentAuditProbe(), ToolCallAuditProbe()]


async def _run(probe, app, token: str):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://stic.test"
    ) as client:
        return await probe.run(ProbeContext(client=client, admin_key=token))


def _flip_entry_byte(document: dict) -> dict:
    raw = bytearray(base64.b64decode(document["entry"]["entry_b64"]))
    raw[len(raw) // 2] ^= 0x01
    document["entry"]["entry_b64"] = base64.b64encode(bytes(raw)).decode()
    return document


def _drop_proof_node(document: dict) -> dict:
    document["proof"] = document["proof"][1:]
    return document


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
async def test_audit_probe_verifies_the_real_log(
    probe, platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    result = await _run(probe, platform_app, platform_db.admin_token)
    assert result.status is Status.VERIFIED, result.message
    assert any(e.kind == "note" and e.summary == "inclusion verified" for e in result.evidence)


@pytest.mark.parametrize("tamper", [_flip_entry_byte, _drop_proof_node], ids=["entry-byte", "proof-node"])
@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
async def test_audit_probe_detects_a_tampered_entry_or_proof(
    probe, tamper, platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    broken = FaultInjector(platform_app, RewriteJSON("GET", r"/v1/audit/entries/\d+", tamper))
    with pytest.raises(ProbeFailure):
        await _run(probe, broken, platform_db.admin_token)


async def test_resource_requests_not_reaching_the_log_fail_the_probe(
    platform_app: FastAPI, platform_db: PlatformDB
) -> None:
    platform_app.state.audit.set_sink(MemoryAuditSink())  # the hook no longer feeds the Merkle log
    with pytest.raises(ProbeFailure, match="not in the audit log"):
        await _run(TamperEvidentAuditProbe(), platform_app, platform_db.admin_token)
