"""The model runtime: a transformers causal LM on CPU, generating one token at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, PreTrainedTokenizerBase

from inference.engines.builtin.sampling import IncrementalDetokenizer, SamplingParams, sample_next

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class GenerationStep:
    """One step of a generation: text safe to send (maybe empty), tokens it consumed, and how it ended
    (``None`` while it goes on)."""

    text: str
    tokens: int
    finish_reason: FinishReason | None = None


class TextGenerator(Protocol):
    """What the serving layer needs from a model; the seam for fakes in tests.

    ``generate`` and ``embed`` are blocking and are called from worker threads.
    """

    max_model_len: int
    hidden_size: int

    def encode_prompt(self, text: str) -> list[int]:
        """Token ids of a plain prompt (with BOS, as the tokenizer adds it)."""
        ...

    def encode_chat(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        """Token ids of a conversation rendered by the chat template, ready for the assistant's turn."""
        ...

    def generate(
        self, prompt_ids: Sequence[int], params: SamplingParams, cancel: threading.Event
    ) -> Iterator[GenerationStep]:
        """Yield steps until a stop token, a stop string, ``max_tokens`` or ``cancel`` is set.

        The last step has a ``finish_reason`` unless the generation was cancelled.
        """
        ...

    def embed(self, inputs: Sequence[Sequence[int]]) -> list[list[float]]:
        """One L2-normalised, mean-pooled last-hidden-state vector per input."""
        ...


class TransformersRuntime:
    """A :class:`TextGenerator` over a local transformers model directory, on CPU in float32."""

    def __init__(self, model_dir: Path, *, threads: int | None = None) -> None:
        """Load the model and tokenizer from ``model_dir``; ``threads`` sets torch's intra-op threads.

        Raises ``FileNotFoundError`` when ``model_dir`` has no ``config.json``.
        """
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir} holds no config.json: not a transformers model directory")
        if threads is not None:
            torch.set_num_threads(threads)
        self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        config = self.model.config
        self.max_model_len = int(getattr(config, "max_position_embeddings", 2048))
        self.hidden_size = int(config.hidden_size)
        self.stop_token_ids = self._stop_ids(model_dir)

    def _stop_ids(self, model_dir: Path) -> frozenset[int]:
        ids: set[int] = set()
        eos = (
            GenerationConfig.from_pretrained(model_dir).eos_token_id
            if (model_dir / "generation_config.json").is_file()
            else self.model.config.eos_token_id
        )
        if isinstance(eos, int):
            ids.add(eos)
        elif eos:
            ids.update(int(i) for i in eos)
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return frozenset(ids)

    def encode_prompt(self, text: str) -> list[int]:
        """Token ids of ``text`` with the tokenizer's special tokens (BOS)."""
        return list(self.tokenizer(text)["input_ids"])

    def encode_chat(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        """Token ids of ``messages`` through the chat template, with the assistant prompt appended."""
        rendered = self.tokenizer.apply_chat_template(
            [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
        )
        return list(self.tokenizer(str(rendered), add_special_tokens=False)["input_ids"])

    def _decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    @torch.inference_mode()
    def generate(
        self, prompt_ids: Sequence[int], params: SamplingParams, cancel: threading.Event
    ) -> Iterator[GenerationStep]:
        """Sample with a KV cache, one forward pass per token; see :class:`TextGenerator`."""
        generator = params.generator()
        detokenizer = IncrementalDetokenizer(self._decode, stop=params.stop)
        output = self.model(input_ids=torch.tensor([list(prompt_ids)]), use_cache=True)
        for produced in range(1, params.max_tokens + 1):
            if cancel.is_set():
                return
            token = sample_next(output.logits[0, -1], params, generator)
            if token in self.stop_token_ids:
                yield GenerationStep(detokenizer.flush(), 1, "stop")
                return
            text, matched_stop = detokenizer.add(token)
            if matched_stop:
                yield GenerationStep(text, 1, "stop")
                return
            if produced == params.max_tokens:
                yield GenerationStep(text + detokenizer.flush(), 1, "length")
                return
            yield GenerationStep(text, 1)
            output = self.model(input_ids=torch.tensor([[token]]), cache=output.cache, use_cache=True)

    @torch.inference_mode()
    def embed(self, inputs: Sequence[Sequence[int]]) -> list[list[float]]:
        """Mean-pool the last hidden states of each input and L2-normalise; see :class:`TextGenerator`."""
        vectors: list[list[float]] = []
        for ids in inputs:
            hidden = self.model.model(input_ids=torch.tensor([list(ids)])).last_hidden_state[0]
            pooled = torch.nn.functional.normalize(hidden.mean(dim=0), dim=0)
            vectors.append([float(x) for x in pooled])
        return vectors
