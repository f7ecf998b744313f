"""Builders that set up tenants, projects and principals through the public API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import httpx

ROLES = ("tenant-admin", "developer", "viewer", "auditor")


def unique(prefix: str) -> str:
    """A DNS-label name unique to this test run."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def ok(response: httpx.Response, status: int = 200) -> dict:
    """The JSON body of ``response`` after asserting its status (shows the body on failure)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    return response.json() if response.content else {}


@dataclass
class TenantFixture:
    """A tenant with one department, one project and a user + key per role."""

    id: str
    name: str
    department_id: str
    project_id: str
    users: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


async def make_tenant(admin: httpx.AsyncClient, *, roles: tuple[str, ...] = ROLES) -> TenantFixture:
    """Create a tenant through the API, with a user and an API key for each of ``roles``."""
    name = unique("t")
    tenant = await ok(await admin.post("/v1/tenants", json={"name": name}), 201)
    tid = tenant["id"]
    dep = await ok(await admin.post(f"/v1/tenants/{tid}/departments", json={"name": "research"}), 201)
    prj = await ok(
        await admin.post(f"/v1/tenants/{tid}/projects", json={"name": "vision", "department_id": dep["id"]}),
        201,
    )
    fixture = TenantFixture(id=tid, name=name, department_id=dep["id"], project_id=prj["id"])
    for role in roles:
        user = await ok(await admin.post(f"/v1/tenants/{tid}/users", json={"name": role}), 201)
        await ok(
            await admin.post(
                f"/v1/tenants/{tid}/role-bindings", json={"principal_id": user["id"], "role": role}
            ),
            201,
        )
        key = await ok(
            await admin.post(f"/v1/tenants/{tid}/api-keys", json={"principal_id": user["id"]}), 201
        )
        fixture.users[role] = user["id"]
        fixture.tokens[role] = key["token"]
    return fixture
