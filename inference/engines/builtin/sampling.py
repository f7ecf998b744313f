"""Sampling parameters, next-token sampling, and incremental detokenization with stop strings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True, kw_only=True)
class SamplingParams:
    """How to pick tokens. ``temperature == 0`` is greedy; ``seed`` makes sampling reproducible."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")

    def generator(self) -> torch.Generator:
        """A torch RNG seeded by ``seed`` (or from OS entropy when ``seed`` is ``None``)."""
        generator = torch.Generator()
        if self.seed is None:
            generator.seed()
        else:
            generator.manual_seed(self.seed)
        return generator


def sample_next(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """Pick the next token id from a 1-D ``logits`` vector under ``params``."""
    if params.temperature == 0:
        return int(torch.argmax(logits))
    scaled = logits.float() / params.temperature
    if params.top_k:
        kth = torch.topk(scaled, min(params.top_k, scaled.numel())).values[-1]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(scaled, dim=-1)
    if params.top_p < 1:
        sorted_probs, order = torch.sort(probs, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
        drop = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= params.top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        return int(order[torch.multinomial(sorted_probs, 1, generator=generator)])
    return int(torch.multinomial(probs, 1, generator=generator))


class IncrementalDetokenizer:
    """Turns token ids, one at a time, into text deltas that are safe to send.

    A delta never ends inside a UTF-8 character (byte-level BPE splits CJK characters across tokens)
    and never contains a stop string or a prefix of one that could still complete; the text of a
    matched stop string is dropped, as in the OpenAI API.
    """

    def __init__(self, decode: Callable[[Sequence[int]], str], *, stop: Sequence[str] = ()) -> None:
        self._decode = decode
        self._stop = tuple(s for s in stop if s)
        self._holdback = max((len(s) for s in self._stop), default=1) - 1
        self._ids: list[int] = []
        self._emitted = 0

    def add(self, token_id: int) -> tuple[str, bool]:
        """Append a token; return (text now safe to send, whether a stop string was matched)."""
        self._ids.append(token_id)
        text = self._decode(self._ids)
        hits = [i for i in (text.find(s, self._emitted) for s in self._stop) if i >= 0]
        if hits:
            end = min(hits)
            delta = text[self._emitted : end]
            self._emitted = end
            return delta, True
        if text.endswith("\ufffd"):
            return "", False
        safe_end = len(text) - self._holdback
        if safe_end <= self._emitted:
            return "", False
        delta = text[self._emitted : safe_end]
        self._emitted = safe_end
        return delta, False

    def flush(self) -> str:
        """The text held back so far (call once the generation ends without a stop string)."""
        text = self._decode(self._ids)
        delta = text[self._emitted :]
        self._emitted = len(text)
        return delta
