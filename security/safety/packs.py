"""Compiled rule packs and the registry that picks a tenant's pack.

:func:`compile_pack` turns a validated :class:`~security.safety.rules.RulePack` into the
structures the engine runs: one keyword automaton over the normalised terms of every
category, compiled regexes, and the PII rules. :class:`PackRegistry` keeps every version of
every pack (a version is immutable: registering the same ``(id, version)`` with different
content is refused) and resolves the active pack for a tenant, falling back to the active
global pack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from security.safety.keywords import DEFAULT_BACKEND, KeywordMatcher, build_matcher
from security.safety.normalize import normalize_term
from security.safety.pii import PiiKind
from security.safety.regex_guard import GuardedRegex, literal_gate, union_prefilter
from security.safety.rules import Category, Direction, PackValidationError, RulePack


@dataclass(frozen=True, slots=True)
class KeywordTerm:
    """One normalised term and the categories that list it (with the term as written)."""

    text: str
    categories: tuple[tuple[str, str], ...]  # (category, term as written in the pack)
    left_boundary: bool  # starts with an ASCII letter/digit: must not continue a word
    right_boundary: bool


@dataclass(frozen=True, slots=True)
class RegexRule:
    """A compiled regex of a category; ``rule_id`` is ``<category>/regex[<index>]``."""

    rule_id: str
    category: str
    pattern: GuardedRegex


@dataclass(frozen=True, slots=True)
class CompiledPack:
    """A rule pack ready to run. Build with :func:`compile_pack`; do not mutate."""

    pack: RulePack
    matcher: KeywordMatcher
    terms: tuple[KeywordTerm, ...]
    regexes: tuple[RegexRule, ...]
    max_term_length: int  # in characters of the compact view
    # matches wherever any rule of ``regexes`` does; no match → no rule needs to run (None: run all)
    regex_prefilter: GuardedRegex | None = None
    # one of these strings occurs wherever any rule of ``regexes`` matches (None: not known)
    regex_literals: tuple[str, ...] | None = None
    # the PII kinds whose rule applies, per direction (filled by compile_pack)
    pii_kinds_by_direction: Mapping[Direction, frozenset[PiiKind]] = field(default_factory=dict)

    def pii_kinds(self, direction: Direction) -> frozenset[PiiKind]:
        """The PII kinds the pack detects in ``direction``."""
        kinds = self.pii_kinds_by_direction.get(direction)
        if kinds is None:
            kinds = frozenset(kind for kind, rule in self.pack.pii.items() if direction in rule.directions)
        return kinds

    @property
    def id(self) -> str:
        """The pack id."""
        return self.pack.id

    @property
    def version(self) -> str:
        """The pack version."""
        return self.pack.version

    def category(self, name: str) -> Category | None:
        """The named category, or ``None`` (PII categories have no entry here)."""
        return self.pack.categories.get(name)

    def applies(self, category: str, direction: Direction) -> bool:
        """Whether the keyword/regex/semantic rules of ``category`` apply to ``direction``."""
        entry = self.pack.categories.get(category)
        return entry is not None and direction in entry.directions


def _is_word_edge(char: str) -> bool:
    return char.isascii() and char.isalnum()


def compile_pack(pack: RulePack, *, backend: str = DEFAULT_BACKEND) -> CompiledPack:
    """Compile ``pack``; raises :class:`PackValidationError` for a keyword that normalises to nothing."""
    by_term: dict[str, list[tuple[str, str]]] = {}
    errors: list[tuple[str, str]] = []
    for name, category in pack.categories.items():
        for index, keyword in enumerate(category.keywords):
            term = normalize_term(keyword)
            if not term:
                errors.append(
                    (f"categories.{name}.keywords[{index}]", f"{keyword!r} is empty once normalised")
                )
                continue
            refs = by_term.setdefault(term, [])
            if all(ref[0] != name for ref in refs):
                refs.append((name, keyword))
    if errors:
        raise PackValidationError(f"{pack.id}@{pack.version}", errors)
    terms = tuple(
        KeywordTerm(text, tuple(refs), _is_word_edge(text[0]), _is_word_edge(text[-1]))
        for text, refs in by_term.items()
    )
    regexes = tuple(
        RegexRule(f"{name}/regex[{index}]", name, GuardedRegex(pattern, rule=f"{name}/regex[{index}]"))
        for name, category in pack.categories.items()
        for index, pattern in enumerate(category.regexes)
    )
    return CompiledPack(
        pack=pack,
        matcher=build_matcher([term.text for term in terms], backend=backend),
        terms=terms,
        regexes=regexes,
        max_term_length=max((len(term.text) for term in terms), default=0),
        regex_prefilter=union_prefilter([rule.pattern.pattern for rule in regexes]),
        regex_literals=literal_gate([rule.pattern.pattern for rule in regexes]),
        pii_kinds_by_direction={
            direction: frozenset(kind for kind, rule in pack.pii.items() if direction in rule.directions)
            for direction in Direction
        },
    )


class PackConflictError(ValueError):
    """A pack version was registered twice with different content."""


class PackNotFoundError(LookupError):
    """No pack applies (no tenant pack and no global pack), or an unknown version was named."""


class PackRegistry:
    """Every registered pack version plus the active version per scope.

    Scopes are ``"global"`` and ``"tenant:<id>"`` (:attr:`RulePack.scope`). Compiled packs
    are cached per ``(id, version)``. Not thread-safe for writers; readers may share it.
    """

    def __init__(self, *, backend: str = DEFAULT_BACKEND) -> None:
        self._backend = backend
        self._versions: dict[tuple[str, str], CompiledPack] = {}
        self._active: dict[str, tuple[str, str]] = {}

    def add(self, pack: RulePack, *, activate: bool = True) -> CompiledPack:
        """Register ``pack`` (compiling it) and, by default, make it its scope's active pack.

        Re-adding an identical version is a no-op; a different pack under an existing
        ``(id, version)`` raises :class:`PackConflictError`.
        """
        key = (pack.id, pack.version)
        existing = self._versions.get(key)
        if existing is not None and existing.pack.digest != pack.digest:
            raise PackConflictError(f"pack {pack.id}@{pack.version} is already registered with other content")
        compiled = existing or compile_pack(pack, backend=self._backend)
        self._versions[key] = compiled
        if activate:
            self._active[pack.scope] = key
        return compiled

    def activate(self, pack_id: str, version: str) -> CompiledPack:
        """Make a registered version the active pack of its scope (roll forward or back)."""
        compiled = self._versions.get((pack_id, version))
        if compiled is None:
            raise PackNotFoundError(f"pack {pack_id}@{version} is not registered")
        self._active[compiled.pack.scope] = (pack_id, version)
        return compiled

    def get(self, pack_id: str, version: str) -> CompiledPack:
        """A registered version; raises :class:`PackNotFoundError`."""
        compiled = self._versions.get((pack_id, version))
        if compiled is None:
            raise PackNotFoundError(f"pack {pack_id}@{version} is not registered")
        return compiled

    def resolve(self, tenant: str | None) -> CompiledPack:
        """The active pack for ``tenant``, else the active global pack; raises :class:`PackNotFoundError`."""
        for scope in ([f"tenant:{tenant}"] if tenant else []) + ["global"]:
            key = self._active.get(scope)
            if key is not None:
                return self._versions[key]
        raise PackNotFoundError(f"no rule pack applies to tenant {tenant!r} and no global pack is active")
