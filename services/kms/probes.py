"""Assessment probe for data-loop protection: encryption and de-identification (6.3.1.1.7 d).

A request-log record carrying personal data is de-identified through the masking API, then
sealed with the KMS (SM4-GCM under a tenant master key, the encryption context bound as AAD)
and opened again. The probe checks that no personal value survives masking, that the sealed
blob does not contain the record, that the right context opens it and a wrong one does not.
"""

from __future__ import annotations

import base64
import json

from services.assessment.probes.base import ProbeContext, ProbeResult
from services.iam.probes import ProbeTenant

# A valid resident-ID checksum, a mainland mobile number and a Luhn-valid card: synthetic values.
PERSONAL = {"id": "11010519491231002X", "mobile": "13812345678", "card": "6222020200112233446"}


class DataLoopProtectionProbe:
    """Request logs can be de-identified and encrypted with SM algorithms (6.3.1.1.7 d)."""

    name = "kms.data-loop-protection"
    clause_ids = ("6.3.1.1.7.d",)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        """Mask a log record with PII, seal it with the KMS, open it with the right and a wrong context."""
        tenant = ProbeTenant(ctx, "dataloop")
        try:
            await tenant.create("tenant-admin")
            admin = tenant.auth("tenant-admin")
            record = {
                "prompt": f"我的身份证号是{PERSONAL['id']}，手机{PERSONAL['mobile']}，卡号{PERSONAL['card']}",
                "user": {"email": "alice@example.com"},
                "authorization": "Bearer secret-token",
            }
            masked = await ctx.post(
                f"/v1/tenants/{tenant.id}/safety/mask",
                json={"record": record},
                authenticated=False,
                headers=admin,
            )
            ctx.require(masked.status_code == 200, f"masking a log record answered {masked.status_code}")
            text = json.dumps(masked.json()["record"], ensure_ascii=False)
            leaked = [v for v in [*PERSONAL.values(), "alice@example.com", "secret-token"] if v in text]
            ctx.require(not leaked, f"the masked record still contains {leaked}")

            key = await ctx.post(
                "/v1/kms/keys", json={"alias": "probe/data-loop"}, authenticated=False, headers=admin
            )
            ctx.require(key.status_code == 201, f"creating a KMS key answered {key.status_code}")
            plaintext = json.dumps(masked.json()["record"], ensure_ascii=False).encode()
            context = {"dataset": "request-logs", "tenant": tenant.id}
            sealed = await ctx.post(
                "/v1/kms/encrypt",
                json={
                    "key_id": key.json()["id"],
                    "plaintext": base64.b64encode(plaintext).decode(),
                    "encryption_context": context,
                },
                authenticated=False,
                headers=admin,
            )
            ctx.require(sealed.status_code == 200, f"encrypting with the KMS answered {sealed.status_code}")
            blob = sealed.json()["ciphertext_blob"]
            ctx.require(plaintext not in base64.b64decode(blob), "the ciphertext contains the plaintext")
            opened = await ctx.post(
                "/v1/kms/decrypt",
                json={"ciphertext_blob": blob, "encryption_context": context},
                authenticated=False,
                headers=admin,
            )
            ctx.require(
                opened.status_code == 200, f"decrypting with the right context answered {opened.status_code}"
            )
            ctx.require(
                base64.b64decode(opened.json()["plaintext"]) == plaintext,
                "decryption did not return the record",
            )
            wrong = await ctx.post(
                "/v1/kms/decrypt",
                json={"ciphertext_blob": blob, "encryption_context": {**context, "dataset": "other"}},
                authenticated=False,
                headers=admin,
            )
            ctx.require(
                400 <= wrong.status_code < 500,
                f"decrypting with a wrong context answered {wrong.status_code}",
            )
            return ctx.verified(
                "a request-log record was de-identified (ID, mobile, card, e-mail, credentials) and sealed "
                "with SM4-GCM under a tenant KMS key; only the right encryption context opens it"
            )
        finally:
            await tenant.delete()


PROBES = (DataLoopProtectionProbe(),)
