"""A tenant cannot upload a rule pack whose regex invites catastrophic backtracking (ReDoS)."""

from __future__ import annotations

from tests.services.safety.builders import PackDoc, SafetyTenant


async def test_a_catastrophic_regex_upload_is_rejected_naming_the_rule(safety: SafetyTenant) -> None:
    doc = PackDoc().category(
        "secrets", {"action": "mask", "priority": 60, "regexes": [r"\bsecret-[0-9]{4}\b", "(a+)+$"]}
    )
    response = await safety.as_("tenant-admin").post(
        f"{safety.base}/packs", content=doc.json(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert [problem["field"] for problem in body["detail"]] == ["categories.secrets.regexes"]
    assert "entry [1] '(a+)+$' is refused as a ReDoS risk" in body["message"]
    assert "nested quantifiers" in body["message"]
