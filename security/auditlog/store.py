"""Reads over the audit-log tables: tree state, subtree hashes, proofs, entries, checkpoints.

Every function takes an explicit session and only reads committed rows, so a proof is always
for a durable prefix of the log. Writes happen in :mod:`security.auditlog.log` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from security.auditlog import merkle
from security.auditlog.models import AuditLogCheckpoint, AuditLogEntry, AuditLogNode

TILE_HEIGHT = 8
"""Interior nodes are stored at levels that are multiples of this (256-leaf tiles)."""


class LogIntegrityError(RuntimeError):
    """Stored data needed for a proof is missing; the log needs ``stic audit verify``."""


def is_stored_level(level: int) -> bool:
    """True for the interior levels that :class:`AuditLogNode` keeps."""
    return level > 0 and level % TILE_HEIGHT == 0


def _fold_perfect(hashes: Sequence[bytes]) -> bytes:
    row = list(hashes)
    while len(row) > 1:
        row = [merkle.node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


async def tree_size(session: AsyncSession) -> int:
    """Number of leaves committed (``max(idx) + 1``; gaps are a matter for ``verify``)."""
    top = await session.scalar(select(func.max(AuditLogEntry.idx)))
    return 0 if top is None else top + 1


async def _base_rows(session: AsyncSession, level: int, ranges: list[tuple[int, int]]) -> dict[int, bytes]:
    """Stored hashes at ``level`` (0 = leaves) for every index in ``ranges``, in one query."""
    if level == 0:
        index, value = AuditLogEntry.idx, AuditLogEntry.leaf_hash
        scope = []
    else:
        index, value = AuditLogNode.idx, AuditLogNode.hash
        scope = [AuditLogNode.level == level]
    spans = [and_(index >= start, index < end) for start, end in ranges]
    rows = (await session.execute(select(index, value).where(*scope, or_(*spans)))).all()
    return {int(i): bytes(h) for i, h in rows}


def _base_of(subtree: merkle.Subtree) -> tuple[int, int, int]:
    """``(base level, first, end)``: the stored hashes a perfect subtree is folded from."""
    level, index = subtree
    if level == 0 or is_stored_level(level):
        return level, index, index + 1
    base = level - level % TILE_HEIGHT
    width = 1 << (level - base)
    return base, index * width, (index + 1) * width


async def subtree_hashes(
    session: AsyncSession, subtrees: Iterable[merkle.Subtree]
) -> dict[merkle.Subtree, bytes]:
    """Hashes of the given perfect subtrees, from leaf hashes and the stored tile nodes.

    A subtree at a stored level is one row; any other is folded from at most 128 rows of the
    stored level below it. One query per stored level involved (typically two or three).
    Raises :class:`LogIntegrityError` if a needed row is missing.
    """
    wanted = {subtree: _base_of(subtree) for subtree in set(subtrees)}
    by_level: dict[int, list[tuple[int, int]]] = {}
    for base, start, end in wanted.values():
        by_level.setdefault(base, []).append((start, end))
    stored = {level: await _base_rows(session, level, ranges) for level, ranges in by_level.items()}
    result: dict[merkle.Subtree, bytes] = {}
    for subtree, (base, start, end) in wanted.items():
        try:
            hashes = [stored[base][i] for i in range(start, end)]
        except KeyError as exc:
            raise LogIntegrityError(
                f"stored hash at level {base}, index {exc.args[0]} (needed for subtree {subtree}) is missing"
            ) from None
        result[subtree] = _fold_perfect(hashes)
    return result


async def load_tree(session: AsyncSession) -> merkle.CompactTree:
    """The compact tree of everything committed, rebuilt from O(log n) stored hashes."""
    size = await tree_size(session)
    pieces = merkle.frontier_subtrees(size)
    hashes = await subtree_hashes(session, pieces)
    return merkle.CompactTree(size=size, frontier=[hashes[p] for p in pieces])


async def root_at(session: AsyncSession, *, size: int) -> bytes:
    """MTH of the first ``size`` leaves."""
    if size == 0:
        return merkle.empty_root()
    pieces = merkle.frontier_subtrees(size)
    hashes = await subtree_hashes(session, pieces)
    return merkle.range_hash([hashes[p] for p in pieces])


async def _proof(session: AsyncSession, ranges: list[merkle.LeafRange]) -> list[bytes]:
    return merkle.assemble_proof(ranges, await subtree_hashes(session, merkle.subtrees_needed(ranges)))


async def inclusion_proof(session: AsyncSession, *, index: int, size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    return await _proof(session, merkle.inclusion_proof_ranges(index, size))


async def consistency_proof(session: AsyncSession, *, old_size: int, new_size: int) -> list[bytes]:
    """RFC 9162 consistency proof between tree sizes ``old_size`` and ``new_size``."""
    return await _proof(session, merkle.consistency_proof_ranges(old_size, new_size))


async def get_entry(session: AsyncSession, *, index: int) -> AuditLogEntry | None:
    """The leaf row at ``index``, or None."""
    return await session.get(AuditLogEntry, index)


async def latest_checkpoint(session: AsyncSession) -> AuditLogCheckpoint | None:
    """The checkpoint with the largest size, or None before the first one."""
    stmt = select(AuditLogCheckpoint).order_by(AuditLogCheckpoint.size.desc()).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def checkpoint_at(session: AsyncSession, *, size: int) -> AuditLogCheckpoint | None:
    """The checkpoint of exactly ``size`` leaves, or None."""
    return await session.get(AuditLogCheckpoint, size)


async def query_entries(
    session: AsyncSession,
    *,
    tenant_id: str | None,
    category: str | None = None,
    action: str | None = None,
    principal_id: str | None = None,
    tool: str | None = None,
    decision: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_index: int | None = None,
    limit: int = 100,
) -> list[AuditLogEntry]:
    """Entries in index order matching every given filter.

    ``tenant_id=None`` means *all tenants* (callers decide whether the principal may do that);
    pass a tenant id to scope the query. Keyset pagination: pass the last index seen.
    """
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit must be within 1..1000, got {limit}")
    conditions: list[ColumnElement[bool]] = []
    equalities = {
        AuditLogEntry.tenant_id: tenant_id,
        AuditLogEntry.category: category,
        AuditLogEntry.action: action,
        AuditLogEntry.principal_id: principal_id,
        AuditLogEntry.tool: tool,
        AuditLogEntry.decision: decision,
    }
    conditions.extend(column == value for column, value in equalities.items() if value is not None)
    if since is not None:
        conditions.append(AuditLogEntry.event_time >= since)
    if until is not None:
        conditions.append(AuditLogEntry.event_time < until)
    if after_index is not None:
        conditions.append(AuditLogEntry.idx > after_index)
    stmt = select(AuditLogEntry).where(*conditions).order_by(AuditLogEntry.idx).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def checkpoints(
    session: AsyncSession, *, after_size: int | None = None, limit: int = 100
) -> list[AuditLogCheckpoint]:
    """Checkpoints in size order (keyset pagination on ``size``)."""
    stmt = select(AuditLogCheckpoint).order_by(AuditLogCheckpoint.size).limit(limit)
    if after_size is not None:
        stmt = stmt.where(AuditLogCheckpoint.size > after_size)
    return list((await session.execute(stmt)).scalars())


__all__ = [
    "TILE_HEIGHT",
    "LogIntegrityError",
    "checkpoint_at",
    "checkpoints",
    "consistency_proof",
    "get_entry",
    "inclusion_proof",
    "is_stored_level",
    "latest_checkpoint",
    "load_tree",
    "query_entries",
    "root_at",
    "subtree_hashes",
    "tree_size",
]
