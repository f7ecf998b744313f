"""The rate-limit API on both databases, and how the gateway resolves a key's limits."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from inference.gateway.limits import KeyLimits, LimitsCache, limits_for
from services.kernel.db import Database
from tests.conftest import client_for
from tests.inference.gateway.limits.conftest import FakeClock
from tests.services.builders import make_tenant, ok


def _base(tenant_id: str) -> str:
    return f"/v1/tenants/{tenant_id}/inference/rate-limits"


async def _key_of(app: FastAPI, token: str) -> tuple[str, str]:
    async with client_for(app, token) as client:
        me = await ok(await client.get("/v1/me"))
    return me["tenant_id"], me["key_id"]


async def test_set_read_and_delete_limits(limits_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, admin = limits_client
    tenant = await make_tenant(admin)
    base = _base(tenant.id)
    assert await ok(await admin.get(base)) == {"default": None, "keys": []}

    async with client_for(app, tenant.tokens["tenant-admin"]) as ta:
        default = await ok(await ta.put(f"{base}/default", json={"rpm": 60, "tpm": 10_000}))
        assert (default["rpm"], default["tpm"], default["max_concurrency"]) == (60, 10_000, None)
        assert default["key_id"] is None
        _, dev_key = await _key_of(app, tenant.tokens["developer"])
        row = await ok(await ta.put(f"{base}/keys/{dev_key}", json={"max_concurrency": 2}))
        assert row["key_id"] == dev_key
        again = await ok(await ta.put(f"{base}/keys/{dev_key}", json={"max_concurrency": 3, "rpm": 5}))
        assert again["id"] == row["id"] and (again["rpm"], again["max_concurrency"]) == (5, 3)

    async with client_for(app, tenant.tokens["viewer"]) as viewer:
        listing = await ok(await viewer.get(base))
    assert listing["default"]["rpm"] == 60
    assert [(k["key_id"], k["rpm"], k["tpm"], k["max_concurrency"]) for k in listing["keys"]] == [
        (dev_key, 5, None, 3)
    ]

    database: Database = app.state.database
    async with database.sessionmaker() as session:
        assert await limits_for(session, tenant_id=tenant.id, key_id=dev_key) == KeyLimits(
            rpm=5, max_concurrency=3
        )
        assert await limits_for(session, tenant_id=tenant.id, key_id="key_" + "0" * 32) == KeyLimits(
            rpm=60, tpm=10_000
        )

    await ok(await admin.delete(f"{base}/keys/{dev_key}"), 204)
    await ok(await admin.delete(f"{base}/keys/{dev_key}"), 404)
    async with database.sessionmaker() as session:
        assert await limits_for(session, tenant_id=tenant.id, key_id=dev_key) == KeyLimits(rpm=60, tpm=10_000)
    await ok(await admin.delete(f"{base}/default"), 204)
    async with database.sessionmaker() as session:
        assert await limits_for(session, tenant_id=tenant.id, key_id=dev_key) == KeyLimits()
    assert await ok(await admin.get(base)) == {"default": None, "keys": []}


async def test_bad_values_are_422_naming_the_field(limits_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, admin = limits_client
    tenant = await make_tenant(admin, roles=("tenant-admin",))
    for body, field in (({"rpm": 0}, "rpm"), ({"tpm": -5}, "tpm"), ({"burst": 3}, "burst")):
        response = await admin.put(f"{_base(tenant.id)}/default", json=body)
        assert response.status_code == 422, response.text
        assert field in response.text


async def test_permissions_and_tenant_isolation(limits_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, admin = limits_client
    tenant = await make_tenant(admin)
    other = await make_tenant(admin, roles=("tenant-admin",))
    base = _base(tenant.id)
    _, dev_key = await _key_of(app, tenant.tokens["developer"])
    _, other_key = await _key_of(app, other.tokens["tenant-admin"])

    async with client_for(app, tenant.tokens["developer"]) as dev:
        assert (await dev.get(base)).status_code == 200
        assert (await dev.put(f"{base}/default", json={"rpm": 1})).status_code == 403
        assert (await dev.put(f"{base}/keys/{dev_key}", json={"rpm": 1000})).status_code == 403
    async with client_for(app, other.tokens["tenant-admin"]) as outsider:
        assert (await outsider.get(base)).status_code == 404
        assert (await outsider.put(f"{base}/default", json={"rpm": 1})).status_code == 404
        assert (await outsider.delete(f"{base}/keys/{dev_key}")).status_code == 404
    async with client_for(app, tenant.tokens["tenant-admin"]) as ta:
        # a key of another tenant is not found in this one
        response = await ta.put(f"{base}/keys/{other_key}", json={"rpm": 1})
        assert response.status_code == 404 and "api key" in response.text
    assert (await admin.get(_base("ten_" + "0" * 32))).status_code == 404


async def test_cache_serves_repeat_lookups_until_its_ttl(
    limits_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, admin = limits_client
    tenant = await make_tenant(admin, roles=("tenant-admin",))
    tenant_id, key_id = await _key_of(app, tenant.tokens["tenant-admin"])
    clock = FakeClock()
    cache = LimitsCache(app.state.database.sessionmaker, ttl_s=2.0, clock=clock)
    app.state.inference_limits_cache = cache
    assert await cache.get(tenant_id=tenant_id, key_id=key_id) == KeyLimits()

    other_cache = LimitsCache(app.state.database.sessionmaker, ttl_s=2.0, clock=clock)
    assert await other_cache.get(tenant_id=tenant_id, key_id=key_id) == KeyLimits()
    await ok(await admin.put(f"{_base(tenant_id)}/keys/{key_id}", json={"rpm": 7}))
    # this process's cache was cleared by the API; another replica's answers until its TTL
    assert await cache.get(tenant_id=tenant_id, key_id=key_id) == KeyLimits(rpm=7)
    assert await other_cache.get(tenant_id=tenant_id, key_id=key_id) == KeyLimits()
    clock.now = 2.0
    assert await other_cache.get(tenant_id=tenant_id, key_id=key_id) == KeyLimits(rpm=7)
