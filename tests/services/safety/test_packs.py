"""Rule-pack versions over HTTP: upload, immutability, activation and roll-back, isolation."""

from __future__ import annotations

import httpx
import yaml
from sqlalchemy import func, select

from services.safety.models import SafetyPackActivation, SafetyPackVersion, SafetyReviewItem
from tests.services.builders import ok, unique
from tests.services.safety.builders import PackDoc, SafetyTenant


async def test_upload_list_get_with_immutable_versions_and_named_errors(safety: SafetyTenant) -> None:
    doc = PackDoc()
    created = await safety.upload(doc)
    assert created["id"].startswith("spk_")
    assert created["scope"] == f"tenant:{safety.id}" and created["tenant_id"] == safety.id
    assert created["document"]["tenant"] == safety.id and created["source_format"] == "json"

    again = await safety.upload(doc, status=200)
    assert again["id"] == created["id"]

    changed = doc.category("escalate", {"action": "refuse", "keywords": ["other"]})
    conflict = await safety.as_("tenant-admin").post(
        f"{safety.base}/packs", content=changed.json(), headers={"Content-Type": "application/json"}
    )
    assert conflict.status_code == 409
    assert conflict.json()["detail"]["pack_version_id"] == created["id"]

    pack_id = unique("yml")
    for version in ("1.0.0", "1.1.0"):
        body = yaml.safe_dump(PackDoc(pack_id, version).build(), allow_unicode=True).encode()
        response = await safety.as_("tenant-admin").post(
            f"{safety.base}/packs", content=body, headers={"Content-Type": "application/yaml"}
        )
        assert (await ok(response, 201))["source_format"] == "yaml"
    await safety.upload(PackDoc())  # another pack id, filtered out below

    listed = await ok(await safety.as_("viewer").get(f"{safety.base}/packs", params={"pack_id": pack_id}))
    assert listed["total"] == 2
    assert {item["version"] for item in listed["items"]} == {"1.0.0", "1.1.0"}
    assert "document" not in listed["items"][0]
    one = await ok(await safety.as_("viewer").get(f"{safety.base}/packs/{listed['items'][0]['id']}"))
    assert one["document"]["id"] == pack_id

    bad = PackDoc().build()
    bad["categories"]["secrets"]["regexes"] = ["(open"]
    response = await safety.as_("tenant-admin").post(
        f"{safety.base}/packs", json=bad, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["detail"]] == ["categories.secrets.regexes"]
    assert "categories.secrets.regexes" in response.json()["message"]

    plain = await safety.as_("tenant-admin").post(
        f"{safety.base}/packs", content=b"id: x", headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 415


async def test_activation_rolls_forward_and_back_and_falls_back_to_the_platform_default(
    safety: SafetyTenant,
) -> None:
    platform = await ok(await safety.as_("developer").get(f"{safety.base}/active-pack"))
    assert platform["source"] == "global"

    v1 = await safety.upload(PackDoc("roll", "1.0.0"), activate=True)
    v2 = await safety.upload(PackDoc("roll", "2.0.0").category("contraband", None), activate=True)
    assert (await safety.check("buy widget-x"))["action"] == "allow"  # v2 has no contraband category

    rolled = await ok(
        await safety.as_("tenant-admin").put(f"{safety.base}/active-pack", json={"pack_version_id": v1["id"]})
    )
    assert rolled["source"] == "tenant" and rolled["pack"]["id"] == v1["id"]
    decision = await safety.check("buy widget-x")
    assert decision["action"] == "refuse" and decision["pack"]["pack_version_id"] == v1["id"]
    assert decision["message"] == "refused: contraband"

    # try a stored version without activating it
    trial = await safety.check("buy widget-x", pack_version_id=v2["id"])
    assert trial["action"] == "allow" and trial["pack"]["version"] == "2.0.0"

    cleared = await safety.as_("tenant-admin").delete(f"{safety.base}/active-pack")
    assert cleared.status_code == 204
    after = await ok(await safety.as_("developer").get(f"{safety.base}/active-pack"))
    assert after["source"] == "global" and after["pack"]["id"] == platform["pack"]["id"]
    again = await safety.as_("tenant-admin").delete(f"{safety.base}/active-pack")
    assert again.status_code == 404

    audited = await safety.as_("tenant-admin").get(
        "/v1/audit/events",
        params={"tenant_id": safety.id, "category": "content_safety", "action": "safety.pack.activate"},
    )
    activations = [e["document"]["event"]["details"] for e in (await ok(audited))["items"]]
    assert [a["pack"]["version"] for a in activations] == ["1.0.0", "2.0.0", "1.0.0"]
    assert activations[-1]["previous_pack_version_id"] == v2["id"]

    # a tenant may also pin a platform version (e.g. keep the current default when it moves on)
    pinned = await ok(
        await safety.as_("tenant-admin").put(
            f"{safety.base}/active-pack", json={"pack_version_id": platform["pack"]["id"]}
        )
    )
    assert pinned["source"] == "tenant" and pinned["pack"]["scope"] == "global"
    seen = await ok(await safety.as_("viewer").get(f"{safety.base}/packs/{platform['pack']['id']}"))
    assert seen["pack_id"] == "demo"


async def test_packs_are_isolated_between_tenants_and_managed_by_admins_only(
    safety: SafetyTenant, other: SafetyTenant
) -> None:
    mine = await safety.upload(PackDoc(), activate=True)
    outsider = other.as_("tenant-admin")
    base = safety.base
    assert (await outsider.get(f"{base}/packs/{mine['id']}")).status_code == 404
    assert (await outsider.get(f"{other.base}/packs/{mine['id']}")).status_code == 404
    put = await outsider.put(f"{other.base}/active-pack", json={"pack_version_id": mine["id"]})
    assert put.status_code == 404
    check = await outsider.post(f"{other.base}/check", json={"text": "x", "pack_version_id": mine["id"]})
    assert check.status_code == 404
    evaluate = await outsider.post(
        f"{other.base}/packs/{mine['id']}/evaluate", content=b'{"text":"x","labels":[]}'
    )
    assert evaluate.status_code == 404
    # the other tenant still runs the platform default
    assert (await other.check("buy widget-x", role="tenant-admin"))["action"] == "allow"

    for role in ("viewer", "developer", "auditor"):
        response = await safety.as_(role).post(
            f"{safety.base}/packs", content=PackDoc().json(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 403, role
    platform = await safety.as_("tenant-admin").post(
        "/v1/safety/packs", content=PackDoc().json(), headers={"Content-Type": "application/json"}
    )
    assert platform.status_code == 403


async def test_platform_packs_are_managed_by_the_platform_admin(
    safety: SafetyTenant, admin_client: httpx.AsyncClient
) -> None:
    before = await ok(await admin_client.get("/v1/safety/active-pack"))
    uploaded = await admin_client.post(
        "/v1/safety/packs", content=PackDoc().json(), headers={"Content-Type": "application/json"}
    )
    pack = await ok(uploaded, 201)
    assert pack["scope"] == "global" and pack["tenant_id"] is None
    try:
        active = await ok(
            await admin_client.put("/v1/safety/active-pack", json={"pack_version_id": pack["id"]})
        )
        assert active["source"] == "global" and active["pack"]["id"] == pack["id"]
        assert (await safety.check("buy widget-x"))["action"] == "refuse"
        listed = await ok(
            await safety.as_("viewer").get("/v1/safety/packs", params={"pack_id": pack["pack_id"]})
        )
        assert [item["id"] for item in listed["items"]] == [pack["id"]]
    finally:
        await ok(
            await admin_client.put("/v1/safety/active-pack", json={"pack_version_id": before["pack"]["id"]})
        )
    assert (await safety.check("buy widget-x"))["action"] == "allow"


async def test_deleting_a_tenant_removes_its_packs_activation_and_reviews(
    safety: SafetyTenant, admin_client: httpx.AsyncClient
) -> None:
    await safety.upload(PackDoc(), activate=True)
    assert (await safety.check("please escalate-me"))["action"] == "review"
    await ok(await admin_client.delete(f"/v1/tenants/{safety.id}"), 204)
    async with safety.app.state.database.sessionmaker() as session:
        for model in (SafetyPackVersion, SafetyPackActivation, SafetyReviewItem):
            count = select(func.count()).select_from(model).where(model.tenant_id == safety.id)
            assert (await session.execute(count)).scalar_one() == 0, model.__tablename__
