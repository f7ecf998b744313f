"""Database foundation: declarative base, mixins, async engine and session factory.

Every ORM model of every service derives from :class:`Base`, so one Alembic history covers the
whole platform. Tenant-owned tables add :class:`TenantOwnedMixin`; repositories must filter on
``tenant_id`` (see ``services.kernel.tenancy``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, String, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import JSON, TypeDecorator

from services.kernel.randomids import random_hex128

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A new opaque resource id such as ``ten_5f3c...`` (prefix says the resource type).

    The part after the prefix is 128 random bits from the OS's CSPRNG as 32 hex digits
    (:mod:`services.kernel.randomids`; a ``uuid4`` fixes six of the bits and costs four times more).
    """
    return f"{prefix}_{random_hex128()}"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetime column; SQLite returns naive values, which are read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)  # SQLite compares the stored text: every value must be UTC

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    """Declarative base of every STIC table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class IdMixin:
    """String primary key with a per-type prefix, set by the model's ``id_prefix``."""

    id_prefix: str = "res"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id(type(self).id_prefix))
        super().__init__(**kwargs)


class TimestampMixin:
    """``created_at`` / ``updated_at`` maintained by the ORM."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TenantOwnedMixin:
    """Marks a row as owned by a tenant; repositories scope every query by ``tenant_id``."""

    tenant_id: Mapped[str] = mapped_column(String(64), index=True)


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """Build the async engine for ``database_url``; creates the SQLite file's folder if needed."""
    url = make_url(database_url)
    kwargs: dict[str, Any] = {"echo": echo}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _enable_sqlite_pragmas)
    return engine


class Database:
    """An engine plus its session factory; owned by an app's lifespan."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = create_engine(database_url)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """True for SQLite backends (single-writer: callers serialise critical sections)."""
        return self.engine.dialect.name == "sqlite"

    async def session(self) -> AsyncIterator[AsyncSession]:
        """Yield a session; commits on success, rolls back on error (FastAPI dependency shape)."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises if the database is unreachable."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
