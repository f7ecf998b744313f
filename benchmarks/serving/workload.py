"""The synthetic workload: prompts from a fixed-seed vocabulary and Poisson (gamma) arrival times.

Prompts are words drawn from a small fixed vocabulary, so the same seed always gives the same
texts; ``input_len`` counts words, which a byte-level BPE tokenizer turns into roughly as many
tokens (the exact count comes back in each response's ``usage``). Arrivals follow vLLM: gaps are
gamma-distributed with shape ``burstiness`` and mean ``1 / rate`` (burstiness 1 is a Poisson process;
lower is burstier); an infinite rate sends everything at once.
"""

from __future__ import annotations

import math
import random
from typing import Any

_SENTENCE = (
    "the model serves requests over a network and each answer streams back token by token while the "
    "gateway routes traffic between replicas that share one cluster of machines with memory and compute "
    "under load the scheduler places jobs on nodes so that latency stays low and throughput stays high "
    "users send questions about data science systems security storage training inference and evaluation"
)
_VOCABULARY = tuple(_SENTENCE.split())


def make_prompts(count: int, *, input_len: int, seed: int = 0, range_ratio: float = 0.0) -> list[str]:
    """``count`` prompts of about ``input_len`` words each (±``range_ratio``), the same for the same seed."""
    if count < 0 or input_len < 1:
        raise ValueError("count must be >= 0 and input_len >= 1")
    if not 0.0 <= range_ratio < 1.0:
        raise ValueError(f"range_ratio must be within [0, 1), got {range_ratio}")
    rng = random.Random(seed)
    low = max(1, math.floor(input_len * (1 - range_ratio)))
    high = max(low, math.ceil(input_len * (1 + range_ratio)))
    prompts = []
    for index in range(count):
        words = [rng.choice(_VOCABULARY) for _ in range(rng.randint(low, high))]
        # A distinct leading number keeps prefix caches from collapsing all prompts into one.
        prompts.append(f"{index}: " + " ".join(words))
    return prompts


def chat_body(
    prompt: str, *, model: str, max_tokens: int, ignore_eos: bool, stream: bool = True
) -> dict[str, Any]:
    """A chat-completions request body for ``prompt`` with a fixed output length.

    Streaming bodies ask for the final usage chunk (``stream_options.include_usage``); ``ignore_eos``
    (vLLM's extension) is added only when the upstream accepts it.
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    if ignore_eos:
        body["ignore_eos"] = True
    return body


def arrival_offsets(count: int, *, rate: float, burstiness: float = 1.0, seed: int = 0) -> list[float]:
    """Send times in seconds from the start for ``count`` requests at ``rate`` requests per second.

    Gaps are gamma(shape=burstiness, scale=1/(rate*burstiness)); ``rate=inf`` gives all zeros. The
    first request goes at its first gap, as in vLLM.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not rate > 0:
        raise ValueError(f"rate must be positive, got {rate}")
    if not burstiness > 0:
        raise ValueError(f"burstiness must be positive, got {burstiness}")
    if math.isinf(rate):
        return [0.0] * count
    rng = random.Random(seed)
    offsets, now = [], 0.0
    for _ in range(count):
        now += rng.gammavariate(burstiness, 1.0 / (rate * burstiness))
        offsets.append(now)
    return offsets
