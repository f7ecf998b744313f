"""A short, seeded language-model training loop so the tiny model's outputs are not pure noise."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from transformers import LlamaForCausalLM

StepCallback = Callable[[int, int, float], None]
"""Called after each step with (step, total_steps, loss)."""


def train_causal_lm(
    *,
    model: LlamaForCausalLM,
    token_stream: Sequence[int],
    steps: int,
    seq_len: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    on_step: StepCallback | None = None,
) -> float | None:
    """Train ``model`` in place on random windows of ``token_stream``; return the last loss.

    Windows are drawn with a generator seeded by ``seed`` and the loop runs on one intra-op thread
    (reduction order then does not depend on the core count), so equal inputs give equal weights.
    One thread is also the fastest here: two threads on a busy 2-core machine ran 9x slower.
    Returns ``None`` when ``steps`` is 0. Raises ``ValueError`` when the stream is shorter than one
    window.
    """
    if steps == 0:
        return None
    if len(token_stream) <= seq_len:
        raise ValueError(f"token stream of {len(token_stream)} tokens is too short for seq_len {seq_len}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(
            model=model,
            data=torch.tensor(token_stream, dtype=torch.long),
            steps=steps,
            seq_len=seq_len,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            on_step=on_step,
        )
    finally:
        torch.set_num_threads(threads)


def _train(
    *,
    model: LlamaForCausalLM,
    data: torch.Tensor,
    steps: int,
    seq_len: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    on_step: StepCallback | None,
) -> float:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / steps)
    offsets = torch.arange(seq_len)
    model.train()
    loss_value = 0.0
    for step in range(1, steps + 1):
        starts = torch.randint(0, len(data) - seq_len, (batch_size,), generator=generator)
        windows = data[starts[:, None] + offsets]
        loss = model(input_ids=windows, labels=windows).loss  # the model shifts labels itself
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        loss_value = float(loss.detach())
        if on_step is not None:
            on_step(step, steps, loss_value)
    model.eval()
    return loss_value
