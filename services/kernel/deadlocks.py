"""Retrying a write that PostgreSQL aborted as one side of a deadlock.

A statement that cascades over many tables (deleting a tenant removes rows in every service's
tables) can deadlock with a background loop that updates some of those rows in another order.
PostgreSQL then aborts one of the two (SQLSTATE ``40P01``); the loser may simply run again once
the other has committed. :func:`flush_retrying_deadlocks` runs the change inside a savepoint so
that only the change is undone and retried, not the caller's whole transaction. SQLite never
deadlocks (one writer at a time), so there the change runs once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

DEADLOCK_SQLSTATE = "40P01"


def is_deadlock(error: BaseException) -> bool:
    """Whether ``error`` is PostgreSQL's "deadlock detected" (SQLSTATE 40P01) through any driver."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code == DEADLOCK_SQLSTATE


async def flush_retrying_deadlocks(
    session: AsyncSession,
    change: Callable[[], object],
    *,
    attempts: int = 5,
    backoff_s: float = 0.05,
) -> None:
    """Apply ``change`` to ``session`` and flush it, retrying up to ``attempts`` times on a deadlock.

    ``change`` is called once per attempt inside a savepoint (it must be safe to repeat, e.g.
    ``lambda: session.delete(row)``); a deadlock rolls the savepoint back and waits a jittered,
    growing pause before the next try. Any other error, or a deadlock on the last attempt,
    propagates unchanged.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with session.begin_nested():
                outcome = change()
                if asyncio.iscoroutine(outcome):
                    await outcome
                await session.flush()
            return
        except DBAPIError as error:
            if attempt == attempts or not is_deadlock(error):
                raise
        await asyncio.sleep(backoff_s * attempt * (0.5 + random.random()))
