"""Offset pagination and simple equality filters shared by every list endpoint."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


class PageParams(BaseModel):
    """``?limit=&offset=`` with bounds (limit 1–500, default 50)."""

    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=10_000_000)


def _page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(_page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` plus the ``total`` matching the filters."""

    items: list[T]
    total: int
    limit: int
    offset: int


async def paginate(session: AsyncSession, query: Select[Any], params: PageParams) -> tuple[list[Any], int]:
    """Run ``query`` for one page; returns (rows, total count of the unpaged query)."""
    total = (
        await session.execute(select(func.count()).select_from(query.order_by(None).subquery()))
    ).scalar_one()
    rows = (await session.execute(query.limit(params.limit).offset(params.offset))).scalars().all()
    return list(rows), int(total)


def apply_filters(query: Select[Any], model: Any, filters: dict[str, Any]) -> Select[Any]:
    """Add ``model.<name> == value`` for every filter whose value is not None."""
    for name, value in filters.items():
        if value is not None:
            query = query.where(getattr(model, name) == value)
    return query


def page_of(items: list[Any], total: int, params: PageParams) -> dict[str, Any]:
    """The response body of a list endpoint, to be validated as ``Page[...]``."""
    return {"items": items, "total": total, "limit": params.limit, "offset": params.offset}
