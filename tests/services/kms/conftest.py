"""An app with IAM, audit and KMS mounted on the shared platform database (both backends).

The audit and KMS tables are created with ``create_all`` (checkfirst) until the lead's
migrations include them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from security.auditlog.config import AuditSettings
from security.auditlog.models import APPEND_ONLY_TABLES
from security.kms.models import KmsKey, KmsKeyVersion
from services.audit.app import module as audit_module
from services.iam.app import module as iam_module
from services.kernel.app import create_service_app
from services.kernel.db import Base
from services.kms.app import KmsSettings
from services.kms.app import module as kms_module
from tests.conftest import PlatformDB, client_for, platform_settings
from tests.services.builders import TenantFixture, make_tenant

ROOT_KEY = "11" * 32


@pytest.fixture
async def audit_app(platform_db: PlatformDB, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """IAM + audit + KMS on ``platform_db``, started."""
    app = create_service_app(
        modules=[iam_module, audit_module, kms_module], settings=platform_settings(platform_db)
    )
    app.state.audit_settings = AuditSettings(
        signing_key_file=tmp_path / "audit-key.pem", checkpoint_every=5, batch_wait_ms=0.5
    )
    app.state.kms_settings = KmsSettings(root_key=ROOT_KEY)
    tables = [Base.metadata.tables[t] for t in APPEND_ONLY_TABLES] + [
        KmsKey.__table__,
        KmsKeyVersion.__table__,
    ]
    async with app.state.database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all, tables=tables, checkfirst=True)
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
