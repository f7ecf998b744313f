"""Rule-pack management: upload immutable versions, list and read them, activate and roll back.

Scopes: a tenant's own packs (``tenant:<id>``, managed with ``safety:write``) and platform
packs (``global``, managed by platform administrators, readable by every principal). The pack
that applies to a tenant is the tenant's activation if it has one — which may name one of its
own versions or a platform version — else the platform's active pack. Writes commit before
returning, so the next request sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from security.safety.rules import RulePack
from services.kernel.auth import Principal
from services.kernel.db import utcnow
from services.kernel.errors import Conflict, Forbidden, NotFound
from services.kernel.identity import Tenant
from services.kernel.pagination import PageParams, paginate
from services.safety import auditing, schemas
from services.safety.documents import compile_checked, media_type, parse_upload
from services.safety.models import GLOBAL_SCOPE, SafetyPackActivation, SafetyPackVersion, tenant_scope
from services.safety.runtime import LoadedPack, SafetyRuntime

PACK_KIND = "rule pack version"


async def require_tenant(
    session: AsyncSession, principal: Principal, tenant_id: str, permission: str
) -> None:
    """Authorise ``permission`` in ``tenant_id`` and check that the tenant exists (404 otherwise)."""
    principal.require(permission, tenant_id=tenant_id)
    if await session.get(Tenant, tenant_id) is None:
        raise NotFound.of("tenant", tenant_id)


def _versions_of(tenant_id: str | None) -> Select[SafetyPackVersion]:
    column = SafetyPackVersion.tenant_id
    return select(SafetyPackVersion).where(column.is_(None) if tenant_id is None else column == tenant_id)


async def visible_version(
    session: AsyncSession, *, tenant_id: str | None, version_id: str
) -> SafetyPackVersion:
    """A version the scope may use: its own or a platform one; NotFound for anything else."""
    query = select(SafetyPackVersion).where(SafetyPackVersion.id == version_id)
    if tenant_id is None:
        query = query.where(SafetyPackVersion.tenant_id.is_(None))
    else:
        query = query.where(
            or_(SafetyPackVersion.tenant_id == tenant_id, SafetyPackVersion.tenant_id.is_(None))
        )
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound.of(PACK_KIND, version_id)
    return row


# --- upload -----------------------------------------------------------------------------------


async def _store(
    session: AsyncSession, *, pack: RulePack, tenant_id: str | None, source_format: str, created_by: str
) -> tuple[SafetyPackVersion, bool]:
    """Insert ``pack`` unless that (scope, id, version) exists; returns (row, created)."""
    compile_checked(pack)
    existing_query = select(SafetyPackVersion).where(
        SafetyPackVersion.scope == pack.scope,
        SafetyPackVersion.pack_id == pack.id,
        SafetyPackVersion.version == pack.version,
    )
    existing = (await session.execute(existing_query)).scalar_one_or_none()
    if existing is None:
        row = SafetyPackVersion(
            tenant_id=tenant_id,
            scope=pack.scope,
            pack_id=pack.id,
            version=pack.version,
            description=pack.description,
            digest=pack.digest,
            document=pack.model_dump(mode="json"),
            source_format=source_format,
            created_by=created_by,
        )
        session.add(row)
        try:
            await session.commit()
            return row, True
        except IntegrityError:
            await session.rollback()
            existing = (await session.execute(existing_query)).scalar_one()
    if existing.digest != pack.digest:
        raise Conflict(
            f"rule pack {pack.id}@{pack.version} already exists with other content; versions are "
            "immutable, upload it under a new version",
            detail={"pack_id": pack.id, "version": pack.version, "pack_version_id": existing.id},
        )
    return existing, False


async def upload(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str | None,
    body: bytes,
    content_type: str | None,
    activate: bool,
    request_id: str | None,
) -> tuple[SafetyPackVersion, bool]:
    """Validate and store a pack version for ``tenant_id`` (``None``: a platform pack).

    Returns ``(version, created)``; uploading identical content again is a no-op, other content
    under an existing version is a Conflict. ``activate`` also makes it the scope's active pack.
    """
    await _authorise_write(session, principal, tenant_id)
    kind = media_type(content_type)
    pack = parse_upload(body, kind=kind, tenant_id=tenant_id)
    row, created = await _store(
        session, pack=pack, tenant_id=tenant_id, source_format=kind, created_by=principal.id
    )
    if created:
        await auditing.record(
            runtime.audit,
            action="safety.pack.upload",
            resource=f"safety-pack:{row.id}",
            principal=principal,
            tenant_id=tenant_id,
            request_id=request_id,
            facts={"pack": _pack_facts(row)},
            result=201,
        )
    if activate:
        await activate_version(
            session=session,
            runtime=runtime,
            principal=principal,
            tenant_id=tenant_id,
            version_id=row.id,
            request_id=request_id,
        )
    return row, created


async def _authorise_write(session: AsyncSession, principal: Principal, tenant_id: str | None) -> None:
    if tenant_id is None:
        if not principal.is_platform_admin:
            raise Forbidden("only platform administrators manage platform rule packs")
        return
    await require_tenant(session, principal, tenant_id, "safety:write")


async def _authorise_read(session: AsyncSession, principal: Principal, tenant_id: str | None) -> None:
    if tenant_id is None:
        principal.require("safety:read", tenant_id=principal.tenant_id)
        return
    await require_tenant(session, principal, tenant_id, "safety:read")


def _pack_facts(row: SafetyPackVersion) -> dict[str, Any]:
    return {
        "pack_version_id": row.id,
        "id": row.pack_id,
        "version": row.version,
        "scope": row.scope,
        "digest": row.digest,
    }


# --- read -------------------------------------------------------------------------------------


async def list_versions(
    *,
    session: AsyncSession,
    principal: Principal,
    tenant_id: str | None,
    page: PageParams,
    pack_id: str | None,
) -> tuple[list[SafetyPackVersion], int]:
    """Versions stored in the scope (newest first), optionally of one pack id."""
    await _authorise_read(session, principal, tenant_id)
    query = _versions_of(tenant_id)
    if pack_id is not None:
        query = query.where(SafetyPackVersion.pack_id == pack_id)
    query = query.order_by(SafetyPackVersion.created_at.desc(), SafetyPackVersion.id)
    return await paginate(session, query, page)


async def get_version(
    *, session: AsyncSession, principal: Principal, tenant_id: str | None, version_id: str
) -> SafetyPackVersion:
    """One version the scope may see (its own or, for a tenant, a platform version)."""
    await _authorise_read(session, principal, tenant_id)
    return await visible_version(session, tenant_id=tenant_id, version_id=version_id)


# --- activation -------------------------------------------------------------------------------


def _scope_of(tenant_id: str | None) -> str:
    return GLOBAL_SCOPE if tenant_id is None else tenant_scope(tenant_id)


async def _activation(session: AsyncSession, scope: str) -> SafetyPackActivation | None:
    query = select(SafetyPackActivation).where(SafetyPackActivation.scope == scope)
    return (await session.execute(query)).scalar_one_or_none()


async def _set_activation(
    session: AsyncSession, *, tenant_id: str | None, version_id: str, actor: str
) -> str | None:
    """Point the scope at ``version_id``; returns the previously active version id."""
    scope = _scope_of(tenant_id)
    current = await _activation(session, scope)
    previous = current.pack_version_id if current is not None else None
    if current is None:
        session.add(
            SafetyPackActivation(
                scope=scope, tenant_id=tenant_id, pack_version_id=version_id, activated_by=actor
            )
        )
    else:
        current.pack_version_id = version_id
        current.activated_by = actor
        current.activated_at = utcnow()
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"the active pack of {scope} changed concurrently; retry") from None
    return previous


async def activate_version(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str | None,
    version_id: str,
    request_id: str | None,
) -> schemas.ActivePackOut:
    """Make a visible version the scope's active pack (roll forward or back)."""
    await _authorise_write(session, principal, tenant_id)
    row = await visible_version(session, tenant_id=tenant_id, version_id=version_id)
    runtime.load(row)  # a stored pack that no longer compiles must not become active
    previous = await _set_activation(session, tenant_id=tenant_id, version_id=row.id, actor=principal.id)
    await auditing.record(
        runtime.audit,
        action="safety.pack.activate",
        resource=f"safety-scope:{_scope_of(tenant_id)}",
        principal=principal,
        tenant_id=tenant_id,
        request_id=request_id,
        facts={"pack": _pack_facts(row), "previous_pack_version_id": previous},
    )
    return await active_pack(session=session, principal=principal, tenant_id=tenant_id)


