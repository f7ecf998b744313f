"""Multi-level quotas through the public API."""

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for
from tests.services.builders import TenantFixture, make_tenant, ok

GPU = "accelerators/nvidia-a100"


async def _set(client: httpx.AsyncClient, path: str, limits: dict[str, int]) -> httpx.Response:
    return await client.put(path, json={"limits": limits})


def _paths(t: TenantFixture) -> dict[str, str]:
    return {
        "tenant": f"/v1/tenants/{t.id}/quota",
        "department": f"/v1/tenants/{t.id}/departments/{t.department_id}/quota",
        "project": f"/v1/tenants/{t.id}/projects/{t.project_id}/quota",
    }


async def test_child_quota_cannot_exceed_parent(admin_client: httpx.AsyncClient) -> None:
    t = await make_tenant(admin_client, roles=())
    paths = _paths(t)
    await ok(await _set(admin_client, paths["tenant"], {"cpu_millicores": 8000, GPU: 8}))
    too_big = await _set(admin_client, paths["department"], {GPU: 9})
    assert too_big.status_code == 409
    assert too_big.json()["detail"]["parent"] == {"type": "tenant", "id": t.id, "limit": 8}
    await ok(await _set(admin_client, paths["department"], {GPU: 4}))
    assert (await _set(admin_client, paths["project"], {GPU: 5})).status_code == 409
    await ok(await _set(admin_client, paths["project"], {GPU: 4, "memory_mib": 1024}))
    lowering_parent = await _set(admin_client, paths["department"], {GPU: 2})
    assert lowering_parent.status_code == 409
    assert lowering_parent.json()["detail"]["child"]["id"] == t.project_id


@pytest.mark.parametrize(
    ("level", "limits", "request_gpus", "expected_level"),
    [
        ("tenant", {GPU: 2}, 3, "tenant"),
        ("department", {GPU: 2}, 3, "department"),
        ("project", {GPU: 2}, 3, "project"),
    ],
)
async def test_reservation_exceeding_any_level_is_refused_naming_it(
    admin_client: httpx.AsyncClient,
    level: str,
    limits: dict[str, int],
    request_gpus: int,
    expected_level: str,
) -> None:
    t = await make_tenant(admin_client, roles=())
    await ok(await _set(admin_client, _paths(t)[level], limits))
    refused = await admin_client.post(
        f"/v1/tenants/{t.id}/reservations",
        json={"project_id": t.project_id, "owner": "job:big", "resources": {GPU: request_gpus}},
    )
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert (detail["level"], detail["resource"], detail["limit"]) == (expected_level, GPU, 2)


async def test_reserve_release_accounts_at_every_level(admin_client: httpx.AsyncClient) -> None:
    t = await make_tenant(admin_client, roles=())
    await ok(await _set(admin_client, _paths(t)["tenant"], {GPU: 4}))
    body = {"project_id": t.project_id, "owner": "job:a", "resources": {GPU: 3, "memory_mib": 2048}}
    first = await ok(await admin_client.post(f"/v1/tenants/{t.id}/reservations", json=body), 201)
    again = await ok(await admin_client.post(f"/v1/tenants/{t.id}/reservations", json=body), 201)
    assert again["id"] == first["id"], "an identical retry is idempotent"
    tree = await ok(await admin_client.get(f"/v1/tenants/{t.id}/quotas"))
    assert tree["tenant"]["used"] == {GPU: 3, "memory_mib": 2048}
    assert tree["departments"][0]["used"] == {GPU: 3, "memory_mib": 2048}
    assert tree["projects"][0]["used"] == {GPU: 3, "memory_mib": 2048}
    second = await admin_client.post(
        f"/v1/tenants/{t.id}/reservations",
        json={"project_id": t.project_id, "owner": "job:b", "resources": {GPU: 2}},
    )
    assert second.status_code == 409
    released = await ok(await admin_client.delete(f"/v1/tenants/{t.id}/reservations/{first['id']}"))
    assert released["status"] == "released"
    await ok(await admin_client.delete(f"/v1/tenants/{t.id}/reservations/{first['id']}"))
    tree = await ok(await admin_client.get(f"/v1/tenants/{t.id}/quotas"))
    assert tree["tenant"]["used"] == {}
    await ok(
        await admin_client.post(
            f"/v1/tenants/{t.id}/reservations",
            json={"project_id": t.project_id, "owner": "job:b", "resources": {GPU: 2}},
        ),
        201,
    )
    listed = await ok(await admin_client.get(f"/v1/tenants/{t.id}/reservations", params={"status": "active"}))
    assert [r["owner"] for r in listed["items"]] == ["job:b"]


async def test_same_owner_with_other_resources_conflicts(admin_client: httpx.AsyncClient) -> None:
    t = await make_tenant(admin_client, roles=())
    url = f"/v1/tenants/{t.id}/reservations"
    await ok(
        await admin_client.post(url, json={"project_id": t.project_id, "owner": "o", "resources": {GPU: 1}}),
        201,
    )
    clash = await admin_client.post(
        url, json={"project_id": t.project_id, "owner": "o", "resources": {GPU: 2}}
    )
    assert clash.status_code == 409


async def test_concurrent_reservations_never_overcommit(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    t = await make_tenant(admin_client, roles=("developer",))
    await ok(await _set(admin_client, _paths(t)["tenant"], {GPU: 10}))
    async with client_for(platform_app, t.tokens["developer"]) as developer:
        responses = await asyncio.gather(
            *[
                developer.post(
                    f"/v1/tenants/{t.id}/reservations",
                    json={"project_id": t.project_id, "owner": f"job:{i}", "resources": {GPU: 1}},
                )
                for i in range(16)
            ]
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 6
    tree = await ok(await admin_client.get(f"/v1/tenants/{t.id}/quotas"))
    assert tree["tenant"]["used"] == {GPU: 10}


async def test_only_platform_admins_set_tenant_quota(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    t = await make_tenant(admin_client, roles=("tenant-admin",))
    async with client_for(platform_app, t.tokens["tenant-admin"]) as tenant_admin:
        assert (await _set(tenant_admin, _paths(t)["tenant"], {GPU: 100})).status_code == 403
        await ok(await _set(tenant_admin, _paths(t)["project"], {GPU: 1}))


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"gpus": 1}, "body.limits.gpus"),
        ({GPU: -1}, f"body.limits.{GPU}"),
        ({GPU: 2**60}, f"body.limits.{GPU}"),
        ({"cpu_millicores": "lots"}, "body.limits.cpu_millicores"),
    ],
)
async def test_bad_limits_name_the_resource(
    admin_client: httpx.AsyncClient, limits: dict, field: str
) -> None:
    t = await make_tenant(admin_client, roles=())
    response = await _set(admin_client, _paths(t)["tenant"], limits)
    assert response.status_code == 422
    assert field in response.json()["message"]
