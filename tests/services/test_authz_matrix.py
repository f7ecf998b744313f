"""Authorisation matrix: every endpoint, as every role and as a member of another tenant.

Each row names what an endpoint needs (``POLICY``); the expected status per role follows
from it. Another tenant's principal must always get 404, never 403, so that existence of a
resource does not leak. A completeness check fails when an API route has no row here.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from security.crypto import SM2PrivateKey
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
    "audit": {"auditor", "tenant-admin", "platform-admin"},
    # KMS keys are the tenant's own secrets: not even a platform administrator uses them (404)
    "kms-use": {"developer", "tenant-admin"},
    "kms-admin": {"tenant-admin"},
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


async def _assessment_run(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    started = await admin.post("/v1/assessment/runs", json={})
    if started.status_code == 409:  # one run at a time: read the one in progress
        latest = await ok(await admin.get("/v1/assessment/runs", params={"limit": 1}))
        return {"run_id": latest["items"][0]["id"]}, None
    return {"run_id": (await ok(started, 202))["id"]}, None


ENDPOINTS += [
    Endpoint("GET", "/v1/assessment/catalogue", "anyone", outsider_status=200),
    Endpoint(
        "POST",
        "/v1/assessment/runs",
        "platform",
        _body(lambda t: {}),
        outsider_status=403,
        overrides=(("platform-admin", 202),),  # accepted: the run goes on in the background
    ),
    Endpoint("GET", "/v1/assessment/runs", "platform", outsider_status=403),
    Endpoint("GET", "/v1/assessment/runs/{run_id}", "platform", _assessment_run, outsider_status=403),
]


def _as(t: TenantFixture, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t.tokens[role]}"}


async def _kms_key(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    key = await ok(
        await admin.post("/v1/kms/keys", json={"alias": unique("k")}, headers=_as(t, "tenant-admin")), 201
    )
    return {"key_id": key["id"]}, {"state": "enabled"}


def _kms_body(make_body: Callable[[str, str], Any]) -> Prepare:
    async def prepare(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
        params, _ = await _kms_key(admin, t)
        sealed = await ok(
            await admin.post(
                "/v1/kms/encrypt",
                json={"key_id": params["key_id"], "plaintext": "aGVsbG8="},
                headers=_as(t, "tenant-admin"),
            )
        )
        return {}, make_body(params["key_id"], sealed["ciphertext_blob"])

    return prepare


async def _audit_entry(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    event = {"category": "data_access", "action": "read", "service": "matrix", "tenant_id": t.id}
    appended = await ok(await admin.post("/v1/audit/events", json=event), 201)
    await ok(await admin.post("/v1/audit/checkpoints"), 201)
    return {"index": str(appended["index"])}, None


async def _audit_checkpoint(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    await _audit_entry(admin, t)
    return {}, None


ENDPOINTS += [
    Endpoint(
        "POST",
        "/v1/audit/events",
        "platform",
        _body(lambda t: {"category": "resource_request", "action": "create", "service": "matrix"}),
        outsider_status=403,
    ),
    Endpoint("GET", "/v1/audit/events", "audit", outsider_status=200),
    Endpoint(
        "POST",
        "/v1/audit/tool-calls",
        "platform",
        _body(lambda t: {"tool": "web-search", "decision": "allow"}),
        outsider_status=403,
    ),
    Endpoint("GET", "/v1/audit/tool-calls", "audit", outsider_status=200),
    Endpoint("GET", "/v1/audit/entries/{index}", "audit", _audit_entry),
    Endpoint("GET", "/v1/audit/checkpoints/latest", "audit", _audit_checkpoint, outsider_status=200),
    Endpoint("POST", "/v1/audit/checkpoints", "platform", outsider_status=403),
    Endpoint(
        "GET", "/v1/audit/consistency?first=0&second=1", "audit", _audit_checkpoint, outsider_status=200
    ),
    Endpoint("GET", "/v1/audit/public-key", "anyone", outsider_status=200),
    Endpoint(
        "POST",
        "/v1/kms/keys",
        "kms-admin",
        _body(lambda t: {"alias": unique("k")}),
        outsider_status=201,  # a key in the caller's own tenant
        overrides=(("platform-admin", 201),),
    ),
    Endpoint("GET", "/v1/kms/keys", "kms-use", outsider_status=200, overrides=(("platform-admin", 200),)),
    Endpoint("GET", "/v1/kms/keys/{key_id}", "kms-use", _kms_key, overrides=(("platform-admin", 404),)),
    Endpoint(
        "POST", "/v1/kms/keys/{key_id}/rotate", "kms-admin", _kms_key, overrides=(("platform-admin", 404),)
    ),
    Endpoint(
        "PUT", "/v1/kms/keys/{key_id}/state", "kms-admin", _kms_key, overrides=(("platform-admin", 404),)
    ),
    Endpoint(
        "POST",
        "/v1/kms/encrypt",
        "kms-use",
        _kms_body(lambda key, blob: {"key_id": key, "plaintext": "aGk="}),
        overrides=(("platform-admin", 404),),
    ),
    Endpoint(
        "POST",
        "/v1/kms/generate-data-key",
        "kms-use",
        _kms_body(lambda key, blob: {"key_id": key}),
        overrides=(("platform-admin", 404),),
    ),
    Endpoint(
        "POST",
        "/v1/kms/decrypt",
        "kms-use",
        _kms_body(lambda key, blob: {"ciphertext_blob": blob}),
        overrides=(("platform-admin", 404),),
    ),
    Endpoint(
        "POST",
        "/v1/kms/re-encrypt",
        "kms-use",
        _kms_body(lambda key, blob: {"ciphertext_blob": blob}),
        overrides=(("platform-admin", 404),),
    ),
]


def _safety_pack(t: TenantFixture) -> dict[str, Any]:
    category = {"action": "refuse", "keywords": ["zzz"]}
    return {"id": unique("pk"), "version": "1.0.0", "categories": {"c": category}}


async def _safety_pack_version(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    pack = await ok(await admin.post(f"/v1/tenants/{t.id}/safety/packs", json=_safety_pack(t)), 201)
    return {"pack_version_id": pack["id"]}, {"pack_version_id": pack["id"]}


async def _safety_evaluation(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, _ = await _safety_pack_version(admin, t)
    return params, {"text": "zzz", "labels": ["c"]}  # one JSON object is a one-line JSON Lines body


async def _safety_active(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    _, body = await _safety_pack_version(admin, t)
    await ok(await admin.put(f"/v1/tenants/{t.id}/safety/active-pack", json=body))
    return {}, None


async def _safety_review_item(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    decision = await ok(await admin.post(f"/v1/tenants/{t.id}/safety/check", json={"text": "我不想活了"}))
    return {"item_id": decision["review_item_id"]}, None


async def _safety_platform_pack(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    active = await ok(await admin.get("/v1/safety/active-pack"))
    return {"pack_version_id": active["pack"]["id"]}, {"pack_version_id": active["pack"]["id"]}


async def _safety_review_item_with_note(
    admin: httpx.AsyncClient, t: TenantFixture
) -> tuple[dict[str, str], Any]:
    params, _ = await _safety_review_item(admin, t)
    return params, {"note": "not acceptable"}


SAFETY = "/v1/tenants/{tenant_id}/safety"
USE = "reserve"  # inference:use — developer, tenant-admin, platform-admin
REVIEW = "write"  # safety:review — tenant-admin, platform-admin
ADMINS_200 = (("tenant-admin", 200), ("platform-admin", 200))
OK_200 = (("developer", 200), *ADMINS_200)
# review items prepared for each role are still pending: deciding them is a state conflict
PENDING = (("tenant-admin", 409), ("platform-admin", 409))

ENDPOINTS += [
    Endpoint("POST", f"{SAFETY}/packs", "write", _body(_safety_pack)),
    Endpoint("GET", f"{SAFETY}/packs", "member"),
    Endpoint("GET", f"{SAFETY}/packs/{{pack_version_id}}", "member", _safety_pack_version),
    Endpoint(
        "POST",
        f"{SAFETY}/packs/{{pack_version_id}}/evaluate",
        "write",
        _safety_evaluation,
        overrides=ADMINS_200,
    ),
    Endpoint("GET", f"{SAFETY}/active-pack", "member"),
    Endpoint("PUT", f"{SAFETY}/active-pack", "write", _safety_pack_version),
    Endpoint("DELETE", f"{SAFETY}/active-pack", "write", _safety_active),
    Endpoint("POST", f"{SAFETY}/check", USE, _body(lambda t: {"text": "hello"}), overrides=OK_200),
    Endpoint("POST", f"{SAFETY}/check/stream", USE, _body(lambda t: {"chunks": ["a"]}), overrides=OK_200),
    Endpoint("POST", f"{SAFETY}/mask", USE, _body(lambda t: {"record": {"n": 1}}), overrides=OK_200),
    Endpoint("GET", f"{SAFETY}/reviews", REVIEW),
    Endpoint("POST", f"{SAFETY}/reviews/claim-next", REVIEW, _safety_review_item, overrides=ADMINS_200),
    Endpoint("GET", f"{SAFETY}/reviews/{{item_id}}", REVIEW, _safety_review_item),
    Endpoint(
        "POST", f"{SAFETY}/reviews/{{item_id}}/claim", REVIEW, _safety_review_item, overrides=ADMINS_200
    ),
    Endpoint("POST", f"{SAFETY}/reviews/{{item_id}}/approve", REVIEW, _safety_review_item, overrides=PENDING),
    Endpoint(
        "POST",
        f"{SAFETY}/reviews/{{item_id}}/reject",
        REVIEW,
        _safety_review_item_with_note,
        overrides=PENDING,
    ),
    Endpoint("POST", f"{SAFETY}/reviews/{{item_id}}/release", REVIEW, _safety_review_item, overrides=PENDING),
    Endpoint("POST", "/v1/safety/packs", "platform", _body(_safety_pack), outsider_status=403),
    Endpoint("GET", "/v1/safety/packs", "anyone", outsider_status=200),
    Endpoint(
        "GET", "/v1/safety/packs/{pack_version_id}", "anyone", _safety_platform_pack, outsider_status=200
    ),
    Endpoint("GET", "/v1/safety/active-pack", "anyone", outsider_status=200),
    Endpoint("PUT", "/v1/safety/active-pack", "platform", _safety_platform_pack, outsider_status=403),
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
    if method == "POST" and path.startswith("/v1/kms/") and not path.endswith("/keys"):
        return 200  # KMS operations answer 200 like Alibaba Cloud KMS; only key creation is 201
    if method == "POST":
        return 201
    if method == "DELETE" and not path.endswith(("api-keys/{key_id}", "reservations/{reservation_id}")):
        return 204
    return 200


def test_matrix_covers_every_api_route(platform_app_routes: set[tuple[str, str]]) -> None:
    covered = {(e.method, e.path.split("?")[0]) for e in ENDPOINTS}
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

    paths = create_app(Settings()).openapi()["paths"]
    routes = {
        (method.upper(), path) for path, item in paths.items() for method in item if path.startswith("/v1")
    }
    assert len(routes) > 40, "the OpenAPI document lists too few routes: the check would be vacuous"
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


# --- scheduler: inventory, topology, queues, jobs ---------------------------------------------

_ALLOWED_200 = {name: tuple((role, 200) for role in roles) for name, roles in POLICY.items()}  # POST actions


def _node_body(name: str) -> dict[str, Any]:
    return {"name": name, "cpu_milli": 1000, "memory_mib": 1024, "leaf": "local-leaf", "simulated": True}


async def _new_node(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    node = await ok(await admin.post("/v1/nodes", json=_node_body(unique("n"))), 201)
    return {"name": node["name"]}, {}


async def _new_node_labels(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, _ = await _new_node(admin, t)
    return params, {"labels": {"team": "a"}}


async def _new_node_device(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    chip = {"vendor": "other", "model": unique("chip"), "memory_mib": 1024, "compute_units": 1, "count": 1}
    node = await ok(
        await admin.post("/v1/nodes", json={**_node_body(unique("n")), "accelerators": chip}), 201
    )
    return {"name": node["name"], "index": "0"}, None


async def _new_domain_name(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    return {"name": unique("leaf")}, {"tier": "leaf", "parent": "local-spine"}


async def _new_domain(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, body = await _new_domain_name(admin, t)
    await ok(await admin.put(f"/v1/topology/domains/{params['name']}", json=body))
    return params, None


async def _new_queue(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    queue = await ok(await admin.post(f"/v1/tenants/{t.id}/queues", json={"name": unique("q")}), 201)
    return {"queue_id": queue["id"]}, {"priority": 1}


def _job_body(t: TenantFixture, *, start: bool = True) -> dict[str, Any]:
    group = {"name": "w", "cpu_milli": 10, "memory_mib": 1, "command": ["sleep", "2"]}
    return {"name": unique("job"), "project_id": t.project_id, "groups": [group], "start": start}


def _new_job(*, start: bool = True) -> Prepare:
    async def prepare(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
        job = await ok(await admin.post(f"/v1/tenants/{t.id}/jobs", json=_job_body(t, start=start)), 201)
        return {"job_id": job["id"], "task_name": "w-0"}, None

    return prepare


ENDPOINTS += [
    Endpoint("POST", "/v1/nodes", "platform", _body(lambda t: _node_body(unique("n"))), outsider_status=403),
    Endpoint("GET", "/v1/nodes", "anyone", outsider_status=200),
    Endpoint("GET", "/v1/nodes/{name}", "anyone", _new_node, outsider_status=200),
    Endpoint("DELETE", "/v1/nodes/{name}", "platform", _new_node, outsider_status=403),
    Endpoint("GET", "/v1/nodes/{name}/events", "anyone", _new_node, outsider_status=200),
    Endpoint("PATCH", "/v1/nodes/{name}/labels", "platform", _new_node_labels, outsider_status=403),
    *(
        Endpoint(
            "POST",
            f"/v1/nodes/{{name}}/{verb}",
            "platform",
            _new_node,
            outsider_status=403,
            overrides=_ALLOWED_200["platform"],
        )
        for verb in ("cordon", "drain", "uncordon", "heartbeat")
    ),
    Endpoint(
        "POST",
        "/v1/nodes/{name}/accelerators/{index}/restore",
        "platform",
        _new_node_device,
        outsider_status=403,
        overrides=_ALLOWED_200["platform"],
    ),
    Endpoint("GET", "/v1/topology", "anyone", outsider_status=200),
    Endpoint("PUT", "/v1/topology/domains/{name}", "platform", _new_domain_name, outsider_status=403),
    Endpoint("DELETE", "/v1/topology/domains/{name}", "platform", _new_domain, outsider_status=403),
    Endpoint("POST", "/v1/tenants/{tenant_id}/queues", "write", _body(lambda t: {"name": unique("q")})),
    Endpoint("GET", "/v1/tenants/{tenant_id}/queues", "member"),
    Endpoint("GET", "/v1/tenants/{tenant_id}/queues/{queue_id}", "member", _new_queue),
    Endpoint("PATCH", "/v1/tenants/{tenant_id}/queues/{queue_id}", "write", _new_queue),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}/queues/{queue_id}", "write", _new_queue),
    Endpoint("POST", "/v1/tenants/{tenant_id}/jobs", "reserve", _body(lambda t: _job_body(t))),
    Endpoint("GET", "/v1/tenants/{tenant_id}/jobs", "member"),
    Endpoint("GET", "/v1/tenants/{tenant_id}/jobs/{job_id}", "member", _new_job()),
    Endpoint("DELETE", "/v1/tenants/{tenant_id}/jobs/{job_id}", "reserve", _new_job()),
    *(
        Endpoint(
            "POST",
            f"/v1/tenants/{{tenant_id}}/jobs/{{job_id}}/{verb}",
            "reserve",
            _new_job(start=verb == "suspend"),
            overrides=_ALLOWED_200["reserve"],
        )
        for verb in ("start", "suspend", "resume")
    ),
    Endpoint("GET", "/v1/tenants/{tenant_id}/jobs/{job_id}/events", "member", _new_job()),
    Endpoint("GET", "/v1/tenants/{tenant_id}/jobs/{job_id}/tasks/{task_name}/logs", "member", _new_job()),
    Endpoint("GET", "/v1/tenants/{tenant_id}/jobs/{job_id}/metrics", "member", _new_job()),
]


# --- inference gateway: OpenAI API, routes (splits and chains) --------------------------------

_USE = {"developer", "tenant-admin", "platform-admin"}  # inference:use
_OPENAI_BODIES: dict[str, dict[str, Any]] = {
    "chat/completions": {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
    "completions": {"model": "no-such-model", "prompt": "hi"},
    "embeddings": {"model": "no-such-model", "input": "hi"},
}
# the OpenAI routes serve the caller's own tenant: an outsider just finds no such model
_NO_MODEL = tuple((role, 404) for role in (*_USE, "other-tenant"))


async def _new_inference_route(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    service = unique("svc")
    await ok(
        await admin.post(
            f"/v1/tenants/{t.id}/model-services",
            json={
                "name": service,
                "project_id": t.project_id,
                "engine": "openai",
                "upstream": {"url": "http://127.0.0.1:9/v1", "model": "m"},
                "start": False,
            },
        ),
        201,
    )
    route = await ok(
        await admin.post(
            f"/v1/tenants/{t.id}/inference/routes",
            json={"name": unique("r"), "split": {"variants": [{"name": "a", "service": service}]}},
        ),
        201,
    )
    return {"route_id": route["id"]}, {"enabled": False}


async def _inference_route_body(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, _ = await _new_inference_route(admin, t)
    route = await ok(await admin.get(f"/v1/tenants/{t.id}/inference/routes/{params['route_id']}"))
    return {}, {"name": unique("r"), "split": route["spec"]}


async def _no_such_model(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    return {"model": "no-such-model"}, None


ROUTES = "/v1/tenants/{tenant_id}/inference/routes"
ENDPOINTS += [
    *(
        Endpoint("POST", f"/v1/{op}", "reserve", _body(lambda t, b=body: dict(b)), overrides=_NO_MODEL)
        for op, body in _OPENAI_BODIES.items()
    ),
    Endpoint("GET", "/v1/models", "reserve", outsider_status=200),
    Endpoint("GET", "/v1/models/{model}", "reserve", _no_such_model, overrides=_NO_MODEL),
    Endpoint("GET", "/v1/inference/engines", "anyone", outsider_status=200),
    Endpoint("POST", ROUTES, "write", _inference_route_body),
    Endpoint("GET", ROUTES, "member"),
    Endpoint("GET", f"{ROUTES}/{{route_id}}", "member", _new_inference_route),
    Endpoint("PATCH", f"{ROUTES}/{{route_id}}", "write", _new_inference_route),
    Endpoint("DELETE", f"{ROUTES}/{{route_id}}", "write", _new_inference_route),
    Endpoint("GET", f"{ROUTES}/{{route_id}}/stats", "member", _new_inference_route),
]


# --- model services (inference.modelservice) ---------------------------------------------------

MODEL_SERVICES = "/v1/tenants/{tenant_id}/model-services"


def _model_service_body(t: TenantFixture) -> dict[str, Any]:
    upstream = {"url": "http://127.0.0.1:9/v1", "model": "m"}  # nothing listens: no process, no job
    return {
        "name": unique("ms"),
        "project_id": t.project_id,
        "engine": "openai",
        "upstream": upstream,
        "start": False,
    }


def _new_model_service(body: Any = None) -> Prepare:
    async def prepare(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
        svc = await ok(
            await admin.post(f"/v1/tenants/{t.id}/model-services", json=_model_service_body(t)), 201
        )
        return {"service_id": svc["id"]}, body

    return prepare


_NO_READY_REPLICA = tuple((role, 409) for role in POLICY["reserve"])  # /test on a stopped service
ENDPOINTS += [
    Endpoint("POST", MODEL_SERVICES, "reserve", _body(_model_service_body)),
    Endpoint("GET", MODEL_SERVICES, "member"),
    Endpoint("GET", f"{MODEL_SERVICES}/{{service_id}}", "member", _new_model_service()),
    Endpoint("DELETE", f"{MODEL_SERVICES}/{{service_id}}", "reserve", _new_model_service()),
    *(
        Endpoint("GET", f"{MODEL_SERVICES}/{{service_id}}/{view}", "member", _new_model_service())
        for view in ("replicas", "interface", "status", "events")
    ),
    *(
        Endpoint(
            "POST",
            f"{MODEL_SERVICES}/{{service_id}}/{verb}",
            "reserve",
            _new_model_service(),
            overrides=_ALLOWED_200["reserve"],
        )
        for verb in ("start", "stop")
    ),
    Endpoint(
        "POST",
        f"{MODEL_SERVICES}/{{service_id}}/test",
        "reserve",
        _new_model_service(),
        overrides=_NO_READY_REPLICA,
    ),
    Endpoint(
        "POST",
        f"{MODEL_SERVICES}/{{service_id}}/scale",
        "reserve",
        _new_model_service({"replicas": 1}),
        overrides=_ALLOWED_200["reserve"],
    ),
    Endpoint(
        "PUT",
        f"{MODEL_SERVICES}/{{service_id}}/autoscaling",
        "reserve",
        _new_model_service({"enabled": False, "metrics": [{"name": "cpu_utilization", "target": 0.5}]}),
    ),
]


# --- inference batches: /v1/files and /v1/batches (the tenant is the caller's own) -------------

_BATCH_LINE = b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {"model": "m"}}'
_OWN_TENANT_404 = (("platform-admin", 404),)  # another tenant's file or batch, even for a platform admin


async def _uploaded_file(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    created = await ok(
        await admin.post(
            "/v1/files",
            files={"file": ("in.jsonl", _BATCH_LINE, "application/jsonl")},
            data={"purpose": "batch"},
            headers=_as(t, "developer"),
        )
    )
    return {"file_id": created["id"]}, None


async def _batch_body(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, _ = await _uploaded_file(admin, t)
    return {}, {"input_file_id": params["file_id"], "endpoint": "/v1/embeddings", "completion_window": "24h"}


async def _new_batch(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    _, body = await _batch_body(admin, t)
    batch = await ok(await admin.post("/v1/batches", json=body, headers=_as(t, "developer")))
    report = {"custom_id": "a", "line": 1, "status_code": 200, "body": {}}
    return {"batch_id": batch["id"]}, {"results": [report]}


ENDPOINTS += [
    # a JSON body is not the multipart form: allowed callers get 400, the others 403
    Endpoint(
        "POST",
        "/v1/files",
        "reserve",
        _body(lambda t: {"purpose": "batch"}),
        outsider_status=400,
        overrides=(("developer", 400), ("tenant-admin", 400), ("platform-admin", 400)),
    ),
    Endpoint("GET", "/v1/files", "anyone", outsider_status=200),
    Endpoint("GET", "/v1/files/{file_id}", "member", _uploaded_file, overrides=_OWN_TENANT_404),
    Endpoint("GET", "/v1/files/{file_id}/content", "member", _uploaded_file, overrides=_OWN_TENANT_404),
    Endpoint(
        "DELETE",
        "/v1/files/{file_id}",
        "reserve",
        _uploaded_file,
        overrides=(("developer", 200), ("tenant-admin", 200), *_OWN_TENANT_404),
    ),
    Endpoint(
        "POST",
        "/v1/batches",
        "reserve",
        _batch_body,
        overrides=(("developer", 200), ("tenant-admin", 200), *_OWN_TENANT_404),
    ),
    Endpoint("GET", "/v1/batches", "anyone", outsider_status=200),
    Endpoint("GET", "/v1/batches/{batch_id}", "member", _new_batch, overrides=_OWN_TENANT_404),
    Endpoint(
        "POST",
        "/v1/batches/{batch_id}/cancel",
        "reserve",
        _new_batch,
        overrides=(("developer", 200), ("tenant-admin", 200), *_OWN_TENANT_404),
    ),
    # only the batch's own runner key (minted by the controller) may use these two
    Endpoint("GET", "/v1/batches/{batch_id}/pending", "platform", _new_batch, overrides=_OWN_TENANT_404),
    Endpoint("POST", "/v1/batches/{batch_id}/results", "platform", _new_batch, overrides=_OWN_TENANT_404),
]


# --- inference gateway: SM2/SM4 channel, rate limits, request logs -----------------------------


def _secure_session_body(t: TenantFixture) -> dict[str, str]:
    def point() -> str:
        return base64.b64encode(SM2PrivateKey.generate().public_key().to_bytes()).decode()

    return {"client_public_key": point(), "client_ephemeral": point()}


async def _new_secure_session(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    created = await ok(await admin.post("/v1/secure/sessions", json=_secure_session_body(t)), 201)
    return {"session_id": created["session_id"]}, None


# a session belongs to the API key that opened it (here the admin's): any other key finds none
_NOT_THE_OPENER = tuple((role, 404) for role in ("auditor", "viewer", "developer", "tenant-admin"))


async def _rate_limit_key(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, _ = await _new_key_of_someone_else(admin, t)
    return params, {"rpm": 10}


async def _rate_limited_key(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    params, body = await _rate_limit_key(admin, t)
    await ok(await admin.put(f"/v1/tenants/{t.id}/inference/rate-limits/keys/{params['key_id']}", json=body))
    return params, None


async def _rate_limit_default(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    await ok(await admin.put(f"/v1/tenants/{t.id}/inference/rate-limits/default", json={"rpm": 10}))
    return {}, None


async def _request_log(admin: httpx.AsyncClient, t: TenantFixture) -> tuple[dict[str, str], Any]:
    """A real (failed) gateway request of the tenant's developer, once its log is written."""
    await admin.post(
        "/v1/chat/completions",
        json={"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {t.tokens['developer']}"},
    )
    for _ in range(100):
        page = await ok(await admin.get(f"/v1/tenants/{t.id}/inference/request-logs", params={"limit": 1}))
        if page["items"]:
            return {"log_id": page["items"][0]["id"]}, None
        await asyncio.sleep(0.05)
    raise AssertionError("the request log was never written")


