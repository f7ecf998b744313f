"""The typed client drives the whole service (one workflow, on SQLite: the client is HTTP-only)."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from services.safety.client import SafetyClient
from services.safety.schemas import MaskingPolicyIn
from tests.conftest import client_for
from tests.services.safety.builders import PackDoc, SafetyTenant


@pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)
async def test_client_workflow(safety: SafetyTenant) -> None:
    async with client_for(safety.app, safety.tenant.tokens["tenant-admin"]) as http:
        client = SafetyClient(http, safety.id)
        v1 = await client.upload_pack(PackDoc("flow").build(), activate=True)
        v2 = await client.upload_pack_yaml(yaml.safe_dump(PackDoc("flow", "2.0.0").build()))
        assert {p.version for p in await client.list_packs(pack_id="flow")} == {"1.0.0", "2.0.0"}
        assert (await client.get_pack(v2.id)).document["version"] == "2.0.0"
        assert (await client.active_pack()).pack.id == v1.id
        assert (await client.activate(v2.id)).pack.id == v2.id

        refused = await client.check("buy widget-x")
        assert refused.action == "refuse" and refused.pack.version == "2.0.0"
        streamed = await client.check_stream(["a fairly long opening line, then widg", "et-x"])
        assert streamed.stopped and streamed.decision.action == "refuse"
        masked = await client.mask({"phone": "13812345678"}, MaskingPolicyIn())
        assert masked == {"phone": "138****5678"}

        queued = await client.check("escalate-me please")
        assert queued.review_item_id is not None
        assert [item.id for item in await client.reviews(state="pending")] == [queued.review_item_id]
        claimed = await client.claim_next()
        assert claimed is not None and claimed.id == queued.review_item_id
        assert (await client.release(claimed.id)).state == "pending"
        await client.claim(claimed.id)
        assert (await client.reject(claimed.id, "not acceptable")).state == "rejected"
        assert await client.claim_next() is None

        labelled = "\n".join(json.dumps(r) for r in ({"text": "widget-x", "labels": ["contraband"]},))
        report = await client.evaluate(v1.id, labelled.encode())
        assert report.per_category["contraband"].recall == 1.0

        await client.use_platform_default()
        assert (await client.active_pack()).source == "global"
        with pytest.raises(httpx.HTTPStatusError) as caught:
            await client.use_platform_default()
        assert caught.value.response.status_code == 404
