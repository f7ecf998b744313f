"""First-start bootstrap: the platform tenant, its admin user and the admin API key.

On the first start of an empty database the key is either read from
``settings.bootstrap_key_file`` (operator-supplied), written to that file (mode 0600) when the
file does not exist yet, or printed once on stdout. It is never stored in clear anywhere else.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.kernel.auth import IssuedKey, issue_key, key_from_token
from services.kernel.db import Database
from services.kernel.identity import PLATFORM_TENANT_NAME, ApiKey, RoleBinding, Tenant, User
from services.kernel.permissions import Role
from services.kernel.settings import Settings

log = logging.getLogger("stic.bootstrap")

ADMIN_USER_NAME = "admin"


@dataclass(frozen=True, slots=True)
class BootstrapState:
    """Outcome of bootstrap; ``admin_token`` is set only in the process that created the key."""

    platform_tenant_id: str
    admin_user_id: str
    admin_token: str | None
    created: bool


def _bootstrap_key(settings: Settings) -> tuple[IssuedKey, str]:
    path = settings.bootstrap_key_file
    if path is not None and path.exists():
        token = path.read_text().strip()
        return key_from_token(token, secret=settings.secret_key), f"file {path}"
    issued = issue_key(secret=settings.secret_key)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(issued.token + "\n")
        return issued, f"written to {path}"
    return issued, "printed"


async def ensure_bootstrap_admin(*, database: Database, settings: Settings) -> BootstrapState:
    """Create the platform tenant, admin user and key if the database has none (idempotent)."""
    async with database.sessionmaker() as session:
        tenant = (
            await session.execute(select(Tenant).where(Tenant.name == PLATFORM_TENANT_NAME))
        ).scalar_one_or_none()
        if tenant is not None:
            admin = (
                await session.execute(
                    select(User).where(User.tenant_id == tenant.id, User.name == ADMIN_USER_NAME)
                )
            ).scalar_one()
            return BootstrapState(tenant.id, admin.id, None, created=False)
        issued, origin = _bootstrap_key(settings)
        tenant = Tenant(name=PLATFORM_TENANT_NAME, display_name="Platform operators")
        admin = User(tenant_id=tenant.id, name=ADMIN_USER_NAME)
        session.add_all([tenant, admin])
        await session.flush()
        session.add_all(
            [
                RoleBinding(
                    tenant_id=tenant.id,
                    principal_type="user",
                    principal_id=admin.id,
                    role=Role.PLATFORM_ADMIN.value,
                ),
                ApiKey(
                    tenant_id=tenant.id,
                    lookup=issued.lookup,
                    key_hash=issued.key_hash,
                    name="bootstrap",
                    principal_type="user",
                    principal_id=admin.id,
                ),
            ]
        )
        try:
            await session.commit()
        except IntegrityError:  # another process bootstrapped concurrently
            await session.rollback()
            return await ensure_bootstrap_admin(database=database, settings=settings)
    if origin == "printed":
        print(f"STIC bootstrap admin API key (shown once): {issued.token}", file=sys.stdout, flush=True)
    log.warning("bootstrap admin created", extra={"key_origin": origin})
    return BootstrapState(tenant.id, admin.id, issued.token, created=True)
