"""Cursor pagination in the OpenAI style: newest first, ``after`` = the last id already seen."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from services.kernel.errors import BadRequest

M = TypeVar("M")


async def cursor_page(
    session: AsyncSession, query: Select[Any], model: Any, *, after: str | None, limit: int
) -> tuple[list[Any], bool]:
    """Up to ``limit`` rows of ``query`` after the row ``after`` (newest first); (rows, has_more)."""
    if after is not None:
        anchor = (await session.execute(query.where(model.id == after))).scalar_one_or_none()
        if anchor is None:
            raise BadRequest(f"after: no item '{after}' in this list", detail={"param": "after"})
        query = query.where(
            or_(
                model.created_at < anchor.created_at,
                and_(model.created_at == anchor.created_at, model.id < anchor.id),
            )
        )
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    rows = list((await session.execute(query)).scalars())
    return rows[:limit], len(rows) > limit
