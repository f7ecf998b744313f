"""Fixtures for the content-safety service tests: tenants with a client per role."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.services.builders import make_tenant
from tests.services.safety.builders import SafetyTenant


@pytest.fixture
async def safety(platform_app: FastAPI, admin_client: httpx.AsyncClient) -> AsyncIterator[SafetyTenant]:
    """A fresh tenant (one user per role) on the running platform."""
    tenant = SafetyTenant(platform_app, await make_tenant(admin_client), admin_client)
    try:
        yield tenant
    finally:
        await tenant.close()


@pytest.fixture
async def other(platform_app: FastAPI, admin_client: httpx.AsyncClient) -> AsyncIterator[SafetyTenant]:
    """A second tenant with only a tenant administrator (the outsider)."""
    tenant = SafetyTenant(
        platform_app, await make_tenant(admin_client, roles=("tenant-admin",)), admin_client
    )
    try:
        yield tenant
    finally:
        await tenant.close()
