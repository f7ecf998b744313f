"""Fixtures for gateway tests: a tenant with a model service in front of a real builtin replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from inference.engines.base import Replica
from tests.inference.fixtures import SERVED_NAME
from tests.services.builders import TenantFixture, make_tenant, ok, unique


@dataclass
class ServedTenant:
    """A tenant whose model service ``model`` forwards to the session's builtin replica."""

    tenant: TenantFixture
    model: str
    service_id: str

    def token(self, role: str = "developer") -> str:
        return self.tenant.tokens[role]


async def create_openai_service(
    admin: httpx.AsyncClient, tenant: TenantFixture, *, name: str, url: str, upstream_model: str = SERVED_NAME
) -> str:
    """A model service of engine ``openai`` in front of ``url``; returns its id."""
    created = await ok(
        await admin.post(
            f"/v1/tenants/{tenant.id}/model-services",
            json={
                "name": name,
                "project_id": tenant.project_id,
                "engine": "openai",
                "upstream": {"url": url, "model": upstream_model},
            },
            headers={"Authorization": f"Bearer {tenant.tokens['tenant-admin']}"},
        ),
        201,
    )
    return str(created["id"])


async def wait_routable(
    app: FastAPI, tenant_id: str, name: str, replicas: int = 1, timeout_s: float = 30.0
) -> None:
    """Until the gateway's routing table serves ``name`` with ``replicas`` ready replicas."""
    runtime = app.state.gateway
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        await runtime.table.refresh()
        entry = runtime.table.service(tenant_id, name)
        if entry is not None and len(entry.target.replicas) >= replicas:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{name} not routable with {replicas} replicas after {timeout_s} s")
        await asyncio.sleep(0.2)


@pytest.fixture
async def served(
    platform_app: FastAPI, admin_client: httpx.AsyncClient, builtin_replica: Replica
) -> AsyncIterator[ServedTenant]:
    """A fresh tenant with one ``openai``-engine service in front of the builtin replica."""
    tenant = await make_tenant(admin_client)
    name = unique("chat")
    service_id = await create_openai_service(admin_client, tenant, name=name, url=builtin_replica.api_base)
    await wait_routable(platform_app, tenant.id, name)
    yield ServedTenant(tenant=tenant, model=name, service_id=service_id)
