"""Runs blocking model work on worker threads behind a bounded waiting queue.

``max_num_seqs`` threads each run one request at a time; at most ``max_waiting`` more wait. A
streaming consumer that stops reading (client gone) cancels its generation at the next token.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from inference.engines.builtin.errors import overloaded

T = TypeVar("T")
_END = object()


class GenerationWorker:
    """Thread pool with admission control and live running/waiting counts."""

    def __init__(self, *, max_num_seqs: int = 1, max_waiting: int = 64) -> None:
        if max_num_seqs < 1:
            raise ValueError(f"max_num_seqs must be >= 1, got {max_num_seqs}")
        if max_waiting < 0:
            raise ValueError(f"max_waiting must be >= 0, got {max_waiting}")
        self.max_num_seqs = max_num_seqs
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=max_num_seqs, thread_name_prefix="builtin-engine")
        self._lock = threading.Lock()
        self._running = 0
        self._waiting = 0

    @property
    def running(self) -> int:
        """Requests on a worker thread now."""
        return self._running

    @property
    def waiting(self) -> int:
        """Requests admitted but not yet on a thread."""
        return self._waiting

    def _admit(self) -> None:
        with self._lock:
            if self._running + self._waiting >= self.max_num_seqs + self.max_waiting:
                raise overloaded(self.max_waiting)
            self._waiting += 1

    def _begin(self) -> None:
        with self._lock:
            self._waiting -= 1
            self._running += 1

    def _end(self) -> None:
        with self._lock:
            self._running -= 1

    async def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on a worker thread and return its result; raises ``OpenAIError`` (503) when full."""
        self._admit()

        def job() -> T:
            self._begin()
            try:
                return fn()
            finally:
                self._end()

        return await asyncio.wrap_future(self._executor.submit(job))

    async def stream(self, produce: Callable[[threading.Event], Iterator[T]]) -> AsyncGenerator[T, None]:
        """Run the iterator ``produce(cancel)`` on a worker thread, yielding each item as it comes.

        Admission happens at the call (a full queue raises ``OpenAIError`` 503 before anything is
        yielded). Closing the async iterator early sets ``cancel``.
        """
        self._admit()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed if the consumer is gone
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def job() -> None:
            self._begin()
            try:
                if not cancel.is_set():
                    items = produce(cancel)
                    try:
                        for item in items:
                            put(item)
                            if cancel.is_set():
                                break
                    finally:
                        close = getattr(items, "close", None)
                        if close is not None:
                            close()  # runs the producer's cleanup now, not at garbage collection
            except BaseException as exc:  # handed to the consumer, which re-raises it
                put(exc)
            finally:
                self._end()
                put(_END)

        self._executor.submit(job)
        return self._drain(queue, cancel)

    @staticmethod
    async def _drain(queue: asyncio.Queue[object], cancel: threading.Event) -> AsyncGenerator[T, None]:
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            cancel.set()

    def shutdown(self) -> None:
        """Stop accepting work; running jobs finish, waiting ones are dropped."""
        self._executor.shutdown(wait=False, cancel_futures=True)
