"""Text normalisation for content-safety matching, with an offset map back to the original.

Two views of one input are produced:

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

Speed: the folding of every character of the BMP and of the supplementary blocks used for
evasion (mathematical and enclosed alphanumerics, emoji, CJK compatibility, tags) is
precomputed at import (about 0.2 s); supplementary characters outside those blocks are left
unchanged. A text is then folded by translating only its runs of changing characters, found
with one regex, and the compact view is assembled from slices, with its offsets computed on
access. ASCII text (most English prose and code) takes a shorter road: it folds to its lower
case, one character for one, and — unless two single letters follow each other — its compact view
is its words joined by single spaces, with the offsets worked out from those words only if
something asks for them (a match, a stream's hold point).
"""

from __future__ import annotations

import re
import unicodedata
from abc import abstractmethod
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice, repeat
from pathlib import Path
from typing import overload

# Character classes of one folded character.
_DROP = 0
_SEP = 1
_WORD = 2

# Invisible characters that are not in category Cf/Mn but render as blank.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


class _Offsets(Sequence[int]):
    """A read-only sequence of offsets of known length; subclasses say how an item is found."""

    __slots__ = ("_length",)

    def __init__(self, length: int) -> None:
        self._length = length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        return self._get(index)

    @abstractmethod
    def _get(self, index: int | slice) -> int | Sequence[int]:
        """The item (or items) at ``index``."""


