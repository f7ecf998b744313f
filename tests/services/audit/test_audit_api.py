"""The audit service over HTTP: tenant-scoped queries, proofs a client verifies, tool calls."""

from __future__ import annotations

import base64

import httpx
from fastapi import FastAPI

from security.auditlog import merkle
from security.auditlog.signing import SM2NoteVerifier
from services.audit import schemas
from services.audit.client import AuditClient
from tests.conftest import client_for
from tests.services.builders import TenantFixture, ok


async def record(admin: httpx.AsyncClient, tenant: TenantFixture, category: str, action: str) -> int:
    body = {
        "category": category,
        "action": action,
        "service": "models",
        "tenant_id": tenant.id,
        "result": 200,
    }
    return int((await ok(await admin.post("/v1/audit/events", json=body), 201))["index"])


async def test_events_are_tenant_scoped(
    audit_app: FastAPI, admin: httpx.AsyncClient, tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = tenants
    index_a = await record(admin, a, "model_download", "GET /v1/models/m1/download")
    index_b = await record(admin, b, "data_access", "GET /v1/datasets/d1")
    async with client_for(audit_app, a.tokens["auditor"]) as auditor_a:
        page = await ok(await auditor_a.get("/v1/audit/events", params={"category": "model_download"}))
        assert [e["index"] for e in page["items"]] == [index_a]
        assert page["items"][0]["document"]["event"]["tenant_id"] == a.id
        assert (await auditor_a.get("/v1/audit/events", params={"tenant_id": b.id})).status_code == 404
        assert (await auditor_a.get(f"/v1/audit/entries/{index_b}")).status_code == 404
        assert (await auditor_a.get("/v1/audit/events", params={"all_tenants": True})).status_code == 403
    async with client_for(audit_app, a.tokens["developer"]) as developer_a:
        assert (await developer_a.get("/v1/audit/events")).status_code == 403
        denied = await developer_a.post(
            "/v1/audit/events", json={"category": "data_access", "action": "x", "service": "data"}
        )
        assert denied.status_code == 403
    # the shared test database holds every earlier test's events: read from just before ours
    after = min(index_a, index_b) - 1
    everything = await ok(await admin.get("/v1/audit/events", params={"all_tenants": True, "after": after}))
    assert {index_a, index_b} <= {e["index"] for e in everything["items"]}


async def test_mutating_requests_land_in_the_merkle_log(
    audit_app: FastAPI, tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, _ = tenants
    async with client_for(audit_app, a.tokens["tenant-admin"]) as tenant_admin:
        await ok(await tenant_admin.post("/v1/kms/keys", json={"alias": "hooked"}), 201)
        page = await ok(await tenant_admin.get("/v1/audit/events", params={"action": "POST /v1/kms/keys"}))
    assert page["items"] and page["items"][0]["principal_id"] == a.users["tenant-admin"]


async def test_a_client_verifies_inclusion_and_consistency(
    audit_app: FastAPI, admin: httpx.AsyncClient, tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, _ = tenants
    first = await ok(await admin.post("/v1/audit/checkpoints"), 201)
    index = await record(admin, a, "resource_request", "POST /v1/jobs")
    second = await ok(await admin.post("/v1/audit/checkpoints"), 201)
    key = schemas.PublicKeyOut.model_validate(await ok(await admin.get("/v1/audit/public-key")))
    verifier = SM2NoteVerifier.from_pem(name=key.key_name, pem=key.public_key_pem.encode())
    async with client_for(audit_app, a.tokens["auditor"]) as auditor_a:
        served = await AuditClient(auditor_a).verified_entry(index, verifier)
        assert served.entry.index == index
        proof = await ok(
            await auditor_a.get(
                "/v1/audit/consistency", params={"first": first["size"], "second": second["size"]}
            )
        )
    assert merkle.verify_consistency(
        old_size=first["size"],
        new_size=second["size"],
        old_root=base64.b64decode(first["root_hash"]),
        new_root=base64.b64decode(second["root_hash"]),
        proof=[base64.b64decode(p) for p in proof["proof"]],
    )
    bad = await admin.get("/v1/audit/consistency", params={"first": 5, "second": 10**9})
    assert bad.status_code == 400 and "tree size" in bad.json()["message"]


async def test_tool_calls_are_recorded_with_their_decision(
    audit_app: FastAPI, admin: httpx.AsyncClient, tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = tenants
    call = {
        "tool": "web.fetch",
        "tenant_id": a.id,
        "caller": "agent-7",
        "arguments": {"url": "http://169.254.169.254/latest/meta-data"},
        "decision": "deny",
        "reason": "metadata endpoint blocked",
        "risk_score": 95,
    }
    appended = await ok(await admin.post("/v1/audit/tool-calls", json=call), 201)
    await ok(
        await admin.post("/v1/audit/tool-calls", json={**call, "decision": "allow", "tenant_id": b.id}), 201
    )
    async with client_for(audit_app, a.tokens["auditor"]) as auditor_a:
        page = await ok(
            await auditor_a.get("/v1/audit/tool-calls", params={"decision": "deny", "tool": "web.fetch"})
        )
        allowed = await ok(await auditor_a.get("/v1/audit/tool-calls", params={"decision": "allow"}))
    (entry,) = page["items"]
    assert entry["index"] == appended["index"] and entry["tenant_id"] == a.id
    details = entry["document"]["event"]["details"]
    assert details["caller"] == "agent-7" and details["reason"] == "metadata endpoint blocked"
    assert (
        "169.254" not in base64.b64decode(entry["entry_b64"]).decode() and len(details["arguments_sm3"]) == 64
    )
    assert allowed["items"] == []
    floats = await admin.post("/v1/audit/tool-calls", json={**call, "arguments": {"t": 0.5}})
    assert floats.status_code == 400 and "floats" in floats.json()["message"]
