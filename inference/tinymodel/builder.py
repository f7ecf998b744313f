"""Build the tiny Llama model and tokenizer into a directory that transformers and vLLM both load."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from inference.tinymodel.corpus import Corpus, load_corpus
from inference.tinymodel.spec import TinyLlamaSpec
from inference.tinymodel.tokenizer import stop_token_ids, train_tokenizer
from inference.tinymodel.training import StepCallback, train_causal_lm

MANIFEST = "stic-tiny-model.json"


class TinyModelDirError(RuntimeError):
    """The output directory holds something other than a tiny-model build; it is never overwritten."""


@dataclass(frozen=True, kw_only=True)
class BuildResult:
    """What a build produced (or found already built, when ``cached`` is true)."""

    path: Path
    cached: bool
    cache_key: str
    vocab_size: int
    parameters: int
    final_loss: float | None
    weights_sha256: str
    seconds: float
    spec: TinyLlamaSpec

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (the CLI's ``--format json`` output)."""
        data = asdict(self)
        data["path"] = str(self.path)
        return data


def _training_texts(corpus: Corpus, tokenizer: PreTrainedTokenizerFast) -> list[str]:
    eos = tokenizer.eos_token
    texts = [f"{tokenizer.bos_token}{p}{eos}" for p in corpus.paragraphs]
    for pair in corpus.chat_pairs:
        messages = [{"role": "user", "content": pair.question}, {"role": "assistant", "content": pair.answer}]
        texts.append(str(tokenizer.apply_chat_template(messages, tokenize=False)))
    return texts


def _token_stream(texts: list[str], tokenizer: PreTrainedTokenizerFast) -> list[int]:
    stream: list[int] = []
    for text in texts:
        stream.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
    return stream


def _weights_digest(model: LlamaForCausalLM) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _llama_config(spec: TinyLlamaSpec, tokenizer: PreTrainedTokenizerFast) -> LlamaConfig:
    stops = stop_token_ids(tokenizer)
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.key_value_heads,
        head_dim=spec.head_dim,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=stops,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )


def _read_manifest(out_dir: Path) -> dict[str, object] | None:
    path = out_dir / MANIFEST
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else None


def _check_replaceable(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise TinyModelDirError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise TinyModelDirError(f"{out_dir} is not empty and holds no {MANIFEST}; refusing to overwrite it")


def build_tiny_llama(
    out_dir: Path | str,
    *,
    seed: int = 0,
    vocab_size: int = 2048,
    hidden: int = 128,
    heads: int = 2,
    layers: int = 2,
    intermediate: int = 256,
    max_position_embeddings: int = 512,
    train_steps: int = 200,
    on_step: StepCallback | None = None,
) -> BuildResult:
    """Build (or find already built) the tiny Llama model and its tokenizer in ``out_dir``.

    The tokenizer is a byte-level BPE trained on the shipped corpus; the model is a seeded
    ``LlamaForCausalLM`` trained for ``train_steps`` steps on the same text (0 skips training).
    The directory holds ``config.json``, safetensors weights, ``generation_config.json``, the tokenizer
    files with a chat template, and ``stic-tiny-model.json`` (the manifest, written last). When the
    manifest already records an equal spec and corpus, nothing is rebuilt (``cached=True``). A
    non-empty directory without a manifest raises :class:`TinyModelDirError`; a bad spec raises
    :class:`~inference.tinymodel.spec.TinyModelSpecError`.
    """
    spec = TinyLlamaSpec(
        seed=seed,
        vocab_size=vocab_size,
        hidden=hidden,
        heads=heads,
        layers=layers,
        intermediate=intermediate,
        max_position_embeddings=max_position_embeddings,
        train_steps=train_steps,
    )
    return build_from_spec(Path(out_dir), spec=spec, on_step=on_step)


def build_from_spec(
    out_dir: Path, *, spec: TinyLlamaSpec, on_step: StepCallback | None = None
) -> BuildResult:
    """As :func:`build_tiny_llama`, from a ready :class:`TinyLlamaSpec`."""
    started = time.perf_counter()
    corpus = load_corpus()
    key = spec.cache_key(corpus_digest=corpus.digest)
    manifest = _read_manifest(out_dir)
    if manifest is not None and manifest.get("cache_key") == key:
        return BuildResult(
            path=out_dir,
            cached=True,
            cache_key=key,
            vocab_size=int(str(manifest["vocab_size"])),
            parameters=int(str(manifest["parameters"])),
            final_loss=None if manifest["final_loss"] is None else float(str(manifest["final_loss"])),
            weights_sha256=str(manifest["weights_sha256"]),
            seconds=time.perf_counter() - started,
            spec=spec,
        )
    _check_replaceable(out_dir)

    tokenizer = train_tokenizer(
        [*corpus.paragraphs, *(f"{p.question}\n{p.answer}" for p in corpus.chat_pairs)],
        vocab_size=spec.vocab_size,
    )
    torch.manual_seed(spec.seed)
    model = LlamaForCausalLM(_llama_config(spec, tokenizer))
    final_loss = train_causal_lm(
        model=model,
        token_stream=_token_stream(_training_texts(corpus, tokenizer), tokenizer),
        steps=spec.train_steps,
        seq_len=spec.seq_len,
        batch_size=spec.batch_size,
        learning_rate=spec.learning_rate,
        seed=spec.seed,
        on_step=on_step,
    )
    model.eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=stop_token_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    result = BuildResult(
        path=out_dir,
        cached=False,
        cache_key=key,
        vocab_size=len(tokenizer),
        parameters=sum(p.numel() for p in model.parameters()),
        final_loss=final_loss,
        weights_sha256=_weights_digest(model),
        seconds=0.0,
        spec=spec,
    )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        manifest_data = result.to_json() | {"simulated": False, "corpus_digest": corpus.digest}
        (staging / MANIFEST).write_text(json.dumps(manifest_data, indent=2, sort_keys=True) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.chmod(0o755)  # mkdtemp makes it 0700; the model is served by other processes too
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(**{**result.__dict__, "seconds": time.perf_counter() - started})
