"""Masking JSON records: per-tenant keyed hashes, default credential redaction, named errors."""

from __future__ import annotations

import pytest

from security.masking.strategies import derive_salt, hash_with_salt
from security.safety.pii import PiiKind
from services.safety.errors import Unprocessable
from services.safety.masking import build_policy, mask_json, masking_salt
from services.safety.schemas import MaskingPolicyIn
from tests.services.builders import ok
from tests.services.safety.builders import SafetyTenant

SECRET = "a-test-secret-of-some-length"
RECORD = {
    "authorization": "Bearer stic_0123456789abcdef_x",
    "request": {"messages": [{"content": "我的手机 13812345678，邮箱 Zhang.San@Example.com"}]},
    "caller_phone": 13812345678,
    "latency_ms": 12.5,
}


def test_salts_are_derived_from_the_secret_and_separated_per_tenant() -> None:
    assert masking_salt(SECRET, None) == derive_salt(SECRET)
    first, second = masking_salt(SECRET, "ten_a"), masking_salt(SECRET, "ten_b")
    assert len({first, second, derive_salt(SECRET)}) == 3 and len(first) >= 16
    assert masking_salt(SECRET, "ten_a") == first


def test_a_record_is_masked_by_policy() -> None:
    salt = masking_salt(SECRET, "ten_a")
    policy = build_policy(
        MaskingPolicyIn(kinds={PiiKind.MOBILE: "hash"}, fields={"caller_phone": "keep"}), salt=salt
    )
    masked = mask_json(RECORD, policy=policy)
    text = masked["request"]["messages"][0]["content"]
    assert (
        text == f"我的手机 {hash_with_salt('13812345678', PiiKind.MOBILE, salt=salt)}，邮箱 z***@example.com"
    )
    assert masked["authorization"] == "Bearer stic_0123456789abcdef_x"  # fields given: defaults replaced
    assert masked["caller_phone"] == 13812345678 and masked["latency_ms"] == 12.5

    defaults = mask_json(RECORD, policy=build_policy(MaskingPolicyIn(), salt=salt))
    assert defaults["authorization"] == "[REDACTED]" and defaults["caller_phone"] == "138****5678"


def test_bad_policies_and_records_are_422() -> None:
    with pytest.raises(Unprocessable) as caught:
        build_policy(MaskingPolicyIn(fields={"token": "mask"}), salt=derive_salt(SECRET))
    assert caught.value.detail == [
        {"field": "policy.fields.token", "problem": "must be redact, hash or keep, not mask"}
    ]
    deep: object = "x"
    for _ in range(40):
        deep = [deep]
    with pytest.raises(Unprocessable, match="max_depth"):
        mask_json(deep, policy=build_policy(MaskingPolicyIn(), salt=derive_salt(SECRET)))


async def test_mask_endpoint_uses_the_tenant_salt(safety: SafetyTenant, other: SafetyTenant) -> None:
    body = {"record": {"phone": "13812345678"}, "policy": {"kinds": {"mobile": "hash"}}}
    mine = await ok(await safety.as_("developer").post(f"{safety.base}/mask", json=body))
    theirs = await ok(await other.as_("tenant-admin").post(f"{other.base}/mask", json=body))
    assert mine["record"]["phone"].startswith("hmac-sm3:") and mine["record"] != theirs["record"]
    secret = safety.app.state.settings.secret_key
    expected = hash_with_salt("13812345678", PiiKind.MOBILE, salt=masking_salt(secret, safety.id))
    assert mine["record"]["phone"] == expected
    wrong = await safety.as_("developer").post(
        f"{safety.base}/mask", json={**body, "policy": {"kinds": {"iban": "mask"}}}
    )
    assert wrong.status_code == 422 and "policy.kinds.iban" in wrong.json()["message"]
    assert (await safety.as_("viewer").post(f"{safety.base}/mask", json=body)).status_code == 403