LIMITS = "/v1/tenants/{tenant_id}/inference/rate-limits"
LOGS = "/v1/tenants/{tenant_id}/inference/request-logs"
ENDPOINTS += [
    Endpoint("GET", "/v1/secure/key", "anyone", outsider_status=200),
    Endpoint("POST", "/v1/secure/sessions", "reserve", _body(_secure_session_body), outsider_status=201),
    Endpoint(
        "DELETE",
        "/v1/secure/sessions/{session_id}",
        "platform",
        _new_secure_session,
        overrides=_NOT_THE_OPENER,
    ),
    Endpoint("GET", LIMITS, "member"),
    Endpoint("PUT", f"{LIMITS}/default", "write", _body(lambda t: {"rpm": 60, "tpm": 10_000})),
    Endpoint("DELETE", f"{LIMITS}/default", "write", _rate_limit_default),
    Endpoint("PUT", f"{LIMITS}/keys/{{key_id}}", "write", _rate_limit_key),
    Endpoint("DELETE", f"{LIMITS}/keys/{{key_id}}", "write", _rate_limited_key),
    Endpoint("GET", LOGS, "member"),
    Endpoint("GET", f"{LOGS}/{{log_id}}", "member", _request_log),
    Endpoint(
        "POST",
        f"{LOGS}/export",
        "write",
        _body(lambda t: {"format": "chat-jsonl"}),
        overrides=_ALLOWED_200["write"],
    ),
]