async def deactivate(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    request_id: str | None,
) -> None:
    """Drop the tenant's own activation so that the platform default applies again."""
    await require_tenant(session, principal, tenant_id, "safety:write")
    current = await _activation(session, tenant_scope(tenant_id))
    if current is None:
        raise NotFound(f"tenant {tenant_id} has no rule pack of its own active")
    previous = current.pack_version_id
    await session.delete(current)
    await session.commit()
    await auditing.record(
        runtime.audit,
        action="safety.pack.deactivate",
        resource=f"safety-scope:{tenant_scope(tenant_id)}",
        principal=principal,
        tenant_id=tenant_id,
        request_id=request_id,
        facts={"previous_pack_version_id": previous},
    )


async def _effective(
    session: AsyncSession, tenant_id: str | None
) -> tuple[SafetyPackActivation, SafetyPackVersion, str]:
    scopes = [GLOBAL_SCOPE] if tenant_id is None else [tenant_scope(tenant_id), GLOBAL_SCOPE]
    for scope in scopes:
        activation = await _activation(session, scope)
        if activation is not None:
            row = await session.get(SafetyPackVersion, activation.pack_version_id)
            if row is not None:
                return activation, row, "global" if scope == GLOBAL_SCOPE else "tenant"
    raise Conflict(
        "no rule pack applies: the scope has none active and no platform default is active",
        detail={"tenant_id": tenant_id},
    )


