"""The KMS over HTTP: roles, tenant isolation, context binding, and audit of every use."""

from __future__ import annotations

from fastapi import FastAPI

from security.crypto import SM4GCM
from services.kms.client import KmsClient
from tests.conftest import client_for
from tests.services.builders import TenantFixture, ok

CTX = {"artefact": "model/qwen-7b"}


async def test_envelope_encryption_round_trip_and_isolation(
    audit_app: FastAPI, tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, b = tenants
    async with (
        client_for(audit_app, a.tokens["tenant-admin"]) as admin_a,
        client_for(audit_app, a.tokens["developer"]) as dev_a,
        client_for(audit_app, a.tokens["viewer"]) as viewer_a,
        client_for(audit_app, b.tokens["developer"]) as dev_b,
    ):
        key = await KmsClient(admin_a).create_key("artefacts")
        kms_a = KmsClient(dev_a)
        data_key, blob = await kms_a.generate_data_key(key.id, CTX)
        sealed = SM4GCM(data_key).seal(b"weights")
        assert SM4GCM(await kms_a.decrypt(blob, CTX)).open(sealed) == b"weights"
        secret_blob = await kms_a.encrypt(key.id, b"db-password", CTX)
        assert await kms_a.decrypt(secret_blob, CTX) == b"db-password"

        wrong_context = await dev_a.post(
            "/v1/kms/decrypt", json={"ciphertext_blob": secret_blob, "encryption_context": {}}
        )
        assert wrong_context.status_code == 400 and wrong_context.json()["error"] == "invalid_ciphertext"
        other_tenant = await dev_b.post(
            "/v1/kms/decrypt", json={"ciphertext_blob": secret_blob, "encryption_context": CTX}
        )
        assert other_tenant.status_code == 404
        assert (await dev_b.get(f"/v1/kms/keys/{key.id}")).status_code == 404
        assert (
            await viewer_a.post("/v1/kms/encrypt", json={"key_id": key.id, "plaintext": "eA=="})
        ).status_code == 403
        assert (await dev_a.post(f"/v1/kms/keys/{key.id}/rotate")).status_code == 403

        rotated = await ok(await admin_a.post(f"/v1/kms/keys/{key.id}/rotate"))
        assert rotated["primary_version"] == 2
        upgraded = await kms_a.re_encrypt(secret_blob, source_context=CTX)
        assert (
            upgraded.key_version == 2 and await kms_a.decrypt(upgraded.ciphertext_blob, CTX) == b"db-password"
        )
        assert await kms_a.decrypt(secret_blob, CTX) == b"db-password"


async def test_every_kms_use_is_in_the_audit_log(
    audit_app: FastAPI, tenants: tuple[TenantFixture, TenantFixture]
) -> None:
    a, _ = tenants
    async with (
        client_for(audit_app, a.tokens["tenant-admin"]) as admin_a,
        client_for(audit_app, a.tokens["auditor"]) as auditor_a,
    ):
        key = await KmsClient(admin_a).create_key("audited")
        blob = await KmsClient(admin_a).encrypt(key.id, b"x", CTX)
        await admin_a.post("/v1/kms/decrypt", json={"ciphertext_blob": blob, "encryption_context": {}})
        page = await ok(await auditor_a.get("/v1/audit/events", params={"category": "kms", "limit": 1000}))
        bad = await admin_a.post("/v1/kms/encrypt", json={"key_id": key.id, "plaintext": "not base64!"})
    uses = [(e["action"], e["document"]["event"]["result"]) for e in page["items"]]
    assert ("kms.CreateKey", 200) in uses and ("kms.Encrypt", 200) in uses and ("kms.Decrypt", 400) in uses
    assert bad.status_code == 422
