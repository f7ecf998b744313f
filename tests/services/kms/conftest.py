"""An app with IAM, audit and KMS mounted on the shared platform database (both backends).

The checkpoint key is the platform's (``<data dir>/audit-signing-key.pem``), as in production:
every checkpoint in the shared log must verify under one key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from security.auditlog.config import AuditSettings
from services.audit.app import module as audit_module
from services.iam.app import module as iam_module
from services.kernel.app import create_service_app
from services.kms.app import KmsSettings
from services.kms.app import module as kms_module
from tests.conftest import PlatformDB, client_for, platform_settings
from tests.services.builders import TenantFixture, make_tenant

ROOT_KEY = "11" * 32


@pytest.fixture
async def audit_app(platform_db: PlatformDB) -> AsyncIterator[FastAPI]:
    """IAM + audit + KMS on ``platform_db``, started."""
    app = create_service_app(
        modules=[iam_module, audit_module, kms_module], settings=platform_settings(platform_db)
    )
    app.state.audit_settings = AuditSettings(checkpoint_every=5, batch_wait_ms=0.5)
    app.state.kms_settings = KmsSettings(root_key=ROOT_KEY)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def admin(audit_app: FastAPI, platform_db: PlatformDB) -> AsyncIterator[httpx.AsyncClient]:
    """The platform administrator."""
    async with client_for(audit_app, platform_db.admin_token) as client:
        yield client


@pytest.fixture
async def tenants(admin: httpx.AsyncClient) -> tuple[TenantFixture, TenantFixture]:
    """Two tenants, each with a user + key per role."""
    return await make_tenant(admin), await make_tenant(admin)
