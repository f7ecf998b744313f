"""ReDoS guard for tenant-supplied regex rules: reject dangerous shapes, bound the rest in time.

Two layers, because no static check catches every slow pattern:

1. :func:`dangerous_shape` rejects, when a pack is validated (upload or file), the shapes that
   make a backtracking engine exponential: a repeated group that itself contains a variable
   repeat (``(a+)+``, ``(a*)*``, ``(x\\d{1,9})+``), a repeated alternation whose branches can
   start with the same character (``(a|ab)*``, ``(\\w|\\d)+``), and backreferences. Atomic
   groups and possessive quantifiers do not backtrack and are allowed (``(?>a+)+``, ``(a++)+``).
2. :class:`GuardedRegex` runs every rule with the ``regex`` package under a time budget, so the
   polynomial cases that pass the shape check (``.*a.*a.*a.*b``) are still bounded.
   A rule that runs out of budget raises :class:`RegexBudgetExceeded`; the engine then fails
   closed (see :func:`security.safety.engine.scan`).

The shape check works on the parse tree of Python's own ``re`` parser (the dialect the pack
format documents); matching uses ``regex`` in its ``re``-compatible ``V0`` mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from re import _constants as _sre  # type: ignore[attr-defined]  # the parser of the re dialect
from re import _parser as _parse  # type: ignore[attr-defined]
from typing import Any

import regex

MAX_PATTERN_CHARS = 512
"""Longest regex a pack may carry."""

MATCH_BUDGET_S = 0.02
"""Time one regex rule may spend on one text before it counts as exceeded."""

_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT}
_BACKREFS = {_sre.GROUPREF, _sre.GROUPREF_EXISTS}
_ANY_FIRST = object()  # a first-character set that may contain anything


class RegexBudgetExceeded(Exception):
    """A guarded regex ran out of its time budget; ``rule`` names it."""

    def __init__(self, rule: str, budget_s: float) -> None:
        self.rule = rule
        self.budget_s = budget_s
        super().__init__(f"regex rule {rule} exceeded its {budget_s * 1000:.0f} ms budget")


def _items(node: Any) -> list[tuple[Any, Any]]:
    return list(node.data if hasattr(node, "data") else node)


def _children(op: Any, av: Any) -> list[Any]:
    """Sub-patterns directly below one parse-tree item."""
    if op in _REPEATS:
        return [av[2]]
    if op is _sre.SUBPATTERN:
        return [av[3]]
    if op is _sre.BRANCH:
        return list(av[1])
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return [av[1]]
    if op is _sre.GROUPREF_EXISTS:
        return [branch for branch in av[1:] if branch is not None]
    return []  # literals, classes, anchors; ATOMIC_GROUP and POSSESSIVE_REPEAT never backtrack


def _is_variable_repeat(op: Any, av: Any) -> bool:
    return op in _REPEATS and av[1] != av[0] and av[1] > 1


def _has_variable_repeat(node: Any) -> bool:
    for op, av in _items(node):
        if _is_variable_repeat(op, av):
            return True
        if any(_has_variable_repeat(child) for child in _children(op, av)):
            return True
    return False


def _first_chars(node: Any) -> set[int] | object:
    """Characters a sub-pattern's match may start with (``_ANY_FIRST`` when not simple)."""
    for op, av in _items(node):
        if op is _sre.LITERAL:
            return {av}
        if op is _sre.AT:
            continue  # anchors consume nothing
        if op is _sre.SUBPATTERN:
            return _first_chars(av[3])
        if op is _sre.IN and all(kind is _sre.LITERAL for kind, _ in av):
            return {value for _, value in av}
        return _ANY_FIRST
    return _ANY_FIRST  # an empty branch overlaps everything


def _overlapping_branch(node: Any) -> bool:
    """Whether some alternation at or below ``node`` has two branches that may start alike."""
    for op, av in _items(node):
        if op is _sre.BRANCH:
            seen: set[int] = set()
            for branch in av[1]:
                first = _first_chars(branch)
                if not isinstance(first, set) or seen & first:
                    return True
                seen |= first
        if any(_overlapping_branch(child) for child in _children(op, av)):
            return True
    return False


def _walk(node: Any) -> str | None:
    for op, av in _items(node):
        if op in _BACKREFS:
            return "backreferences are not allowed (they make matching exponential)"
        if _is_variable_repeat(op, av):
            if _has_variable_repeat(av[2]):
                return "a repeated group contains another variable repeat (nested quantifiers, as in (a+)+)"
            if _overlapping_branch(av[2]):
                return "a repeated alternation has branches that can start alike (as in (a|ab)*)"
        for child in _children(op, av):
            problem = _walk(child)
            if problem is not None:
                return problem
    return None