class _PiecewiseStarts(_Offsets):
    """Offsets of a view made of slices of another view, computed on access (bisect).

    Segment ``k`` begins at view index ``view_starts[k]`` and maps to consecutive indices of
    ``inner`` from ``inner_starts[k]``; building it costs one entry per segment, not per char.
    """

    __slots__ = ("_inner", "_inner_starts", "_view_starts")

    def __init__(
        self, inner: Sequence[int], view_starts: list[int], inner_starts: list[int], length: int
    ) -> None:
        super().__init__(length)
        self._inner = inner
        self._view_starts = view_starts
        self._inner_starts = inner_starts

    def _get(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        segment = bisect_right(self._view_starts, index) - 1
        return self._inner[self._inner_starts[segment] + index - self._view_starts[segment]]


@dataclass(frozen=True, slots=True)
class MappedText:
    """A normalised view: ``text`` plus ``starts[i]`` = original index of ``text[i]``."""

    text: str
    starts: Sequence[int]

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
    return _WORD


# Code points whose folding is precomputed: the BMP plus the supplementary blocks used for
# evasion (mathematical and enclosed alphanumerics, emoji, CJK compatibility, tag characters).
# Other supplementary characters are left as they are.
_PRECOMPUTED = (
    (0x0000, 0xD7FF),
    (0xE000, 0xFFFF),
    (0x1D400, 0x1D7FF),
    (0x1F000, 0x1FAFF),
    (0x2F800, 0x2FA1F),
    (0xE0000, 0xE007F),
)


def _fold_one(ch: str) -> str:
    out = []
    for folded in unicodedata.normalize("NFKC", ch).casefold():
        simplified = _T2S.get(folded, folded)
        if _classify(simplified) != _DROP:
            out.append(simplified)
    return "".join(out)


def _class_body(code_points: list[int]) -> str:
    """The inside of a regex character class matching exactly ``code_points`` (sorted), as ranges."""
    parts: list[str] = []
    index = 0
    while index < len(code_points):
        first = last = code_points[index]
        while index + 1 < len(code_points) and code_points[index + 1] == last + 1:
            index += 1
            last = code_points[index]
        parts.append(
            re.escape(chr(first)) if first == last else f"{re.escape(chr(first))}-{re.escape(chr(last))}"
        )
        index += 1
    return "".join(parts)


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


class _Patterns:
    """Compiled character-class regexes, one pair per job.

    ``re`` matches a character class of BMP characters through a bitmap (fast); a class that
    also holds supplementary characters is a list of ranges scanned linearly (slow). So each
    job has a BMP-only pattern, used when the text has no supplementary character, and a
    full one.
    """

    def __init__(self, code_points: list[int], shape: str = "[{0}]") -> None:
        """``shape`` is the pattern with ``{0}`` where the inside of the character class goes."""
        ordered = sorted(code_points)
        self.bmp = re.compile(shape.format(_class_body([code for code in ordered if code <= 0xFFFF])))
        self.full = re.compile(shape.format(_class_body(ordered)))

    def pick(self, text: str) -> re.Pattern[str]:
        """The pattern to use on ``text``."""
        return self.full if _ASTRAL.search(text) else self.bmp


def _build_tables() -> tuple[dict[int, str], _Patterns, _Patterns, _Patterns, frozenset[str]]:
    fold_map: dict[int, str] = {}
    irregular: list[int] = []
    separators: list[int] = []
    for low, high in _PRECOMPUTED:
        for code in range(low, high + 1):
            ch = chr(code)
            folded = _fold_one(ch)
            if folded != ch:
                fold_map[code] = folded
                if len(folded) != 1:
                    irregular.append(code)
            if _classify(ch) == _SEP:
                separators.append(code)
    return (
        fold_map,
        _Patterns(list(fold_map), "([{0}]+)"),
        _Patterns(irregular),
        _Patterns(separators, "[{0}]+"),
        frozenset(map(chr, separators)),
    )


_FOLD_MAP, _UNSTABLE_RUNS, _IRREGULAR, _SEPARATOR_RUNS, _SEPARATORS = _build_tables()
# Every ASCII separator (whitespace, punctuation, symbols, controls) to a space; the rest stay.
_ASCII_SEPARATORS_TO_SPACE = "".join(" " if chr(code) in _SEPARATORS else chr(code) for code in range(128))
# The words the ASCII road keeps: runs of what is neither a separator nor whitespace (str.split's).
_ASCII_WORD = re.compile(
    "[^"
    + re.escape("".join(chr(code) for code in range(128) if chr(code) in _SEPARATORS or chr(code).isspace()))
    + "]+"
)


def fold(text: str) -> MappedText:
    """The folded view of ``text`` (NFKC, case fold, simplified, invisible characters dropped)."""
    if text.isascii():
        return MappedText(text.lower(), range(len(text)))  # ASCII folds to its lower case, one for one
    parts = _UNSTABLE_RUNS.pick(text).split(text)  # stable, unstable, stable, ... (capturing group)
    parts[1::2] = [part.translate(_FOLD_MAP) for part in parts[1::2]]
    folded = "".join(parts)
    if _IRREGULAR.pick(text).search(text) is None:
        return MappedText(folded, range(len(text)))
    starts: list[int] = []
    for index, ch in enumerate(text):
        width = len(_FOLD_MAP.get(ord(ch), ch))
        if width == 1:
            starts.append(index)
        elif width:
            starts.extend([index] * width)
    return MappedText(folded, starts)


def _join_letters(folded: str, after: int, run_ws: bool, chain_ws: bool | None) -> bool:
    """Whether a separator run between two single letters splits a letter-spaced word ("b.o.m.b").

    ``after`` is the index just past the letter that follows the run. Inside a chain of
    joined letters the separator style (whitespace or not) must stay the same; a new chain
    starts only if that letter is single too and followed by the same style, or by
    whitespace after punctuation (the end of a dotted word such as "t.o ").
    """
    if chain_ws is not None:
        return run_ws == chain_ws
    if after >= len(folded):
        return True
    if folded[after] not in _SEPARATORS:
        return False
    after_ws = folded[after].isspace()
    return after_ws == run_ws or (after_ws and not run_ws)


class _LazyStarts(_Offsets):
    """Offsets of the ASCII road's compact view, computed when read.

    The first :attr:`SINGLE_READS` reads of one offset (a stream's hold point, a match's span)
    are answered from the words at and after it (:func:`_ascii_compact_start`); any further read,
    or a slice, builds the whole table once (:func:`_ascii_compact_starts`).
    """

    __slots__ = ("_compact", "_single_reads", "_starts", "_view")

    SINGLE_READS = 2

    def __init__(self, view: MappedText, compact: str) -> None:
        super().__init__(len(compact))
        self._view = view
        self._compact = compact
        self._starts: Sequence[int] | None = None
        self._single_reads = 0

    def _get(self, index: int | slice) -> int | Sequence[int]:
        if self._starts is None:
            if isinstance(index, int) and self._single_reads < self.SINGLE_READS:
                self._single_reads += 1
                if index < 0:
                    index += self._length
                if not 0 <= index < self._length:
                    raise IndexError(index)
                return _ascii_compact_start(self._view, self._compact, index)
            self._starts = _ascii_compact_starts(self._view, self._length)
        return self._starts[index]


def _ascii_compact_start(view: MappedText, compact: str, index: int) -> int:
    """The original offset of ``compact[index]``, found from the end of ``view``'s words.

    ``compact`` is the view's words joined by single spaces. With ``k`` spaces at or after
    ``index``, the character belongs to (or, for a space, follows) the ``k``-th word from the end;
    the words are read backwards, so an offset near the end costs a few words, not the text.
    """
    folded = view.text
    k = compact.count(" ", index)
    # a word is a run of one character class, so the reversed text's words are the words reversed
    word = next(islice(_ASCII_WORD.finditer(folded[::-1]), k, None))
    word_end = len(folded) - word.start()  # in the folded view
    if compact[index] == " ":
        return view.starts[word_end]  # a space stands for the separator run after its word
    next_space = compact.find(" ", index)
    return view.starts[word_end - ((len(compact) if next_space < 0 else next_space) - index)]


def _ascii_compact_starts(view: MappedText, length: int) -> Sequence[int]:
    """The compact offsets of an ASCII view in which nothing is joined: its words, one space between.

    What :func:`_compact_exact` gives for such a view, without its per-run CJK and letter-chain checks:
    each word maps to its folded slice, each space to the start of the separator run it replaces.
    """
    view_starts: list[int] = []
    inner_starts: list[int] = []
    position = 0
    previous_end = 0
    for word in _ASCII_WORD.finditer(view.text):
        start, end = word.span()
        if position:
            view_starts.append(position)
            inner_starts.append(previous_end)
            position += 1
        view_starts.append(position)
        inner_starts.append(start)
        position += end - start
        previous_end = end
    if position != length:
        raise AssertionError(f"ASCII compact offsets cover {position} characters, the view has {length}")
    return _PiecewiseStarts(view.starts, view_starts, inner_starts, length)


def compact(view: MappedText) -> MappedText:
    """The compact view built from a folded view (see the module docstring)."""
    folded = view.text
    if folded.isascii():
        words = folded.translate(_ASCII_SEPARATORS_TO_SPACE).split()
        if not _single_letters_in_a_row(words):
            # Nothing is joined (no CJK, no letter-spaced word): every inner separator run
            # becomes one space and the runs at the edges go.
            text = " ".join(words)
            return MappedText(text, _LazyStarts(view, text))
    return _compact_exact(view)


def _single_letters_in_a_row(words: list[str]) -> bool:
    # each word's length capped at 2, as bytes: two single letters in a row are b"\x01\x01" (C speed)
    return b"\x01\x01" in bytes(map(min, map(len, words), repeat(2)))


def _compact_exact(view: MappedText) -> MappedText:
    folded = view.text
    pieces: list[str] = []
    view_starts: list[int] = []  # where each kept slice (or inserted space) begins in the compact view
    inner_starts: list[int] = []  # and the folded index it maps to
    length = 0
    cursor = 0  # start of the token after the previous run
    chain_ws: bool | None = None
    for run in _SEPARATOR_RUNS.pick(folded).finditer(folded):
        run_start, run_end = run.span()
        if run_start > cursor:
            pieces.append(folded[cursor:run_start])
            view_starts.append(length)
            inner_starts.append(cursor)
            length += run_start - cursor
        single = run_start - cursor == 1
        cursor = run_end
        at_edge = run_start == 0 or run_end == len(folded)
        if at_edge or _is_cjk(folded[run_start - 1]) or _is_cjk(folded[run_end]):
            chain_ws = None
        else:
            run_ws = folded[run_start:run_end].isspace()
            if single and _join_letters(folded, run_end + 1, run_ws, chain_ws):
                chain_ws = run_ws
            else:
                chain_ws = None
                pieces.append(" ")
                view_starts.append(length)
                inner_starts.append(run_start)
                length += 1
    if cursor < len(folded):
        pieces.append(folded[cursor:])
        view_starts.append(length)
        inner_starts.append(cursor)
        length += len(folded) - cursor
    return MappedText("".join(pieces), _PiecewiseStarts(view.starts, view_starts, inner_starts, length))


def normalize(text: str) -> Normalized:
    """Normalise ``text`` into its folded and compact views (see the module docstring)."""
    folded = fold(text)
    return Normalized(original=text, folded=folded, compact=compact(folded))


def normalize_term(term: str) -> str:
    """The compact form of a rule term, as the automaton stores it; empty if nothing is left."""
    return normalize(term).compact.text
