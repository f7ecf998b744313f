"""The shape and training recipe of the project's tiny Llama model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

MIN_HEAD_DIM = 32  # vLLM's CPU attention kernel rejects head_dim 16; 32 and up work.


class TinyModelSpecError(ValueError):
    """A tiny-model spec whose numbers cannot build a model that vLLM and transformers both load."""


@dataclass(frozen=True, kw_only=True)
class TinyLlamaSpec:
    """Every number that decides the built model; two equal specs on the same corpus build equal weights.

    ``vocab_size`` is an upper bound: the BPE trainer stops earlier when the corpus has no more merges,
    and the model is sized to the tokenizer actually trained. ``train_steps=0`` skips training and
    leaves the seeded random initialisation (pure noise outputs, but a valid model).
    """

    seed: int = 0
    vocab_size: int = 2048
    hidden: int = 128
    heads: int = 2
    kv_heads: int | None = None
    layers: int = 2
    intermediate: int = 256
    max_position_embeddings: int = 512
    train_steps: int = 200
    seq_len: int = 64
    batch_size: int = 8
    learning_rate: float = 3e-3

    def __post_init__(self) -> None:
        positive = {
            "vocab_size": self.vocab_size,
            "hidden": self.hidden,
            "heads": self.heads,
            "layers": self.layers,
            "intermediate": self.intermediate,
            "max_position_embeddings": self.max_position_embeddings,
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
        }
        for name, value in positive.items():
            if value <= 0:
                raise TinyModelSpecError(f"{name} must be positive, got {value}")
        if self.train_steps < 0:
            raise TinyModelSpecError(f"train_steps must be >= 0, got {self.train_steps}")
        if self.learning_rate <= 0:
            raise TinyModelSpecError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.vocab_size < 300:
            raise TinyModelSpecError(
                f"vocab_size must be >= 300 (256 byte symbols plus special tokens), got {self.vocab_size}"
            )
        if self.hidden % self.heads:
            raise TinyModelSpecError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")
        if self.head_dim < MIN_HEAD_DIM:
            raise TinyModelSpecError(
                f"head_dim = hidden/heads = {self.head_dim} is below {MIN_HEAD_DIM}; "
                "vLLM's CPU attention kernel rejects it"
            )
        if self.heads % self.key_value_heads:
            raise TinyModelSpecError(
                f"heads ({self.heads}) must be a multiple of kv_heads ({self.key_value_heads})"
            )
        if self.seq_len >= self.max_position_embeddings:
            raise TinyModelSpecError(
                f"seq_len ({self.seq_len}) must be below max_position_embeddings "
                f"({self.max_position_embeddings})"
            )

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads

    @property
    def key_value_heads(self) -> int:
        """Number of key/value heads (equal to ``heads`` unless grouped-query attention is asked for)."""
        return self.kv_heads if self.kv_heads is not None else self.heads

    def cache_key(self, *, corpus_digest: str) -> str:
        """SHA-256 over this spec and the corpus digest: equal keys mean an equal build."""
        payload = json.dumps({"spec": asdict(self), "corpus": corpus_digest}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()
