"""The local training text shipped with the package (original prose, English and Chinese)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

PROSE_FILES: tuple[str, ...] = ("en.txt", "zh.txt")
CHAT_FILE = "chat.txt"


@dataclass(frozen=True)
class ChatPair:
    """One question and its answer, used to teach the chat template."""

    question: str
    answer: str


@dataclass(frozen=True)
class Corpus:
    """Paragraphs of prose and chat pairs; ``digest`` is the SHA-256 of the raw files, in order."""

    paragraphs: tuple[str, ...]
    chat_pairs: tuple[ChatPair, ...]
    digest: str


def _read(name: str) -> str:
    return resources.files("inference.tinymodel").joinpath("texts").joinpath(name).read_text(encoding="utf-8")


def _parse_chat(text: str) -> tuple[ChatPair, ...]:
    pairs: list[ChatPair] = []
    for block in text.strip().split("\n\n"):
        lines = block.strip().splitlines()
        if len(lines) != 2 or not lines[0].startswith("Q: ") or not lines[1].startswith("A: "):
            raise ValueError(f"chat corpus block is not 'Q: ...' then 'A: ...': {block!r}")
        pairs.append(ChatPair(question=lines[0][3:].strip(), answer=lines[1][3:].strip()))
    return tuple(pairs)


def load_corpus() -> Corpus:
    """Read the shipped corpus files; raises ``ValueError`` if the chat file is malformed."""
    digest = hashlib.sha256()
    paragraphs: list[str] = []
    for name in PROSE_FILES:
        text = _read(name)
        digest.update(text.encode())
        paragraphs.extend(p.strip() for p in text.split("\n\n") if p.strip())
    chat_text = _read(CHAT_FILE)
    digest.update(chat_text.encode())
    return Corpus(paragraphs=tuple(paragraphs), chat_pairs=_parse_chat(chat_text), digest=digest.hexdigest())
