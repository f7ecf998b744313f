"""Fixtures for the engine tests: a tiny model, a running builtin replica, and a fake generator."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from inference.engines.builtin.runtime import GenerationStep
from inference.engines.builtin.sampling import SamplingParams
from tests.inference.fixtures import SERVED_NAME  # noqa: F401 - re-exported for the engine tests


@dataclass
class FakeGenerator:
    """A scripted :class:`TextGenerator`: each generation yields ``pieces`` one token each.

    ``gate``, when set, is waited on after the first piece (to prove streaming is not buffered);
    ``fail_after`` raises after that many pieces; ``cancelled`` records cancellation and ``produced``
    counts the pieces yielded.
    """

    pieces: Sequence[str] = ("Hello", ",", " world", "!")
    finish_reason: str = "stop"
    max_model_len: int = 64
    hidden_size: int = 4
    gate: threading.Event | None = None
    fail_after: int | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    calls: list[tuple[list[int], SamplingParams]] = field(default_factory=list)
    produced: int = 0

    def encode_prompt(self, text: str) -> list[int]:
        return [1, *(ord(c) % 50 for c in text)]

    def encode_chat(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        return self.encode_prompt("".join(f"{m['role']}:{m['content']}" for m in messages))

    def generate(
        self, prompt_ids: Sequence[int], params: SamplingParams, cancel: threading.Event
    ) -> Iterator[GenerationStep]:
        self.calls.append((list(prompt_ids), params))
        pieces = list(self.pieces)[: params.max_tokens]
        try:
            for index, piece in enumerate(pieces):
                if cancel.is_set():
                    return
                if self.fail_after is not None and index == self.fail_after:
                    raise RuntimeError("scripted failure")
                last = index == len(pieces) - 1
                reason = (
                    ("length" if len(pieces) < len(self.pieces) else self.finish_reason) if last else None
                )
                self.produced += 1
                yield GenerationStep(piece, 1, reason)  # type: ignore[arg-type]
                if index == 0 and self.gate is not None:
                    self.gate.wait(timeout=30)
        finally:
            if cancel.is_set():
                self.cancelled.set()

    def embed(self, inputs: Sequence[Sequence[int]]) -> list[list[float]]:
        return [[float(len(ids)), 0.0, 0.0, 0.0] for ids in inputs]


@pytest.fixture
def fake_generator() -> Callable[..., FakeGenerator]:
    """Builder of :class:`FakeGenerator` instances with overridable fields."""
    return FakeGenerator
