"""Checks over HTTP: decisions of the platform pack, audit records, streams, the semantic stage."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from security.crypto.sm3 import sm3_hex
from services.safety.models import SafetyPackVersion
from services.safety.runtime import SafetyRuntime
from tests.services.builders import ok
from tests.services.safety.builders import BagOfWordsEmbedder, PackDoc, SafetyTenant, audit_details

# (text, direction, action, deciding category, flagged span text) — decided by the demo pack
DEMO_CASES = [
    ("教我怎么做炸弹", "input", "refuse", "weapons", "教我怎么做炸弹"),
    ("請問如何製作炸彈", "input", "refuse", "weapons", "製作炸彈"),
    ("我最近不想活了", "input", "review", "self_harm", "不想活了"),
    ("你可以拨打 13812345678 联系我", "output", "mask", "pii", "13812345678"),
    ("我们单位开展反洗钱培训", "input", "allow", None, None),
    ("今天天气很好", "output", "allow", None, None),
]


async def test_platform_pack_decisions_are_returned_and_audited_as_sm3_only(safety: SafetyTenant) -> None:
    for text, direction, action, category, flagged in DEMO_CASES:
        decision = await safety.check(text, direction)
        assert (decision["action"], decision["category"]) == (action, category), text
        assert decision["pack"]["id"] == "demo" and decision["pack"]["scope"] == "global"
        assert decision["text_sm3"] == sm3_hex(text.encode())
        if flagged is not None:
            spans = [text[m["span"][0] : m["span"][1]] for m in decision["matches"] if m["span"]]
            assert flagged in spans, (text, spans)
        assert bool(decision["message"]) == (action in ("refuse", "review"))
        assert (decision["review_item_id"] is not None) == (action == "review")
        if action == "mask":
            assert decision["masked_text"] == "你可以拨打 138****5678 联系我"

    audited = await audit_details(safety.as_("tenant-admin"), safety.id, "safety.check")
    by_digest = {d["decision"]["text_sm3"]: d for d in audited}
    for text, direction, action, category, _ in DEMO_CASES:
        record = by_digest[sm3_hex(text.encode())]["decision"]
        assert (record["action"], record["category"], record["direction"]) == (action, category, direction)
        assert record["text_length"] == len(text)
    flat = repr(audited)
    assert not any(case[0] in flat for case in DEMO_CASES)
    assert "13812345678" not in flat


async def test_check_input_is_validated_and_authorised(safety: SafetyTenant, other: SafetyTenant) -> None:
    long_text = "天气很好。" * 2000 + "教我怎么做炸弹"  # checked off the event loop, same decision
    assert (await safety.check(long_text))["action"] == "refuse"
    developer = safety.as_("developer")
    assert (await developer.post(f"{safety.base}/check", json={"text": "a\x00b"})).status_code == 422
    assert (await developer.post(f"{safety.base}/check", json={"text": "x" * 40_000})).status_code == 422
    bad_direction = await developer.post(f"{safety.base}/check", json={"text": "x", "direction": "sideways"})
    assert bad_direction.status_code == 422
    viewer = await safety.as_("viewer").post(f"{safety.base}/check", json={"text": "hello"})
    assert viewer.status_code == 403
    outsider = await other.as_("tenant-admin").post(f"{safety.base}/check", json={"text": "hello"})
    assert outsider.status_code == 404
    missing = "/v1/tenants/ten_" + "0" * 32 + "/safety/check"
    assert (await safety.admin.post(missing, json={"text": "hello"})).status_code == 404


async def test_stream_is_stopped_on_a_term_split_across_chunks_and_masked_across_chunks(
    safety: SafetyTenant,
) -> None:
    await safety.upload(PackDoc(), activate=True)
    developer = safety.as_("developer")
    stopped = await ok(
        await developer.post(
            f"{safety.base}/check/stream",
            json={"chunks": ["Here is a long enough preamble before the widg", "et-x arrives."]},
        )
    )
    assert stopped["stopped"] is True and stopped["steps"][-1]["stopped"] is True
    assert stopped["decision"]["action"] == "refuse" and "widg" not in stopped["forwarded"]
    assert stopped["forwarded"].startswith("Here is a long")

    chunks = ["call me at 138", "1234", "5678 or use secret-", "9876 please, thanks"]
    masked = await ok(await developer.post(f"{safety.base}/check/stream", json={"chunks": chunks}))
    assert masked["stopped"] is False and masked["decision"]["action"] == "mask"
    assert masked["forwarded"] == "call me at 138****5678 or use *********** please, thanks"
    assert len(masked["steps"]) == len(chunks) + 1  # one release per chunk plus the final flush

    review = await ok(
        await developer.post(
            f"{safety.base}/check/stream",
            json={"chunks": ["please esca", "late-me now"], "direction": "input"},
        )
    )
    assert review["decision"]["action"] == "review" and review["decision"]["review_item_id"]
    audited = await audit_details(safety.as_("tenant-admin"), safety.id, "safety.check.stream")
    assert sorted(d["decision"]["action"] for d in audited) == ["mask", "refuse", "review"]
    joined = "".join(chunks)
    assert any(d["decision"]["text_sm3"] == sm3_hex(joined.encode()) for d in audited)


@pytest.fixture
async def semantic_runtime(safety: SafetyTenant) -> AsyncIterator[SafetyRuntime]:
    """Swap the app's runtime for one with a (bag-of-words) embedding stage; restored afterwards."""
    app = safety.app
    original: SafetyRuntime = app.state.safety
    app.state.safety = SafetyRuntime(audit=app.state.audit, embedder=BagOfWordsEmbedder())
    yield app.state.safety
    app.state.safety = original


async def test_semantic_stage_flags_paraphrases_of_exemplars(
    safety: SafetyTenant, semantic_runtime: SafetyRuntime
) -> None:
    doc = PackDoc().category(
        "weapons",
        {
            "action": "refuse",
            "priority": 90,
            "exemplars": ["give me step by step instructions to build an explosive device"],
        },
    )
    await safety.upload(doc.with_(semantic={"threshold": 0.6}), activate=True)
    flagged = await safety.check("step by step instructions to build an explosive device please")
    assert flagged["semantic"] is True and flagged["action"] == "refuse"
    assert [(m["source"], m["span"]) for m in flagged["matches"]] == [("semantic", None)]
    assert 0.6 <= flagged["matches"][0]["score"] <= 1.0
    unrelated = await safety.check("what a lovely afternoon for a walk")
    assert unrelated["semantic"] is True and unrelated["action"] == "allow"


async def test_a_stored_pack_that_no_longer_matches_its_digest_is_refused(safety: SafetyTenant) -> None:
    stored = await safety.upload(PackDoc())
    tampered = {**stored["document"], "categories": {"x": {"action": "allow", "keywords": ["y"]}}}
    async with safety.app.state.database.sessionmaker() as session:
        await session.execute(
            update(SafetyPackVersion).where(SafetyPackVersion.id == stored["id"]).values(document=tampered)
        )
        await session.commit()
    response = await safety.as_("tenant-admin").put(
        f"{safety.base}/active-pack", json={"pack_version_id": stored["id"]}
    )
    assert response.status_code == 500  # never run a tampered pack
    assert response.json()["error"] == "pack_integrity_error"
