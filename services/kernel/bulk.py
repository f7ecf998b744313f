"""Inserting many plain rows at once, below SQLAlchemy's per-row parameter machinery on SQLite.

Core's ``executemany`` spends ~20 µs per row on building and processing parameters, more than
SQLite itself needs to store a small row. :func:`insert_rows` encodes each value with its column's
own bind processor (what Core would apply: JSON text, UTC datetimes, booleans as integers) and
hands the tuples to the driver in one ``executemany``, so the stored values are the same. Other
databases go through Core's ``executemany`` (asyncpg batches it natively).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

_Processor = Callable[[Any], Any] | None


@lru_cache(maxsize=64)
def _prepared(table: Table, columns: tuple[str, ...], dialect: Dialect) -> tuple[str, tuple[_Processor, ...]]:
    """The driver-level INSERT for ``columns`` and each column's bind processor (None: as is)."""
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) VALUES ({placeholders})"
    processors = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns)
    return sql, processors


async def insert_rows(
    target: AsyncConnection | AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert ``rows`` in one ``executemany`` in ``target``'s transaction (the caller commits).

    Every row must have exactly the keys of the first one (a column left out takes no default
    here: give every column). Raises ``ValueError`` for rows with other keys, and the driver's
    error (wrapped by SQLAlchemy) for a row the database refuses.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    values = [_values(row, columns) for row in rows]
    connection = target if isinstance(target, AsyncConnection) else await target.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
        await connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in values])
        return
    sql, processors = _prepared(table, columns, dialect)
    parameters = [
        tuple(
            value if process is None else process(value)
            for process, value in zip(processors, row, strict=True)
        )
        for row in values
    ]
    await connection.exec_driver_sql(sql, parameters)


def _values(row: Mapping[str, Any], columns: tuple[str, ...]) -> list[Any]:
    if len(row) != len(columns):
        raise ValueError(f"every row must have the columns {list(columns)}; got {sorted(row)}")
    try:
        return [row[name] for name in columns]
    except KeyError as exc:
        raise ValueError(f"every row must have the columns {list(columns)}; one lacks {exc}") from None
