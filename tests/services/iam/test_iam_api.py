"""IAM through the public API: lifecycle of tenants, principals, keys and bindings."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from services.kernel.identity import ApiKey
from tests.conftest import client_for
from tests.services.builders import make_tenant, ok, unique


async def test_tenant_hierarchy_round_trip(admin_client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(admin_client, roles=())
    listed = await ok(await admin_client.get(f"/v1/tenants/{tenant.id}/projects"))
    assert [p["id"] for p in listed["items"]] == [tenant.project_id]
    by_department = await ok(
        await admin_client.get(
            f"/v1/tenants/{tenant.id}/projects", params={"department_id": tenant.department_id}
        )
    )
    assert by_department["total"] == 1
    renamed = await ok(
        await admin_client.patch(
            f"/v1/tenants/{tenant.id}/projects/{tenant.project_id}", json={"display_name": "视觉"}
        )
    )
    assert renamed["display_name"] == "视觉"
    blocked = await admin_client.delete(f"/v1/tenants/{tenant.id}/departments/{tenant.department_id}")
    assert blocked.status_code == 409 and "still has projects" in blocked.json()["message"]
    await ok(await admin_client.delete(f"/v1/tenants/{tenant.id}/projects/{tenant.project_id}"), 204)
    await ok(await admin_client.delete(f"/v1/tenants/{tenant.id}/departments/{tenant.department_id}"), 204)
    await ok(await admin_client.delete(f"/v1/tenants/{tenant.id}"), 204)
    assert (await admin_client.get(f"/v1/tenants/{tenant.id}")).status_code == 404


async def test_duplicate_names_conflict(admin_client: httpx.AsyncClient) -> None:
    name = unique("dup")
    await ok(await admin_client.post("/v1/tenants", json={"name": name}), 201)
    second = await admin_client.post("/v1/tenants", json={"name": name})
    assert second.status_code == 409
    assert name in second.json()["message"]


async def test_api_key_is_shown_once_and_only_an_hmac_is_stored(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    tenant = await make_tenant(admin_client, roles=("developer",))
    created = await ok(
        await admin_client.post(
            f"/v1/tenants/{tenant.id}/api-keys",
            json={"principal_id": tenant.users["developer"], "name": "ci"},
        ),
        201,
    )
    token = created["token"]
    listed = await ok(await admin_client.get(f"/v1/tenants/{tenant.id}/api-keys"))
    assert all("token" not in item for item in listed["items"])
    async with platform_app.state.database.sessionmaker() as session:
        row = (await session.execute(select(ApiKey).where(ApiKey.id == created["id"]))).scalar_one()
    assert token not in row.key_hash and token.split("_")[2] not in row.key_hash
    async with client_for(platform_app, token) as developer:
        me = await ok(await developer.get("/v1/me"))
    assert me["id"] == tenant.users["developer"]
    assert me["roles"] == ["developer"]


async def test_revoked_expired_and_disabled_keys_stop_working(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    tenant = await make_tenant(admin_client, roles=("developer", "viewer"))
    async with client_for(platform_app, tenant.tokens["developer"]) as developer:
        own = await ok(await developer.post(f"/v1/tenants/{tenant.id}/api-keys", json={"name": "mine"}), 201)
        await ok(await developer.delete(f"/v1/tenants/{tenant.id}/api-keys/{own['id']}"))
    async with client_for(platform_app, own["token"]) as revoked:
        response = await revoked.get("/v1/me")
    assert response.status_code == 401 and response.json()["message"] == "API key revoked"

    await ok(
        await admin_client.patch(
            f"/v1/tenants/{tenant.id}/users/{tenant.users['viewer']}", json={"status": "disabled"}
        )
    )
    async with client_for(platform_app, tenant.tokens["viewer"]) as disabled:
        response = await disabled.get("/v1/me")
    assert response.status_code == 401 and "disabled" in response.json()["message"]


async def test_expired_key_is_refused(admin_client: httpx.AsyncClient, platform_app: FastAPI) -> None:
    from datetime import timedelta

    from services.kernel.db import utcnow

    tenant = await make_tenant(admin_client, roles=("developer",))
    created = await ok(
        await admin_client.post(
            f"/v1/tenants/{tenant.id}/api-keys",
            json={"principal_id": tenant.users["developer"], "expires_in_days": 1},
        ),
        201,
    )
    async with platform_app.state.database.sessionmaker() as session:
        row = await session.get(ApiKey, created["id"])
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    async with client_for(platform_app, created["token"]) as expired:
        response = await expired.get("/v1/me")
    assert response.status_code == 401 and response.json()["message"] == "API key expired"


async def test_platform_admin_role_cannot_be_granted_inside_a_tenant(admin_client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(admin_client, roles=("developer",))
    response = await admin_client.post(
        f"/v1/tenants/{tenant.id}/role-bindings",
        json={"principal_id": tenant.users["developer"], "role": "platform-admin"},
    )
    assert response.status_code == 403


async def test_tenant_scoped_roles_cannot_be_bound_to_a_project(admin_client: httpx.AsyncClient) -> None:
    tenant = await make_tenant(admin_client, roles=("developer",))
    response = await admin_client.post(
        f"/v1/tenants/{tenant.id}/role-bindings",
        json={
            "principal_id": tenant.users["developer"],
            "role": "tenant-admin",
            "project_id": tenant.project_id,
        },
    )
    assert response.status_code == 400 and "tenant-wide" in response.json()["message"]


async def test_project_scoped_developer_sees_only_its_project(
    admin_client: httpx.AsyncClient, platform_app: FastAPI
) -> None:
    tenant = await make_tenant(admin_client, roles=())
    other = await ok(
        await admin_client.post(
            f"/v1/tenants/{tenant.id}/projects", json={"name": "other", "department_id": tenant.department_id}
        ),
        201,
    )
    user = await ok(await admin_client.post(f"/v1/tenants/{tenant.id}/users", json={"name": "scoped"}), 201)
    await ok(
        await admin_client.post(
            f"/v1/tenants/{tenant.id}/role-bindings",
            json={"principal_id": user["id"], "role": "developer", "project_id": tenant.project_id},
        ),
        201,
    )
    key = await ok(
        await admin_client.post(f"/v1/tenants/{tenant.id}/api-keys", json={"principal_id": user["id"]}), 201
    )
    async with client_for(platform_app, key["token"]) as scoped:
        listed = await ok(await scoped.get(f"/v1/tenants/{tenant.id}/projects"))
        assert [p["id"] for p in listed["items"]] == [tenant.project_id]
        assert (await scoped.get(f"/v1/tenants/{tenant.id}/projects/{tenant.project_id}")).status_code == 200
        assert (await scoped.get(f"/v1/tenants/{tenant.id}/projects/{other['id']}")).status_code == 403


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/tenants", {"name": "x" * 64}, "body.name"),
        ("/v1/tenants", {"name": "bad_name"}, "body.name"),
        ("/v1/tenants", {"name": "ok", "display_name": "nul\u0000byte"}, "body.display_name"),
        ("/v1/tenants", {}, "body.name"),
        ("/v1/tenants", [], "body"),
    ],
)
async def test_bad_tenant_bodies_name_the_problem(
    admin_client: httpx.AsyncClient, path: str, body: object, field: str
) -> None:
    response = await admin_client.post(path, json=body)
    assert response.status_code == 422
    assert field in response.json()["message"]
