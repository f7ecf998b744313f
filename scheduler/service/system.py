"""The scheduler's own principal, used when it acts without a caller (releasing quotas)."""

from __future__ import annotations

from services.kernel.auth import Principal
from services.kernel.permissions import Role


def system_principal(platform_tenant_id: str) -> Principal:
    """A platform-administrator principal named ``scheduler`` (never reachable over HTTP)."""
    return Principal(
        id="system:scheduler",
        kind="system",
        name="scheduler",
        tenant_id=platform_tenant_id,
        key_id="none",
        is_platform_admin=True,
        roles=frozenset({Role.PLATFORM_ADMIN}),
        tenant_permissions=frozenset({"*"}),
    )
