"""The tiny model builds deterministically, caches, and loads with transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from inference.tinymodel.builder import MANIFEST, BuildResult, TinyModelDirError, build_tiny_llama
from inference.tinymodel.spec import TinyLlamaSpec, TinyModelSpecError


def fast_build(path: Path, *, seed: int = 0) -> BuildResult:
    """A build small enough for unit tests (3 training steps, 512-entry vocabulary)."""
    return build_tiny_llama(path, seed=seed, train_steps=3, vocab_size=512)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "model"
    fast_build(path)
    return path


def test_same_spec_builds_identical_files(built: Path, tmp_path: Path) -> None:
    again = fast_build(tmp_path / "again")
    first = json.loads((built / MANIFEST).read_text())
    assert again.weights_sha256 == first["weights_sha256"]
    for name in ("tokenizer.json", "config.json", "generation_config.json", "model.safetensors"):
        assert (built / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


def test_another_seed_gives_other_weights(built: Path, tmp_path: Path) -> None:
    other = fast_build(tmp_path / "other", seed=1)
    assert other.weights_sha256 != json.loads((built / MANIFEST).read_text())["weights_sha256"]


def test_rebuilding_the_same_spec_is_a_no_op(built: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in built.iterdir()}
    result = fast_build(built)
    assert result.cached
    assert {p.name: p.stat().st_mtime_ns for p in built.iterdir()} == before


def test_a_different_spec_replaces_an_earlier_build(tmp_path: Path) -> None:
    build_tiny_llama(tmp_path / "m", train_steps=0, vocab_size=512)
    result = build_tiny_llama(tmp_path / "m", train_steps=2, vocab_size=512)
    assert not result.cached
    assert json.loads((tmp_path / "m" / MANIFEST).read_text())["spec"]["train_steps"] == 2


def test_a_foreign_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(TinyModelDirError, match="refusing to overwrite"):
        fast_build(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_loads_with_transformers_and_generates(built: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(built)
    model = AutoModelForCausalLM.from_pretrained(built).eval()
    config = model.config
    assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers) == (128, 2, 2)
    assert config.hidden_size // config.num_attention_heads >= 32
    assert config.vocab_size == len(tokenizer)
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "你好"}], add_generation_prompt=True, tokenize=False
    )
    assert rendered == "<s><|user|>\n你好<|end|>\n<|assistant|>\n"
    ids = tokenizer(rendered, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids.shape[1]


@pytest.mark.parametrize(
    "text", ["Inference serves a trained model.", "网关站在模型的多个副本前面。", "mixed 混合 text"]
)
def test_tokenizer_round_trips_english_and_chinese(built: Path, text: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(built)
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_training_lowers_the_loss(tmp_path: Path) -> None:
    losses: list[float] = []
    build_tiny_llama(
        tmp_path / "t", train_steps=40, vocab_size=512, on_step=lambda s, n, loss: losses.append(loss)
    )
    assert len(losses) == 40
    assert sum(losses[-5:]) < 0.9 * sum(losses[:5])  # deterministic: 6.0 -> 4.95 here


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden": 64, "heads": 4}, "head_dim"),
        ({"hidden": 100, "heads": 3}, "divisible"),
        ({"vocab_size": 100}, "vocab_size"),
        ({"layers": 0}, "layers"),
        ({"train_steps": -1}, "train_steps"),
        ({"heads": 2, "kv_heads": 3}, "kv_heads"),
        ({"seq_len": 512}, "seq_len"),
    ],
)
def test_bad_specs_are_named(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(TinyModelSpecError, match=message):
        TinyLlamaSpec(**kwargs)
