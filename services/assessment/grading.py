"""Grading exactly by 8.2 of the standard: three modules, five levels, stepwise admission.

* Module 1 (8.2.1): every mandatory clause of section 5 is met — at every level.
* Module 2 (8.2.2): 6.1 a)–c) are met — at every level — and the share of mandatory clauses of
  6.2–6.4 that are met reaches 50/65/80/90/95 % ("及以上", i.e. ≥) for levels 1–5.
* Module 3 (8.2.3): every performance row is satisfied at the level.

A level passes when all three modules pass; the level awarded is the highest L such that levels 1..L
all pass (阶梯式准入, see the ``8.2-ladder`` ambiguity), 0 when level 1 fails. Arithmetic is exact.
The functions here are pure: they take "is this clause met" and the row verdicts, nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from services.assessment.catalogue import Catalogue
from services.assessment.catalogue.loader import LEVELS
from services.assessment.catalogue.models import format_number
from services.assessment.performance import RowJudgement
from services.assessment.status import Counting


@dataclass(frozen=True, slots=True)
class Blocker:
    """One thing that keeps a level from passing: its module (security/functional/performance), item, why."""

    module: str
    item: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {"module": self.module, "item": self.item, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class LevelOutcome:
    """The three modules at one level."""

    level: int
    security_passed: bool
    functional_passed: bool
    performance_passed: bool
    required_rate_percent: Fraction
    blockers: tuple[Blocker, ...]

    @property
    def passed(self) -> bool:
        """True when all three modules pass at this level."""
        return self.security_passed and self.functional_passed and self.performance_passed


@dataclass(frozen=True, slots=True)
class Grade:
    """The grade under one counting, with the figures it rests on."""

    counting: Counting
    level: int
    levels: tuple[LevelOutcome, ...]
    security_met: int
    security_total: int
    mandatory_met: int
    mandatory_total: int
    unmet_mandatory: tuple[str, ...]

    @property
    def rate(self) -> Fraction:
        """The exact share of 6.2–6.4 mandatory clauses met."""
        return Fraction(self.mandatory_met, self.mandatory_total)

    def outcome(self, level: int) -> LevelOutcome:
        """The outcome at ``level`` (1–5)."""
        return self.levels[level - 1]

    def blocking(self) -> dict[int, tuple[Blocker, ...]]:
        """For each level above the one awarded, exactly what is missing for it (lower levels included)."""
        blocking: dict[int, tuple[Blocker, ...]] = {}
        for level in range(self.level + 1, len(self.levels) + 1):
            below = tuple(
                Blocker("ladder", f"level {lower}", f"level {lower} does not pass")
                for lower in range(self.level + 1, level)
            )
            blocking[level] = below + self.outcome(level).blockers
        return blocking

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the grade."""
        return {
            "counting": self.counting.value,
            "level": self.level,
            "security": {"mandatory_met": self.security_met, "mandatory_total": self.security_total},
            "functional": {
                "mandatory_met": self.mandatory_met,
                "mandatory_total": self.mandatory_total,
                "rate": float(self.rate),
            },
            "levels": [
                {
                    "level": o.level,
                    "passed": o.passed,
                    "security": o.security_passed,
                    "functional": o.functional_passed,
                    "performance": o.performance_passed,
                    "required_rate": float(o.required_rate_percent / 100),
                    "blockers": [b.as_dict() for b in o.blockers],
                }
                for o in self.levels
            ],
            "blocking": {
                str(level): [b.as_dict() for b in items] for level, items in self.blocking().items()
            },
        }


def _percent(value: Fraction) -> str:
    return f"{format_number(round(float(value * 100), 2))} %"


def grade(
    *,
    catalogue: Catalogue,
    clause_met: Mapping[str, bool],
    row_judgements: Mapping[str, Sequence[RowJudgement]],
    counting: Counting,
) -> Grade:
    """Grade by 8.2 from which clauses are met and the per-level verdicts of every performance row.

    ``clause_met`` must give every clause of the catalogue; ``row_judgements`` every row, levels 1–5.
    """
    if missing := sorted(catalogue.clause_ids - set(clause_met)):
        raise ValueError(f"clause_met lacks {len(missing)} clauses, e.g. {missing[:3]}")
    if missing_rows := sorted({r.id for r in catalogue.performance_rows} - set(row_judgements)):
        raise ValueError(f"row_judgements lacks rows {missing_rows}")
    rules = catalogue.grading
    security = catalogue.mandatory_in([rules.security_section])
    security_unmet = [c.id for c in security if not clause_met[c.id]]
    prerequisites_unmet = [c for c in rules.functional_prerequisites if not clause_met[c]]
    mandatory = catalogue.mandatory_in(rules.functional_rate_sections)
    if not mandatory:
        raise ValueError("the catalogue has no mandatory clause in the rate sections")
    unmet = tuple(c.id for c in mandatory if not clause_met[c.id])
    met = len(mandatory) - len(unmet)
    outcomes = []
    for level in LEVELS:
        percent = rules.functional_rate_percent[level]
        blockers = [Blocker("security", c, "mandatory section-5 clause not met") for c in security_unmet]
        blockers += [
            Blocker("functional", c, "6.1 prerequisite not met (all levels)") for c in prerequisites_unmet
        ]
        rate_ok = met * 100 >= percent * len(mandatory)
        if not rate_ok:
            needed = math.ceil(percent * len(mandatory) / 100) - met
            blockers.append(
                Blocker(
                    "functional",
                    "6.2–6.4 rate",
                    f"{met}/{len(mandatory)} = {_percent(Fraction(met, len(mandatory)))}"
                    f" < {_percent(percent / 100)}:"
                    f" {needed} more of the unmet mandatory clauses needed: {', '.join(unmet)}",
                )
            )
        row_blockers = [
            Blocker("performance", row.id, f"{row.label_zh}: {j.judgement.value} — {j.reason}")
            for row in catalogue.performance_rows
            if not (j := row_judgements[row.id][level - 1]).judgement.passes
        ]
        blockers += row_blockers
        outcomes.append(
            LevelOutcome(
                level=level,
                security_passed=not security_unmet,
                functional_passed=not prerequisites_unmet and rate_ok,
                performance_passed=not row_blockers,
                required_rate_percent=percent,
                blockers=tuple(blockers),
            )
        )
    awarded = 0
    for outcome in outcomes:
        if not outcome.passed:
            if rules.ladder:
                break
            continue
        awarded = outcome.level
    return Grade(
        counting=counting,
        level=awarded,
        levels=tuple(outcomes),
        security_met=len(security) - len(security_unmet),
        security_total=len(security),
        mandatory_met=met,
        mandatory_total=len(mandatory),
        unmet_mandatory=unmet,
    )
