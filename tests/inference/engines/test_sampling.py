"""Sampling and incremental detokenization (byte-level pieces, stop strings, hold-back)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

from inference.engines.builtin.sampling import IncrementalDetokenizer, SamplingParams, sample_next

# A byte-level "vocabulary": token i is the i-th byte string, so a CJK character can span tokens.
PIECES = [b"He", b"llo", b" wor", b"ld", "云".encode()[:2], "云".encode()[2:], b"<", b"STOP", b">", b"!"]


def decode(ids: Sequence[int]) -> str:
    return b"".join(PIECES[i] for i in ids).decode("utf-8", errors="replace")


def run(ids: Sequence[int], stop: Sequence[str] = ()) -> tuple[list[str], bool, str]:
    detok = IncrementalDetokenizer(decode, stop=stop)
    deltas: list[str] = []
    for token in ids:
        delta, stopped = detok.add(token)
        deltas.append(delta)
        if stopped:
            return deltas, True, ""
    return deltas, False, detok.flush()


@pytest.mark.parametrize(
    ("ids", "stop", "deltas", "stopped", "rest"),
    [
        ([0, 1, 2, 3], (), ["He", "llo", " wor", "ld"], False, ""),
        ([4, 5, 9], (), ["", "云", "!"], False, ""),  # never half a character
        # The last len(stop)-1 characters wait until they cannot start a stop string.
        ([0, 1, 6, 7, 8, 9], ("<STOP>",), ["", "", "H", "ello", ""], True, ""),  # stop text dropped
        ([0, 1, 6, 7], ("<STOP>",), ["", "", "H", "ello"], False, "<STOP"),  # held back, released at flush
        ([0, 1, 2], ("llo w",), ["", "H", "e"], True, ""),  # stop spans tokens
    ],
    ids=["plain", "utf8-split", "stop-string", "holdback", "stop-across-tokens"],
)
def test_detokenizer(
    ids: list[int], stop: tuple[str, ...], deltas: list[str], stopped: bool, rest: str
) -> None:
    assert run(ids, stop) == (deltas, stopped, rest)


def test_greedy_and_top_k_one_pick_the_argmax() -> None:
    logits = torch.tensor([0.1, 3.0, 0.2, 2.9])
    generator = torch.Generator().manual_seed(0)
    assert sample_next(logits, SamplingParams(max_tokens=1, temperature=0), generator) == 1
    assert sample_next(logits, SamplingParams(max_tokens=1, temperature=1.5, top_k=1), generator) == 1


def test_top_p_keeps_only_the_nucleus() -> None:
    logits = torch.tensor([5.0, 4.9, -5.0, -5.0])
    params = SamplingParams(max_tokens=1, temperature=1.0, top_p=0.9, seed=1)
    picks = {sample_next(logits, params, params.generator()) for _ in range(1)}
    generator = params.generator()
    picks |= {sample_next(logits, params, generator) for _ in range(200)}
    assert picks == {0, 1}


def test_a_seed_makes_sampling_reproducible() -> None:
    logits = torch.randn(500, generator=torch.Generator().manual_seed(3))
    params = SamplingParams(max_tokens=1, temperature=1.0, seed=42)
    first, second = params.generator(), params.generator()
    assert [sample_next(logits, params, first) for _ in range(20)] == [
        sample_next(logits, params, second) for _ in range(20)
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 1, "temperature": -0.1}, "temperature"),
        ({"max_tokens": 1, "top_p": 0}, "top_p"),
        ({"max_tokens": 1, "top_k": -1}, "top_k"),
    ],
)
def test_bad_sampling_params_are_named(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SamplingParams(**kwargs)  # type: ignore[arg-type]
