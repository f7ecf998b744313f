"""The generation worker: admission limits, live counts, cancellation, error hand-over."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from inference.engines.builtin.errors import OpenAIError
from inference.engines.builtin.worker import GenerationWorker


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``predicate`` from a thread (the worker's counters change on its own threads)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def counting(
    gate: threading.Event, closed: threading.Event, limit: int = 100
) -> Callable[[threading.Event], Iterator[int]]:
    """A producer of 0..limit-1 that waits on ``gate`` after each item and sets ``closed`` when it ends."""

    def produce(cancel: threading.Event) -> Iterator[int]:
        try:
            for i in range(limit):
                if cancel.is_set():
                    return
                yield i
                gate.wait(timeout=10)
        finally:
            closed.set()

    return produce


async def test_stream_yields_items_in_order() -> None:
    worker = GenerationWorker()
    gate = threading.Event()
    gate.set()
    items = [i async for i in await worker.stream(counting(gate, threading.Event(), limit=5))]
    assert items == [0, 1, 2, 3, 4]
    assert (worker.running, worker.waiting) == (0, 0)


async def test_admission_is_bounded_and_counts_are_live() -> None:
    worker = GenerationWorker(max_num_seqs=1, max_waiting=1)
    gate = threading.Event()
    first = await worker.stream(counting(gate, threading.Event(), limit=2))
    second = await worker.stream(counting(gate, threading.Event(), limit=2))
    assert await anext(first) == 0
    assert (worker.running, worker.waiting) == (1, 1)
    with pytest.raises(OpenAIError) as caught:
        await worker.stream(counting(gate, threading.Event()))
    assert caught.value.status_code == 503
    gate.set()
    assert [i async for i in first] == [1]
    assert [i async for i in second] == [0, 1]


async def test_closing_the_stream_early_cancels_the_producer() -> None:
    worker = GenerationWorker()
    gate, closed = threading.Event(), threading.Event()
    stream = await worker.stream(counting(gate, closed))
    assert await anext(stream) == 0
    await stream.aclose()
    gate.set()
    assert await asyncio.to_thread(closed.wait, 10)
    assert await asyncio.to_thread(wait_until, lambda: worker.running == 0)


async def test_producer_errors_reach_the_consumer() -> None:
    def broken(cancel: threading.Event) -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    stream = await GenerationWorker().stream(broken)
    assert await anext(stream) == 1
    with pytest.raises(ValueError, match="boom"):
        await anext(stream)


async def test_call_runs_on_a_worker_thread() -> None:
    worker = GenerationWorker()
    name = await worker.call(lambda: threading.current_thread().name)
    assert name.startswith("builtin-engine")


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"max_num_seqs": 0}, "max_num_seqs"), ({"max_waiting": -1}, "max_waiting")]
)
def test_bad_limits_are_named(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GenerationWorker(**kwargs)
