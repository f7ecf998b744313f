"""Tables of the tamper-evident audit log. All three are append-only.

- ``audit_log_entries``: one row per leaf. ``entry`` holds the exact canonical-JSON bytes that
  are hashed (``leaf_hash = SM3(0x00 ‖ entry)``), stored as binary so no byte can be lost to a
  text decoding; the other columns are a query projection of it, which ``verify`` cross-checks.
- ``audit_log_nodes``: interior nodes at levels 8, 16, 24, ... (256-ary "tiles"), written in the
  same transaction as the leaves that complete them, so proofs read O(log n) small ranges
  instead of rehashing whole subtrees.
- ``audit_log_checkpoints``: SM2-signed checkpoints (signed-note text) at intervals.

On PostgreSQL a trigger rejects ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on all three tables; on
SQLite triggers reject ``UPDATE`` and ``DELETE``. They are created by ``after_create`` DDL
listeners on each table, so ``metadata.create_all`` installs them; an Alembic migration that
creates the tables with ``op.create_table`` must ``op.execute`` each statement of
:func:`append_only_sql` for its dialect.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, BigInteger, Index, LargeBinary, SmallInteger, String, Table, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from services.kernel.db import Base

ENTRIES_TABLE = "audit_log_entries"
NODES_TABLE = "audit_log_nodes"
CHECKPOINTS_TABLE = "audit_log_checkpoints"
APPEND_ONLY_TABLES = (ENTRIES_TABLE, NODES_TABLE, CHECKPOINTS_TABLE)


class AuditLogEntry(Base):
    """One leaf of the log; ``idx`` is the leaf index (dense from 0)."""

    __tablename__ = ENTRIES_TABLE

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    integrated_at: Mapped[datetime]
    event_time: Mapped[datetime]
    category: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    principal_id: Mapped[str | None] = mapped_column(String(64))
    tool: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_audit_log_entries_tenant_idx", "tenant_id", "idx"),
        Index("ix_audit_log_entries_category_idx", "category", "idx"),
        Index("ix_audit_log_entries_event_time", "event_time"),
    )


class AuditLogNode(Base):
    """A stored interior node: the root of the perfect subtree ``(level, idx)``."""

    __tablename__ = NODES_TABLE

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditLogCheckpoint(Base):
    """A signed checkpoint of the tree at ``size`` leaves."""

    __tablename__ = CHECKPOINTS_TABLE

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[datetime]
    key_name: Mapped[str] = mapped_column(String(200))
    key_fingerprint: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(Text)


POSTGRES_APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION stic_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'table % is append-only: % rejected', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def postgres_trigger_sql(table: str) -> list[str]:
    """Statements that make ``table`` append-only on PostgreSQL (row and TRUNCATE triggers)."""
    return [
        POSTGRES_APPEND_ONLY_FUNCTION,
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION stic_audit_append_only()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION stic_audit_append_only()",
    ]


def _install_trigger(table: Table) -> None:
    for statement in postgres_trigger_sql(table.name):
        # DDL() applies %-formatting to its text; the PL/pgSQL placeholders must survive it.
        ddl = DDL(statement.replace("%", "%%")).execute_if(dialect="postgresql")
        event.listen(table, "after_create", ddl)


for _model in (AuditLogEntry, AuditLogNode, AuditLogCheckpoint):
    _install_trigger(_model.__table__)  # type: ignore[arg-type]


def sqlite_trigger_sql(table: str) -> list[str]:
    """Statements that make ``table`` append-only on SQLite (defence in depth: whoever can write
    the database file can drop them, which is why ``stic audit verify`` exists)."""
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: UPDATE rejected'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: DELETE rejected'); END",
    ]


for _model in (AuditLogEntry, AuditLogNode, AuditLogCheckpoint):
    for _statement in sqlite_trigger_sql(_model.__tablename__):
        event.listen(_model.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))


def append_only_sql(dialect: str) -> list[str]:
    """Every statement a migration must run after creating the three tables on ``dialect``."""
    build = {"postgresql": postgres_trigger_sql, "sqlite": sqlite_trigger_sql}.get(dialect)
    if build is None:
        raise ValueError(f"no append-only triggers defined for dialect {dialect!r}")
    return [statement for table in APPEND_ONLY_TABLES for statement in build(table)]
