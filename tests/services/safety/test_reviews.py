"""The human-review queue over HTTP: claim, approve, reject, release, races and isolation."""

from __future__ import annotations

import asyncio

from tests.services.builders import ok
from tests.services.safety.builders import SafetyTenant, audit_details

REVIEW_TEXT = "我最近不想活了，电话 13812345678"  # the demo pack's self_harm category, plus PII


async def _queued(safety: SafetyTenant, text: str = REVIEW_TEXT) -> str:
    decision = await safety.check(text)
    assert decision["action"] == "review"
    return str(decision["review_item_id"])


async def test_claim_approve_reject_release_with_who_when_and_audit(safety: SafetyTenant) -> None:
    reviewer = safety.as_("tenant-admin")
    first, second, third = [await _queued(safety) for _ in range(3)]
    me = (await ok(await reviewer.get("/v1/me")))["id"]

    pending = await ok(await reviewer.get(f"{safety.base}/reviews", params={"state": "pending"}))
    assert [item["id"] for item in pending["items"]] == [first, second, third] and pending["total"] == 3
    item = pending["items"][0]
    assert item["excerpt"] == "我最近不想活了，电话 138****5678" and item["categories"] == [
        "pii",
        "self_harm",
    ]
    assert item["pack_id"] == "demo" and item["direction"] == "input" and len(item["text_sm3"]) == 64

    claimed = await ok(await reviewer.post(f"{safety.base}/reviews/{first}/claim"))
    assert claimed["state"] == "claimed" and claimed["claimed_by"] == me and claimed["claimed_at"]
    approved = await ok(
        await reviewer.post(f"{safety.base}/reviews/{first}/approve", json={"note": "a quote"})
    )
    assert approved["state"] == "approved" and approved["decided_by"] == me and approved["note"] == "a quote"
    assert [(e["action"], e["from_state"], e["to_state"]) for e in approved["history"]] == [
        ("submit", None, "pending"),
        ("claim", "pending", "claimed"),
        ("approve", "claimed", "approved"),
    ]

    await ok(await reviewer.post(f"{safety.base}/reviews/{second}/claim"))
    no_note = await reviewer.post(f"{safety.base}/reviews/{second}/reject", json={"note": "   "})
    assert no_note.status_code == 422
    assert (await reviewer.post(f"{safety.base}/reviews/{second}/reject", json={})).status_code == 422
    rejected = await ok(
        await reviewer.post(f"{safety.base}/reviews/{second}/reject", json={"note": "harmful"})
    )
    assert rejected["state"] == "rejected" and rejected["note"] == "harmful"
    twice = await reviewer.post(f"{safety.base}/reviews/{second}/approve")
    assert twice.status_code == 409

    next_item = await ok(await reviewer.post(f"{safety.base}/reviews/claim-next"))
    assert next_item["id"] == third
    released = await ok(await reviewer.post(f"{safety.base}/reviews/{third}/release"))
    assert released["state"] == "pending" and released["claimed_by"] is None
    assert (await ok(await reviewer.post(f"{safety.base}/reviews/claim-next")))["id"] == third
    empty = await reviewer.post(f"{safety.base}/reviews/claim-next")
    assert empty.status_code == 204

    decided = await ok(await reviewer.get(f"{safety.base}/reviews", params={"state": "approved"}))
    assert [i["id"] for i in decided["items"]] == [first]

    events = {
        (d["review"]["item_id"], d["review"]["to"])
        for action in ("safety.review.submit", "safety.review.approve", "safety.review.reject")
        for d in await audit_details(reviewer, safety.id, action)
    }
    assert {(first, "pending"), (first, "approved"), (second, "rejected")} <= events
    rejection = await audit_details(reviewer, safety.id, "safety.review.reject")
    assert rejection[0]["review"]["note"] == "harmful" and rejection[0]["review"]["actor"] == me


async def test_only_the_claim_holder_decides_and_concurrent_claims_have_one_winner(
    safety: SafetyTenant,
) -> None:
    admin, platform = safety.as_("tenant-admin"), safety.as_("platform-admin")
    item = await _queued(safety)
    results = await asyncio.gather(
        admin.post(f"{safety.base}/reviews/{item}/claim"),
        platform.post(f"{safety.base}/reviews/{item}/claim"),
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    winner, loser = (admin, platform) if results[0].status_code == 200 else (platform, admin)
    for action in ("approve", "release"):
        refused = await loser.post(f"{safety.base}/reviews/{item}/{action}")
        assert refused.status_code == 409 and "claimed by" in refused.json()["message"]
    assert (await ok(await winner.post(f"{safety.base}/reviews/{item}/approve")))["version"] == 3


async def test_reviews_need_the_review_permission_and_stay_in_their_tenant(
    safety: SafetyTenant, other: SafetyTenant
) -> None:
    item = await _queued(safety)
    for role in ("developer", "viewer", "auditor"):
        assert (await safety.as_(role).get(f"{safety.base}/reviews")).status_code == 403, role
        assert (await safety.as_(role).post(f"{safety.base}/reviews/{item}/claim")).status_code == 403, role
    outsider = other.as_("tenant-admin")
    assert (await outsider.get(f"{safety.base}/reviews/{item}")).status_code == 404
    assert (await outsider.post(f"{other.base}/reviews/{item}/claim")).status_code == 404
    assert (await outsider.get(f"{other.base}/reviews/{item}")).status_code == 404
    mine = await ok(await outsider.get(f"{other.base}/reviews"))
    assert mine["total"] == 0
    # even the platform admin finds the item only under its own tenant
    assert (await safety.admin.get(f"{other.base}/reviews/{item}")).status_code == 404
    assert (await ok(await safety.admin.get(f"{safety.base}/reviews/{item}")))["id"] == item
