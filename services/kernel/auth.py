"""API-key authentication and the request's :class:`Principal`.

Tokens look like ``stic_<lookup>_<secret>``. The database stores the lookup (to find the row)
and an HMAC-SHA256 of the whole token under the platform secret; comparison is constant-time.
:meth:`Principal.require` is the single authorisation check: another tenant's resource is
reported as *not found* so that existence does not leak, a missing permission as *forbidden*.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.db import utcnow
from services.kernel.errors import Forbidden, NotFound, Unauthorized
from services.kernel.identity import ApiKey, RoleBinding, ServiceAccount, User
from services.kernel.permissions import Role, permissions_of

TOKEN_PREFIX = "stic"  # noqa: S105 - a format marker, not a secret


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly minted key: ``token`` is shown once and never stored."""

    token: str
    lookup: str
    key_hash: str


def hash_token(token: str, *, secret: str) -> str:
    """HMAC-SHA256 of ``token`` under the platform secret, hex-encoded."""
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


class TokenHasher:
    """:func:`hash_token` under one secret, for hot paths: the keyed HMAC state is built once."""

    def __init__(self, secret: str) -> None:
        self._keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def hash(self, token: str) -> str:
        """The same digest as ``hash_token(token, secret=secret)``."""
        mac = self._keyed.copy()
        mac.update(token.encode())
        return mac.hexdigest()


def issue_key(*, secret: str) -> IssuedKey:
    """Mint a new random API key."""
    lookup = secrets.token_hex(8)
    token = f"{TOKEN_PREFIX}_{lookup}_{secrets.token_urlsafe(32)}"
    return IssuedKey(token=token, lookup=lookup, key_hash=hash_token(token, secret=secret))


def key_from_token(token: str, *, secret: str) -> IssuedKey:
    """Re-derive lookup and hash from a token supplied by the operator (bootstrap file)."""
    lookup = parse_lookup(token)
    if lookup is None:
        raise ValueError("bootstrap key must look like stic_<16 hex>_<secret>")
    return IssuedKey(token=token, lookup=lookup, key_hash=hash_token(token, secret=secret))


def parse_lookup(token: str) -> str | None:
    """The lookup part of a well-formed token, or None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 16 or not parts[2]:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: identity, home tenant, and permissions by scope."""

    id: str
    kind: str
    name: str
    tenant_id: str
    key_id: str
    is_platform_admin: bool = False
    roles: frozenset[Role] = frozenset()
    tenant_permissions: frozenset[str] = frozenset()
    project_permissions: dict[str, frozenset[str]] = field(default_factory=dict)

    def can(self, permission: str, *, tenant_id: str, project_id: str | None = None) -> bool:
        """True if the principal holds ``permission`` in that tenant (and project, if given)."""
        if self.is_platform_admin:
            return True
        if tenant_id != self.tenant_id:
            return False
        if permission in self.tenant_permissions:
            return True
        return project_id is not None and permission in self.project_permissions.get(project_id, frozenset())

    def can_see_tenant(self, tenant_id: str) -> bool:
        """True if resources of ``tenant_id`` may be acknowledged to exist for this principal."""
        return self.is_platform_admin or tenant_id == self.tenant_id

    def ensure_visible(self, tenant_id: str, resource: tuple[str, str] | None = None) -> None:
        """Raise NotFound (naming ``resource``) unless ``tenant_id`` is visible to the principal."""
        if not self.can_see_tenant(tenant_id):
            kind, rid = resource or ("tenant", tenant_id)
            raise NotFound.of(kind, rid)

    def require(
        self,
        permission: str,
        *,
        tenant_id: str,
        project_id: str | None = None,
        resource: tuple[str, str] | None = None,
    ) -> None:
        """Raise unless allowed: NotFound for another tenant, Forbidden for a missing permission.

        ``resource`` = (kind, id) names what was asked for in the 404 message.
        """
        self.ensure_visible(tenant_id, resource)
        if not self.can(permission, tenant_id=tenant_id, project_id=project_id):
            raise Forbidden(
                f"permission '{permission}' is required",
                detail={"permission": permission, "tenant_id": tenant_id, "project_id": project_id},
            )

    def project_ids_with(self, permission: str) -> frozenset[str]:
        """Projects where ``permission`` is granted by a project-scoped binding."""
        return frozenset(p for p, perms in self.project_permissions.items() if permission in perms)


def extract_token(authorization: str | None, api_key_header: str | None) -> str:
    """The token from ``Authorization: Bearer`` or ``X-API-Key``; raises Unauthorized if absent."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization header must be 'Bearer <api key>'")
        return value.strip()
    if api_key_header:
        return api_key_header.strip()
    raise Unauthorized("missing API key: send 'Authorization: Bearer <api key>'")


_DUMMY_HASH = hash_token("stic_0000000000000000_dummy", secret="dummy")  # noqa: S106 - timing decoy


async def authenticate(
    session: AsyncSession, *, token: str, secret: str, now: datetime | None = None
) -> Principal:
    """Resolve ``token`` to a :class:`Principal` or raise Unauthorized (constant-time compare)."""
    lookup = parse_lookup(token)
    row = None
    if lookup is not None:
        row = (await session.execute(select(ApiKey).where(ApiKey.lookup == lookup))).scalar_one_or_none()
    expected = row.key_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(expected, hash_token(token, secret=secret))
    if row is None or not matches:
        raise Unauthorized("invalid API key")
    now = now or utcnow()
    if row.revoked_at is not None:
        raise Unauthorized("API key revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthorized("API key expired")
    name = await _active_principal_name(session, row)
    return await _build_principal(session, row, name)


async def _active_principal_name(session: AsyncSession, key: ApiKey) -> str:
    principal: User | ServiceAccount | None
    if key.principal_type == "user":
        principal = await session.get(User, key.principal_id)
    else:
        principal = await session.get(ServiceAccount, key.principal_id)
    if principal is None or principal.status != "active":
        raise Unauthorized("the principal of this API key is disabled or deleted")
    return principal.name


async def _build_principal(session: AsyncSession, key: ApiKey, name: str) -> Principal:
    bindings = (
        (await session.execute(select(RoleBinding).where(RoleBinding.principal_id == key.principal_id)))
        .scalars()
        .all()
    )
    tenant_roles = {Role(b.role) for b in bindings if b.project_id is None}
    project_roles: dict[str, set[Role]] = {}
    for binding in bindings:
        if binding.project_id is not None:
            project_roles.setdefault(binding.project_id, set()).add(Role(binding.role))
    return Principal(
        id=key.principal_id,
        kind=key.principal_type,
        name=name,
        tenant_id=key.tenant_id,
        key_id=key.id,
        is_platform_admin=Role.PLATFORM_ADMIN in tenant_roles,
        roles=frozenset(tenant_roles),
        tenant_permissions=permissions_of(tenant_roles),
        project_permissions={p: permissions_of(r) for p, r in project_roles.items()},
    )
