"""Typed, immutable model of the catalogue: clauses of sections 5–6, the 8.2.3 table, levels and rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction


class Modality(StrEnum):
    """The force of a clause: 应/需 mandatory, 宜 recommended, 可 optional."""

    MANDATORY = "mandatory"
    RECOMMENDED = "recommended"
    OPTIONAL = "optional"


class Attestable(StrEnum):
    """Why a clause is evidenced by an operator's attestation rather than by software."""

    SECTION_5 = "section_5"
    HARDWARE_FACT = "hardware_fact"


class RequirementKind(StrEnum):
    """What one level cell of the 8.2.3 table demands."""

    NOT_REQUIRED = "not_required"  # —
    RECORD = "record"  # 记录
    THRESHOLD = "threshold"  # > 65%, ≤ 1000 ms, ≥1 万, 256 级
    CAPABILITY = "capability"  # 动态平衡, 支持去重, … (see ambiguities: qualitative-cells)


@dataclass(frozen=True, slots=True)
class Chapter:
    """A numbered heading of sections 5–6, e.g. ``6.2.4.2 任务调度``."""

    id: str
    title_zh: str
    title_en: str


@dataclass(frozen=True, slots=True)
class Relation:
    """A clause defined by other clauses: ``conforms_to`` ``section`` under ``rule``."""

    kind: str
    section: str
    rule: str


@dataclass(frozen=True, slots=True)
class Clause:
    """One lettered clause; ``id`` is ``<section>.<letter>`` (``6.2.4.2.e``)."""

    id: str
    section: str
    letter: str
    modality: Modality
    text_zh: str
    gloss_en: str
    modality_source: str = "explicit"
    lead_in_zh: str | None = None
    ambiguity: str | None = None
    derived_from: tuple[Relation, ...] = ()
    attestable: Attestable | None = None
    attestation_subject_en: str | None = None

    @property
    def part(self) -> str:
        """The top-level section, ``"5"`` or ``"6"``."""
        return self.id.split(".", 1)[0]

    @property
    def is_mandatory(self) -> bool:
        """True for 应/需 clauses (including inherited and chosen readings)."""
        return self.modality is Modality.MANDATORY

    @property
    def is_derived(self) -> bool:
        """True when the clause's status is computed from other clauses, never probed."""
        return bool(self.derived_from)

    def in_section(self, section: str) -> bool:
        """True when the clause lies in ``section`` or below it (``6.2`` holds ``6.2.4.2.e``)."""
        return self.section == section or self.section.startswith(section + ".")


@dataclass(frozen=True, slots=True)
class LevelRequirement:
    """The requirement of one performance row at one level."""

    kind: RequirementKind
    cell_zh: str
    operator: str | None = None  # one of > ≥ < ≤
    value: Fraction | None = None  # in the row's unit
    unit: str = ""
    capability: str | None = None

    def describe(self) -> str:
        """A short English statement of the requirement, e.g. ``≥ 10000 IOPS``."""
        if self.kind is RequirementKind.NOT_REQUIRED:
            return "not required"
        if self.kind is RequirementKind.RECORD:
            return "must be recorded"
        if self.kind is RequirementKind.CAPABILITY:
            return f"capability '{self.capability}' declared"
        assert self.value is not None
        return f"{self.operator} {format_number(self.value)} {self.unit}".rstrip()


@dataclass(frozen=True, slots=True)
class PerformanceRow:
    """One row of the 8.2.3 table, e.g. ``7.3.1.a.1`` 在线场景 TTFT (ms)."""

    id: str
    section: str
    group: str
    group_zh: str
    label_zh: str
    gloss_en: str
    unit: str
    direction: str  # higher | lower | none
    cells: tuple[str, ...]
    requirements: tuple[LevelRequirement, ...]
    capabilities: Mapping[str, str]

    def requirement(self, level: int) -> LevelRequirement:
        """The requirement at ``level`` (1–5)."""
        if not 1 <= level <= len(self.requirements):
            raise ValueError(f"level must be 1..{len(self.requirements)}, got {level}")
        return self.requirements[level - 1]


@dataclass(frozen=True, slots=True)
class LevelDefinition:
    """One level of 8.1."""

    level: int
    name_zh: str
    name_en: str
    definition_zh: str
    gloss_en: str


@dataclass(frozen=True, slots=True)
class GradingRules:
    """The parameters of 8.2."""

    security_section: str
    functional_prerequisites: tuple[str, ...]
    functional_rate_sections: tuple[str, ...]
    functional_rate_percent: Mapping[int, Fraction]
    ladder: bool


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """A place where the standard admits several readings, and the one applied."""

    id: str
    where: str
    text_zh: str
    issue_en: str
    reading_en: str
    effect_en: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The whole catalogue; build it with :func:`services.assessment.catalogue.load_catalogue`."""

    chapters: Mapping[str, Chapter]
    clauses: tuple[Clause, ...]
    performance_rows: tuple[PerformanceRow, ...]
    levels: tuple[LevelDefinition, ...]
    grading: GradingRules
    ambiguities: tuple[Ambiguity, ...]

    def clause(self, clause_id: str) -> Clause:
        """The clause ``clause_id``; raises ``KeyError`` naming it when unknown."""
        for clause in self.clauses:
            if clause.id == clause_id:
                return clause
        raise KeyError(f"unknown clause id {clause_id!r}")

    @property
    def clause_ids(self) -> frozenset[str]:
        """Every clause id."""
        return frozenset(c.id for c in self.clauses)

    def chapter_path(self, section: str) -> tuple[Chapter, ...]:
        """The chapters from the top down to ``section`` (``6`` → ``6.2`` → ``6.2.4`` → ``6.2.4.2``)."""
        parts = section.split(".")
        return tuple(self.chapters[".".join(parts[:n])] for n in range(1, len(parts) + 1))

    def clauses_in(self, sections: Iterable[str]) -> tuple[Clause, ...]:
        """Clauses lying in any of ``sections`` (each with its sub-sections)."""
        wanted = tuple(sections)
        return tuple(c for c in self.clauses if any(c.in_section(s) for s in wanted))

    def mandatory_in(self, sections: Iterable[str]) -> tuple[Clause, ...]:
        """Mandatory clauses lying in any of ``sections``."""
        return tuple(c for c in self.clauses_in(sections) if c.is_mandatory)

    def ambiguity(self, ambiguity_id: str) -> Ambiguity:
        """The ambiguity ``ambiguity_id``; raises ``KeyError`` naming it when unknown."""
        for item in self.ambiguities:
            if item.id == ambiguity_id:
                return item
        raise KeyError(f"unknown ambiguity id {ambiguity_id!r}")


def format_number(value: Fraction | float | int) -> str:
    """A compact decimal rendering of ``value`` (``Fraction(13, 20)`` → ``0.65``, ``10000`` → ``10000``)."""
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:.6g}"
