"""Multi-term keyword matching behind one small protocol, with two automaton backends.

``ahocorasick-rs`` (Rust, the default) and ``pyahocorasick`` (C) both build an Aho-Corasick
automaton over the terms and report every occurrence, overlapping ones included, as
``(term_index, start, end)`` with ``end`` exclusive, in Python string indices.
``benchmarks/safety.py`` measures them side by side. Terms are matched as given: callers
normalise terms and text the same way first (:func:`security.safety.normalize.normalize_term`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol


class KeywordMatcher(Protocol):
    """Finds every occurrence of a fixed set of terms in a text."""

    backend: str

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """All occurrences as ``(term_index, start, end)``, overlapping ones included."""
        ...


class _EmptyMatcher:
    """Matcher over no terms (both libraries reject an empty pattern list)."""

    def __init__(self, backend: str) -> None:
        self.backend = backend

    def find(self, text: str) -> list[tuple[int, int, int]]:
        return []


class AhoCorasickRsMatcher:
    """Backend on ``ahocorasick-rs``; a DFA for speed, standard (overlapping) semantics."""

    backend = "ahocorasick-rs"

    def __init__(self, terms: Sequence[str]) -> None:
        import ahocorasick_rs

        self._automaton = ahocorasick_rs.AhoCorasick(
            list(terms),
            matchkind=ahocorasick_rs.MatchKind.Standard,
            implementation=ahocorasick_rs.Implementation.DFA,
        )

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """All occurrences as ``(term_index, start, end)``."""
        return self._automaton.find_matches_as_indexes(text, overlapping=True)


class PyAhoCorasickMatcher:
    """Backend on ``pyahocorasick``; it reports inclusive end indices, converted here."""

    backend = "pyahocorasick"

    def __init__(self, terms: Sequence[str]) -> None:
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for index, term in enumerate(terms):
            automaton.add_word(term, (index, len(term)))
        automaton.make_automaton()
        self._automaton = automaton

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """All occurrences as ``(term_index, start, end)``."""
        return [(index, last + 1 - length, last + 1) for last, (index, length) in self._automaton.iter(text)]


BACKENDS: dict[str, Callable[[Sequence[str]], KeywordMatcher]] = {
    AhoCorasickRsMatcher.backend: AhoCorasickRsMatcher,
    PyAhoCorasickMatcher.backend: PyAhoCorasickMatcher,
}
"""Every keyword backend, by name. ``DEFAULT_BACKEND`` is the one the engine uses."""

DEFAULT_BACKEND = AhoCorasickRsMatcher.backend


def build_matcher(terms: Sequence[str], *, backend: str = DEFAULT_BACKEND) -> KeywordMatcher:
    """Build a matcher over ``terms`` (non-empty, distinct strings) with the named backend.

    Raises ``ValueError`` for an unknown backend, an empty term or a duplicate term.
    """
    try:
        factory = BACKENDS[backend]
    except KeyError:
        raise ValueError(
            f"unknown keyword backend {backend!r}; known: {', '.join(sorted(BACKENDS))}"
        ) from None
    seen: set[str] = set()
    for index, term in enumerate(terms):
        if not term:
            raise ValueError(f"keyword term #{index} is empty")
        if term in seen:
            raise ValueError(f"keyword term {term!r} is listed twice")
        seen.add(term)
    if not terms:
        return _EmptyMatcher(backend)
    return factory(terms)
