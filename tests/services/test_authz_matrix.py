"""Authorisation matrix: every endpoint, as every role and as a member of another tenant.

Each row names what an endpoint needs (``POLICY``); the expected status per role follows
from it. Another tenant's principal must always get 404, never 403, so that existence of a
resource does not leak. A completeness check fails when an API route has no row here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.conftest import client_for
from tests.services.builders import TenantFixture, make_tenant, ok, unique

ROLES = ("other-tenant", "auditor", "viewer", "developer", "tenant-admin", "platform-admin")

# what an endpoint needs → roles allowed (the rest of the tenant's roles get 403, others 404)
POLICY: dict[str, set[str]] = {
    "anyone": set(ROLES),
    "member": {"auditor", "viewer", "developer", "tenant-admin", "platform-admin"},
    "write": {"tenant-admin", "platform-admin"},
    "platform": {"platform-admin"},
    "reserve": {"developer", "tenant-admin", "platform-admin"},
}
GPU = "accelerators/nvidia-a100"

Prepare = Callable[[httpx.AsyncClient, TenantFixture], Awaitable[tuple[dict[str, str], Any]]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    needs: str
    prepare: Prepare | None = None
    outsider_status: int = 404
    overrides: tuple[tuple[str, int], ...] = ()


async def _nothing(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    return {}, None


def _body(body_fn: Callable[[TenantFixture], Any]) -> Prepare:
    async def prepare(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
        return {}, body_fn(t)

    return prepare


async def _new_department(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    dep = await ok(await admin.post(f"/v1/tenants/{t.id}/departments", json={"name": unique("d")}), 201)
    return {"department_id": dep["id"]}, {"display_name": "x"}


async def _new_project(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    prj = await ok(
        await admin.post(
            f"/v1/tenants/{t.id}/projects", json={"name": unique("p"), "department_id": t.department_id}
        ),
        201,
    )
    return {"project_id": prj["id"]}, {"display_name": "x"}


async def _new_user(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    user = await ok(await admin.post(f"/v1/tenants/{t.id}/users", json={"name": unique("u")}), 201)
    return {"user_id": user["id"]}, {"email": "someone@example.com"}


async def _new_account(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    sa = await ok(await admin.post(f"/v1/tenants/{t.id}/service-accounts", json={"name": unique("sa")}), 201)
    return {"account_id": sa["id"]}, None


async def _new_key_of_someone_else(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, _ = await _new_user(admin, t)
    key = await ok(
        await admin.post(f"/v1/tenants/{t.id}/api-keys", json={"principal_id": params["user_id"]}), 201
    )
    return {"key_id": key["id"]}, None


async def _new_binding(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, _ = await _new_user(admin, t)
    rb = await ok(
        await admin.post(
            f"/v1/tenants/{t.id}/role-bindings", json={"principal_id": params["user_id"], "role": "viewer"}
        ),
        201,
    )
    return {"binding_id": rb["id"]}, None


async def _binding_body(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, _ = await _new_user(admin, t)
    return {}, {"principal_id": params["user_id"], "role": "viewer"}


async def _new_reservation(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    rsv = await ok(
        await admin.post(
            f"/v1/tenants/{t.id}/reservations",
            json={"project_id": t.project_id, "owner": unique("job"), "resources": {GPU: 1}},
        ),
        201,
    )
    return {"reservation_id": rsv["id"]}, None


def _department_quota(prepare_scope: Prepare, with_body: bool) -> Prepare:
    async def prepare(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
        params, _ = await prepare_scope(admin, t)
        scope_id = params.get("department_id") or params["project_id"]
        return {"scope_id": scope_id}, ({"limits": {GPU: 1}} if with_body else None)

    return prepare


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/v1/me", "anyone", outsider_status=200),
    Endpoint("POST", "/v1/tenants", "platform", _body(lambda t: {"name": unique("t")}), outsider_status=403),
    Endpoint("GET", "/v1/tenants", "anyone", outsider_status=200),
    Endpoint("GET", "/v1/tenants/{tenant_id}", "member"),
    Endpoint("PATCH", "/v1/tenants/{tenant_id}", "platform", _body(lambda t: {"display_name": "renamed"})),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}", "platform"),
    Endpoint("POST", "/v1/tenants/{tenant_id}/departments", "write", _body(lambda t: {"name": unique("d")})),
    Endpoint("GET", "/v1/tenants/{tenant_id}/departments", "member"),
    Endpoint("GET", "/v1/tenants/{tenant_id}/departments/{department_id}", "member", _new_department),
    Endpoint("PATCH", "/v1/tenants/{tenant_id}/departments/{department_id}", "write", _new_department),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}/departments/{department_id}", "write", _new_department),
    Endpoint(
        "POST",
        "/v1/tenants/{tenant_id}/projects",
        "write",
        _body(lambda t: {"name": unique("p"), "department_id": t.department_id}),
    ),
    Endpoint("GET", "/v1/tenants/{tenant_id}/projects", "member"),
    Endpoint("GET", "/v1/tenants/{tenant_id}/projects/{project_id}", "member", _new_project),
    Endpoint("PATCH", "/v1/tenants/{tenant_id}/projects/{project_id}", "write", _new_project),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}/projects/{project_id}", "write", _new_project),
    Endpoint("POST", "/v1/tenants/{tenant_id}/users", "write", _body(lambda t: {"name": unique("u")})),
    Endpoint("GET", "/v1/tenants/{tenant_id}/users", "member"),
    Endpoint("GET", "/v1/tenants/{tenant_id}/users/{user_id}", "member", _new_user),
    Endpoint("PATCH", "/v1/tenants/{tenant_id}/users/{user_id}", "write", _new_user),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}/users/{user_id}", "write", _new_user),
    Endpoint(
        "POST", "/v1/tenants/{tenant_id}/service-accounts", "write", _body(lambda t: {"name": unique("sa")})
    ),
    Endpoint("GET", "/v1/tenants/{tenant_id}/service-accounts", "member"),
    Endpoint("GET", "/v1/tenants/{tenant_id}/service-accounts/{account_id}", "member", _new_account),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}/service-accounts/{account_id}", "write", _new_account),
    # a key "for yourself" in a tenant that is not yours needs an explicit principal_id
    Endpoint(
        "POST",
        "/v1/tenants/{tenant_id}/api-keys",
        "member",
        _body(lambda t: {"name": "self-service"}),
        overrides=(("platform-admin", 400),),
    ),
    Endpoint("GET", "/v1/tenants/{tenant_id}/api-keys", "member"),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}/api-keys/{key_id}", "write", _new_key_of_someone_else),
    Endpoint("POST", "/v1/tenants/{tenant_id}/role-bindings", "write", _binding_body),
    Endpoint("GET", "/v1/tenants/{tenant_id}/role-bindings", "member"),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}/role-bindings/{binding_id}", "write", _new_binding),
    Endpoint("GET", "/v1/tenants/{tenant_id}/quotas", "member"),
    Endpoint("GET", "/v1/tenants/{tenant_id}/quota", "member"),
    Endpoint("PUT", "/v1/tenants/{tenant_id}/quota", "platform", _body(lambda t: {"limits": {GPU: 64}})),
    Endpoint(
        "GET",
        "/v1/tenants/{tenant_id}/departments/{scope_id}/quota",
        "member",
        _department_quota(_new_department, False),
    ),
    Endpoint(
        "PUT",
        "/v1/tenants/{tenant_id}/departments/{scope_id}/quota",
        "write",
        _department_quota(_new_department, True),
    ),
    Endpoint(
        "GET",
        "/v1/tenants/{tenant_id}/projects/{scope_id}/quota",
        "member",
        _department_quota(_new_project, False),
    ),
    Endpoint(
        "PUT",
        "/v1/tenants/{tenant_id}/projects/{scope_id}/quota",
        "write",
        _department_quota(_new_project, True),
    ),
    Endpoint(
        "POST",
        "/v1/tenants/{tenant_id}/reservations",
        "reserve",
        _body(lambda t: {"project_id": t.project_id, "owner": unique("job"), "resources": {GPU: 1}}),
    ),
    Endpoint("GET", "/v1/tenants/{tenant_id}/reservations", "member"),
    Endpoint("GET", "/v1/tenants/{tenant_id}/reservations/{reservation_id}", "member", _new_reservation),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}/reservations/{reservation_id}", "reserve", _new_reservation),
]

# Route templates that differ from the matrix's concrete paths (scope_type is a path parameter).
ROUTE_ALIASES = {
    "/v1/tenants/{tenant_id}/{scope_type}/{scope_id}/quota": {
        "/v1/tenants/{tenant_id}/departments/{scope_id}/quota",
        "/v1/tenants/{tenant_id}/projects/{scope_id}/quota",
    }
}


def expected_status(endpoint: Endpoint, role: str, success: int) -> int:
    if role in dict(endpoint.overrides):
        return dict(endpoint.overrides)[role]
    if role in POLICY[endpoint.needs]:
        return success
    if role == "other-tenant":
        return endpoint.outsider_status
    return 403


def _success_status(method: str, path: str) -> int:
    if method == "POST":
        return 201
    if method == "DELETE" and not path.endswith(("api-keys/{key_id}", "reservations/{reservation_id}")):
        return 204
    return 200


def test_matrix_covers_every_api_route(platform_app_routes: set[tuple[str, str]]) -> None:
    covered = {(e.method, e.path) for e in ENDPOINTS}
    missing = set()
    for method, path in platform_app_routes:
        aliases = ROUTE_ALIASES.get(path, {path})
        if not any((method, alias) in covered for alias in aliases):
            missing.add((method, path))
    assert not missing, f"endpoints without an authorisation-matrix row: {sorted(missing)}"


@pytest.fixture(scope="module")
def platform_app_routes() -> set[tuple[str, str]]:
    from services.allinone import create_app
    from services.kernel.settings import Settings

    app = create_app(Settings())
    routes = set()
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/v1"):
            for method in route.methods:
                routes.add((method, route.path))
    return routes


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
async def test_authorisation_matrix(
    endpoint: Endpoint, admin_client: httpx.AsyncClient, platform_app: FastAPI, platform_db: Any
) -> None:
    tenant = await make_tenant(admin_client)
    outsider = await make_tenant(admin_client, roles=("tenant-admin",))
    tokens = dict(tenant.tokens)
    tokens["other-tenant"] = outsider.tokens["tenant-admin"]
    tokens["platform-admin"] = platform_db.admin_token
    prepare = endpoint.prepare or _nothing
    results = {}
    for role in ROLES:  # platform-admin last: its allowed DELETE may remove the tenant
        params, body = await prepare(admin_client, tenant)
        path = endpoint.path.format(tenant_id=tenant.id, **params)
        async with client_for(platform_app, tokens[role]) as client:
            response = await client.request(endpoint.method, path, json=body)
        expected = expected_status(endpoint, role, _success_status(endpoint.method, endpoint.path))
        results[role] = (response.status_code, expected, response.text[:200])
    wrong = {role: r for role, r in results.items() if r[0] != r[1]}
    assert not wrong, f"{endpoint.method} {endpoint.path}: (got, expected, body) = {wrong}"
