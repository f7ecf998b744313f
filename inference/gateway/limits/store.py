"""Reading and managing the limits stored per tenant and API key.

:func:`limits_for` is what the gateway calls per request (through :class:`LimitsCache`, which
keeps answers for a couple of seconds so that admission costs no database round trip); the
other functions back the management API and authorise their caller themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inference.gateway.limits.models import DEFAULT_SUBJECT, InferenceRateLimit
from inference.gateway.limits.types import UNLIMITED, KeyLimits
from inference.gateway.singleflight import SingleFlight
from services.kernel.auth import Principal
from services.kernel.errors import Conflict, NotFound
from services.kernel.identity import ApiKey, Tenant

READ = "inference:read"
ADMIN = "inference:admin"
KIND = "rate limit"


def _limits(row: InferenceRateLimit | None) -> KeyLimits:
    if row is None:
        return UNLIMITED
    return KeyLimits(rpm=row.rpm, tpm=row.tpm, max_concurrency=row.max_concurrency)


async def limits_for(session: AsyncSession, *, tenant_id: str, key_id: str) -> KeyLimits:
    """The key's own limits, else the tenant's default, else unlimited."""
    query = select(InferenceRateLimit).where(
        InferenceRateLimit.tenant_id == tenant_id,
        or_(InferenceRateLimit.subject == key_id, InferenceRateLimit.subject == DEFAULT_SUBJECT),
    )
    rows = {row.subject: row for row in (await session.execute(query)).scalars()}
    return _limits(rows.get(key_id) or rows.get(DEFAULT_SUBJECT))


@dataclass(frozen=True, slots=True)
class _Cached:
    limits: KeyLimits
    expires_at: float


class LimitsCache:
    """:func:`limits_for` answers kept ``ttl_s`` seconds per (tenant, key).

    A change made through the API reaches every gateway replica within ``ttl_s``; the cache
    holds at most ``max_entries`` keys (the oldest entry goes first).
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        ttl_s: float = 2.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[tuple[str, str], _Cached] = {}
        self._lookups: SingleFlight[tuple[str, str], KeyLimits] = SingleFlight()  # one query per key at once

    async def get(self, *, tenant_id: str, key_id: str) -> KeyLimits:
        """The limits of ``key_id`` in ``tenant_id`` (cached)."""
        now = self._clock()
        cached = self._entries.get((tenant_id, key_id))
        if cached is not None and cached.expires_at > now:
            return cached.limits
        limits = await self._lookups.run((tenant_id, key_id), lambda: self._lookup(tenant_id, key_id))
        self._entries.pop((tenant_id, key_id), None)
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[(tenant_id, key_id)] = _Cached(limits, now + self._ttl_s)
        return limits

    async def _lookup(self, tenant_id: str, key_id: str) -> KeyLimits:
        async with self._sessionmaker() as session:
            return await limits_for(session, tenant_id=tenant_id, key_id=key_id)

    def invalidate(self) -> None:
        """Forget every cached answer (this replica sees API changes at once)."""
        self._entries.clear()


# --- management ---------------------------------------------------------------------------------


async def _require_tenant(
    session: AsyncSession, principal: Principal, tenant_id: str, permission: str
) -> None:
    principal.require(permission, tenant_id=tenant_id)
    if await session.get(Tenant, tenant_id) is None:
        raise NotFound.of("tenant", tenant_id)


async def _row(session: AsyncSession, tenant_id: str, subject: str) -> InferenceRateLimit | None:
    query = select(InferenceRateLimit).where(
        InferenceRateLimit.tenant_id == tenant_id, InferenceRateLimit.subject == subject
    )
    return (await session.execute(query)).scalar_one_or_none()


async def _require_key(session: AsyncSession, tenant_id: str, key_id: str) -> None:
    key = await session.get(ApiKey, key_id)
    if key is None or key.tenant_id != tenant_id:
        raise NotFound.of("api key", key_id)


async def list_limits(
    *, session: AsyncSession, principal: Principal, tenant_id: str
) -> tuple[InferenceRateLimit | None, list[InferenceRateLimit]]:
    """The tenant's default row (or None) and its per-key rows, oldest first."""
    await _require_tenant(session, principal, tenant_id, READ)
    query = (
        select(InferenceRateLimit)
        .where(InferenceRateLimit.tenant_id == tenant_id)
        .order_by(InferenceRateLimit.created_at, InferenceRateLimit.id)
    )
    rows = list((await session.execute(query)).scalars())
    default = next((row for row in rows if row.subject == DEFAULT_SUBJECT), None)
    return default, [row for row in rows if row.subject != DEFAULT_SUBJECT]


async def _put(
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    subject: str,
    key_id: str | None,
    limits: KeyLimits,
) -> InferenceRateLimit:
    row = await _row(session, tenant_id, subject)
    if row is None:
        row = InferenceRateLimit(tenant_id=tenant_id, subject=subject, key_id=key_id)
        session.add(row)
    row.rpm, row.tpm, row.max_concurrency = limits.rpm, limits.tpm, limits.max_concurrency
    row.updated_by = principal.id
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"{KIND} '{subject}' was changed concurrently; retry") from None
    return row


async def put_default(
    *, session: AsyncSession, principal: Principal, tenant_id: str, limits: KeyLimits
) -> InferenceRateLimit:
    """Set the tenant's default limits (for keys without their own)."""
    await _require_tenant(session, principal, tenant_id, ADMIN)
    return await _put(session, principal, tenant_id, DEFAULT_SUBJECT, None, limits)


async def delete_default(*, session: AsyncSession, principal: Principal, tenant_id: str) -> None:
    """Remove the tenant's default (keys without their own become unlimited); 404 when unset."""
    await _require_tenant(session, principal, tenant_id, ADMIN)
    row = await _row(session, tenant_id, DEFAULT_SUBJECT)
    if row is None:
        raise NotFound.of(KIND, DEFAULT_SUBJECT)
    await session.delete(row)
    await session.commit()


async def put_key(
    *, session: AsyncSession, principal: Principal, tenant_id: str, key_id: str, limits: KeyLimits
) -> InferenceRateLimit:
    """Set one key's limits; 404 when the key is not the tenant's."""
    await _require_tenant(session, principal, tenant_id, ADMIN)
    await _require_key(session, tenant_id, key_id)
    return await _put(session, principal, tenant_id, key_id, key_id, limits)


async def delete_key(*, session: AsyncSession, principal: Principal, tenant_id: str, key_id: str) -> None:
    """Remove one key's limits (it falls back to the default); 404 when it has none."""
    await _require_tenant(session, principal, tenant_id, ADMIN)
    await _require_key(session, tenant_id, key_id)
    row = await _row(session, tenant_id, key_id)
    if row is None:
        raise NotFound.of(KIND, key_id)
    await session.delete(row)
    await session.commit()