async def active_pack(
    *, session: AsyncSession, principal: Principal, tenant_id: str | None
) -> schemas.ActivePackOut:
    """The pack that applies to ``tenant_id`` (or the platform default for ``None``)."""
    await _authorise_read(session, principal, tenant_id)
    activation, row, source = await _effective(session, tenant_id)
    return schemas.ActivePackOut(
        source=source,
        activated_by=activation.activated_by,
        activated_at=activation.activated_at,
        pack=schemas.PackVersionOut.model_validate(row),
    )


async def resolve(
    session: AsyncSession, runtime: SafetyRuntime, *, tenant_id: str, version_id: str | None
) -> LoadedPack:
    """The pack a check of ``tenant_id`` runs with: ``version_id`` if given, else the active one."""
    if version_id is not None:
        row = await visible_version(session, tenant_id=tenant_id, version_id=version_id)
    else:
        _, row, _ = await _effective(session, tenant_id)
    return runtime.load(row)


# --- platform default -------------------------------------------------------------------------


async def preload_default(*, session: AsyncSession, runtime: SafetyRuntime, path: Path) -> SafetyPackVersion:
    """Store the platform pack at ``path`` and activate it globally unless a global pack is active.

    Idempotent across restarts and processes; a file whose content changed without a new
    version is refused (Conflict), since stored versions are immutable.
    """
    kind = "json" if path.suffix.lower() == ".json" else "yaml"
    pack = parse_upload(await asyncio.to_thread(path.read_bytes), kind=kind, tenant_id=None)
    row, _ = await _store(session, pack=pack, tenant_id=None, source_format=kind, created_by="system")
    runtime.load(row)
    if await _activation(session, GLOBAL_SCOPE) is None:
        # another process may activate a platform pack at the same moment: keep theirs
        with contextlib.suppress(Conflict):
            await _set_activation(session, tenant_id=None, version_id=row.id, actor="system")
    return row
