"""Text normalisation for content-safety matching, with an offset map back to the original.

Two views of one input are produced in a single pass over its characters:

``folded``
    Every character NFKC-normalised (which also maps full-width ASCII and half-width
    katakana to their canonical forms), case-folded and converted from traditional to
    simplified Chinese; invisible characters (format characters such as zero-width spaces,
    combining marks, fillers) are dropped. Regex rules and PII detectors run on this view.

``compact``
    The folded view with separator runs (whitespace, punctuation, symbols, emoji) removed
    where they are used to split a term: between two CJK characters ("炸 弹", "炸*弹") and
    between single letters ("b.o.m.b"). Any other separator run becomes one space, so
    English words stay apart. The keyword automaton runs on this view.

Both views carry ``starts``: for each normalised character, the index of the original
character it came from, so a span found in a view maps back to the original text
(:meth:`MappedText.original_span`) and masks apply to the original positions.

Traditional→simplified conversion is character-level, from OpenCC's ``TSCharacters``
table as shipped by the ``opencc-python-reimplemented`` package, loaded once at import
(phrase-level conversion is not needed to match terms that are themselves normalised).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Character classes of one folded character.
_DROP = 0
_SEP = 1
_WORD = 2
_CJK = 3

# Invisible characters that are not in category Cf/Mn but render as blank.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


@dataclass(frozen=True, slots=True)
class MappedText:
    """A normalised view: ``text`` plus ``starts[i]`` = original index of ``text[i]``."""

    text: str
    starts: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the half-open span ``[start, end)`` of this view to a span of the original text.

        The result covers every original character that contributed to the span, including
        separators dropped between its first and last character.
        """
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span [{start}, {end}) is outside a text of length {len(self.text)}")
        return self.starts[start], self.starts[end - 1] + 1


@dataclass(frozen=True, slots=True)
class Normalized:
    """Result of :func:`normalize`: the original text and its two normalised views."""

    original: str
    folded: MappedText
    compact: MappedText


def _load_t2s() -> dict[str, str]:
    import opencc  # opencc-python-reimplemented: only its data file is used

    table = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    mapping: dict[str, str] = {}
    for line in table.read_text(encoding="utf-8").splitlines():
        source, _, targets = line.partition("\t")
        target = targets.split(" ", 1)[0]
        if len(source) == 1 and len(target) == 1 and source != target:
            mapping[source] = target
    return mapping


_T2S = _load_t2s()


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters in ``text`` to simplified, character by character."""
    return "".join(_T2S.get(ch, ch) for ch in text)


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2FFFF
        or 0xF900 <= code <= 0xFAFF
        or 0x3040 <= code <= 0x30FF
        or 0xAC00 <= code <= 0xD7AF
    )


def _classify(ch: str) -> int:
    if ch in _INVISIBLE_EXTRA:
        return _DROP
    category = unicodedata.category(ch)
    if category in ("Cf", "Mn", "Me", "Cs", "Co", "Cn"):
        return _DROP
    if category[0] in "PSZ" or category == "Cc":
        return _SEP
    return _CJK if _is_cjk(ch) else _WORD


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> tuple[tuple[str, int], ...]:
    """The folded characters (with their classes) that one original character becomes."""
    out = []
    for folded in unicodedata.normalize("NFKC", ch).casefold():
        simplified = _T2S.get(folded, folded)
        cls = _classify(simplified)
        if cls != _DROP:
            out.append((simplified, cls))
    return tuple(out)


def _first_class(ch: str) -> int:
    folded = _fold_char(ch)
    return folded[0][1] if folded else _DROP


def normalize(text: str) -> Normalized:
    """Normalise ``text`` into its folded and compact views (see the module docstring)."""
    folded: list[str] = []
    folded_starts: list[int] = []
    compact: list[str] = []
    compact_starts: list[int] = []
    sep_start = -1  # original index of the first character of the pending separator run
    last_cls = _DROP  # class of the last character put into the compact view
    token_len = 0  # word characters since the last separator, in the folded view
    prev_token_len = 0
    n = len(text)
    fold = _fold_char
    for i, ch in enumerate(text):
        for out, cls in fold(ch):
            folded.append(out)
            folded_starts.append(i)
            if cls == _SEP:
                if sep_start < 0:
                    sep_start = i
                    prev_token_len = token_len
                token_len = 0
                continue
            if sep_start >= 0:
                if last_cls != _DROP and last_cls != _CJK and cls != _CJK:
                    single_next = i + 1 >= n or _first_class(text[i + 1]) in (_SEP, _DROP)
                    if not (prev_token_len == 1 and single_next):
                        compact.append(" ")
                        compact_starts.append(sep_start)
                sep_start = -1
            compact.append(out)
            compact_starts.append(i)
            last_cls = cls
            token_len += 1
    return Normalized(
        original=text,
        folded=MappedText("".join(folded), tuple(folded_starts)),
        compact=MappedText("".join(compact), tuple(compact_starts)),
    )


def normalize_term(term: str) -> str:
    """The compact form of a rule term, as the automaton stores it; empty if nothing is left."""
    return normalize(term).compact.text
