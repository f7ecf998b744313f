"""One lookup per key at a time: concurrent callers asking for the same key share its result.

The gateway's caches (principals, rate limits, safety packs) expire every few seconds; at a
thousand requests a second every request in flight would otherwise miss together and each
query the database. A caller that is cancelled while others wait on its lookup does not fail
them: the next waiter runs the lookup itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Runs ``lookup()`` once per key among concurrent callers of :meth:`run`."""

    def __init__(self) -> None:
        self._pending: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, lookup: Callable[[], Awaitable[V]]) -> V:
        """``await lookup()``, or the result (or exception) of the same key's lookup in flight."""
        while (pending := self._pending.get(key)) is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if pending.cancelled() and task is not None and not task.cancelling():
                    continue  # the caller running the lookup left: run it here
                raise
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await lookup()
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no warning when nobody else waited
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(value)
        return value
