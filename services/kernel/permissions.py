"""Roles and the permissions they grant. The only place the role model is defined.

Permissions are ``<area>:<verb>`` strings. ``platform-admin`` may only be bound inside the
platform tenant and grants every permission in every tenant.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Built-in roles."""

    PLATFORM_ADMIN = "platform-admin"
    TENANT_ADMIN = "tenant-admin"
    DEVELOPER = "developer"
    VIEWER = "viewer"
    AUDITOR = "auditor"


READ_ALL = frozenset(
    {
        "iam:read",
        "quotas:read",
        "jobs:read",
        "models:read",
        "inference:read",
        "safety:read",
        "assessment:read",
        "inventory:read",
    }
)
DEVELOPER = READ_ALL | {
    "quotas:reserve",
    "jobs:write",
    "models:write",
    "inference:use",
    "kms:use",
    "assessment:run",
}
TENANT_ADMIN = DEVELOPER | {
    "iam:write",
    "quotas:write",
    "audit:read",
    "kms:admin",
    "inference:admin",
    "safety:write",
    "safety:review",
}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.PLATFORM_ADMIN: frozenset({"*"}),
    Role.TENANT_ADMIN: frozenset(TENANT_ADMIN),
    Role.DEVELOPER: frozenset(DEVELOPER),
    Role.VIEWER: READ_ALL,
    Role.AUDITOR: READ_ALL | {"audit:read"},
}

# Roles that can only be granted at tenant scope, never on a single project.
TENANT_SCOPED_ROLES = frozenset({Role.PLATFORM_ADMIN, Role.TENANT_ADMIN, Role.AUDITOR})


def permissions_of(roles: set[Role] | frozenset[Role]) -> frozenset[str]:
    """Union of the permissions of ``roles``."""
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)