def dangerous_shape(pattern: str) -> str | None:
    """Why ``pattern`` is refused as a ReDoS risk, or ``None`` if its shape is acceptable.

    The pattern must already compile with :mod:`re`. See the module docstring for the shapes.
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"longer than {MAX_PATTERN_CHARS} characters"
    return _walk(_parse.parse(pattern))


class GuardedRegex:
    """A compiled rule whose every search is bounded by ``budget_s`` (per call of :meth:`finditer`).

    Matching keeps the GIL (``concurrent=False``): by default ``regex`` releases it for every
    match on a ``str``, and getting it back behind another busy thread (a database worker) took
    ~180 µs per call where the match itself takes 2 µs; the budget bounds how long it is held.
    """

    __slots__ = ("_compiled", "budget_s", "pattern", "rule")

    def __init__(self, pattern: str, *, rule: str, budget_s: float = MATCH_BUDGET_S) -> None:
        self.pattern = pattern
        self.rule = rule
        self.budget_s = budget_s
        self._compiled = regex.compile(pattern, regex.V0)

    def finditer(self, text: str) -> Iterator[tuple[int, int]]:
        """Spans of non-overlapping matches, left to right; raises :class:`RegexBudgetExceeded`.

        The budget covers the whole scan of ``text``, not each match.
        """
        try:
            # ``regex`` applies the timeout to the whole iteration of one finditer call.
            spans = [m.span() for m in self._compiled.finditer(text, concurrent=False, timeout=self.budget_s)]
        except TimeoutError:
            raise RegexBudgetExceeded(self.rule, self.budget_s) from None
        return iter(spans)

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text``; raises :class:`RegexBudgetExceeded`."""
        try:
            return self._compiled.search(text, concurrent=False, timeout=self.budget_s) is not None
        except TimeoutError:
            raise RegexBudgetExceeded(self.rule, self.budget_s) from None


def required_literals(pattern: str) -> frozenset[str] | None:
    """Strings one of which occurs in every match of ``pattern``, or ``None`` when none are known.

    Read off the ``re`` parse tree: a run of literal characters in a sequence is required; so is
    what a group, a repeat of at least one, or every branch of an alternation requires (for an
    alternation, the union). Of a sequence's required sets the one with the longest shortest
    string is kept. Case-insensitive parts, lookarounds and anything ``re`` cannot parse give
    nothing, so the answer errs towards ``None`` (the rule has to run).
    """
    try:
        parsed = _parse.parse(pattern)
    except Exception:
        return None
    if parsed.state.flags & _sre.SRE_FLAG_IGNORECASE:
        return None
    return _required(parsed)


def _required(node: Any) -> frozenset[str] | None:
    candidates: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in _items(node):
        if op is _sre.LITERAL:
            run.append(chr(av))
            continue
        if run:
            candidates.append(frozenset(["".join(run)]))
            run = []
        found: frozenset[str] | None = None
        if op is _sre.SUBPATTERN and not av[1] & _sre.SRE_FLAG_IGNORECASE:
            found = _required(av[3])
        elif op is _sre.ATOMIC_GROUP:
            found = _required(av)
        elif op in _REPEATS or op is _sre.POSSESSIVE_REPEAT:
            found = _required(av[2]) if av[0] >= 1 else None
        elif op is _sre.BRANCH:
            alternatives = [_required(branch) for branch in av[1]]
            if all(alternative is not None for alternative in alternatives):
                found = frozenset().union(*alternatives)  # type: ignore[arg-type]
        if found:
            candidates.append(found)
    if run:
        candidates.append(frozenset(["".join(run)]))
    if not candidates:
        return None
    return max(candidates, key=lambda strings: (min(map(len, strings)), -len(strings)))


def literal_gate(patterns: list[str]) -> tuple[str, ...] | None:
    """Strings one of which occurs wherever any of ``patterns`` matches (``None``: not known).

    A text containing none of them needs no regex run at all — an ``in`` test per string is far
    cheaper than even a failing search of the union, whose tables are cold in a busy server.
    """
    gate: set[str] = set()
    for pattern in patterns:
        literals = required_literals(pattern)
        if literals is None:
            return None
        gate |= literals
    return tuple(sorted(gate, key=len, reverse=True))


_LEADING_FLAGS = regex.compile(r"\(\?([aiLmsux]+)\)")
_INLINE_FLAGS = regex.compile(r"\(\?[aiLmsux]+\)")


def union_prefilter(patterns: list[str], *, budget_s: float = MATCH_BUDGET_S) -> GuardedRegex | None:
    """One regex that matches somewhere in a text whenever any of ``patterns`` does, or ``None``.

    An alternation ``(?:p1)|(?:p2)|…`` tried at every position finds a match wherever one of its
    branches would, so a text it does not match at all needs none of the rules run. A leading
    global flag group becomes a scoped one (``(?i)x`` → ``(?i:x)``); patterns with flags elsewhere,
    or a union that does not compile (duplicate group names), give ``None``: no prefilter.
    """
    branches = []
    for pattern in patterns:
        leading = _LEADING_FLAGS.match(pattern)
        body = pattern[leading.end() :] if leading else pattern
        if _INLINE_FLAGS.search(body):
            return None
        branches.append(f"(?{leading.group(1)}:{body})" if leading else f"(?:{body})")
    if len(branches) < 2:
        return None
    try:
        return GuardedRegex("|".join(branches), rule="regex-prefilter", budget_s=budget_s)
    except regex.error:
        return None
