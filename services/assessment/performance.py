"""Judge each 8.2.3 row at each level from the benchmark results (module 3 of 8.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from services.assessment.benchmark_results import BenchmarkResult
from services.assessment.catalogue import Catalogue, LevelRequirement, PerformanceRow, RequirementKind
from services.assessment.catalogue.loader import LEVELS
from services.assessment.catalogue.models import format_number
from services.assessment.status import Counting


class Judgement(StrEnum):
    """The verdict on one row at one level."""

    SATISFIED = "satisfied"
    NOT_REQUIRED = "not_required"
    NOT_MET = "not_met"
    NOT_RECORDED = "not_recorded"

    @property
    def passes(self) -> bool:
        """True when the row does not block the level."""
        return self in (Judgement.SATISFIED, Judgement.NOT_REQUIRED)


@dataclass(frozen=True, slots=True)
class RowJudgement:
    """The verdict on ``row_id`` at ``level`` with the reason in words."""

    row_id: str
    level: int
    judgement: Judgement
    requirement: LevelRequirement
    reason: str


@dataclass(frozen=True, slots=True)
class RowAssessment:
    """One row: its result (if any) and the verdicts at levels 1–5 under both countings."""

    row: PerformanceRow
    result: BenchmarkResult | None
    strict: tuple[RowJudgement, ...]
    with_simulated: tuple[RowJudgement, ...]

    def judgements(self, counting: Counting) -> tuple[RowJudgement, ...]:
        """The verdicts at levels 1–5 under ``counting``."""
        return self.strict if counting is Counting.STRICT else self.with_simulated

    def recorded(self, counting: Counting) -> bool:
        """True when a result counts under ``counting``."""
        return self.result is not None and (counting is Counting.WITH_SIMULATED or not self.result.simulated)


def _compare(value: Fraction, operator: str, threshold: Fraction) -> bool:
    return {
        ">": value > threshold,
        "≥": value >= threshold,
        "<": value < threshold,
        "≤": value <= threshold,
    }[operator]


def judge_row(row: PerformanceRow, result: BenchmarkResult | None, level: int) -> RowJudgement:
    """The verdict on ``row`` at ``level`` given ``result`` (``None``: nothing recorded that counts)."""
    requirement = row.requirement(level)
    if requirement.kind is RequirementKind.NOT_REQUIRED:
        return RowJudgement(row.id, level, Judgement.NOT_REQUIRED, requirement, "not required at this level")
    if result is None:
        return RowJudgement(row.id, level, Judgement.NOT_RECORDED, requirement, "no result recorded")
    if requirement.kind is RequirementKind.RECORD:
        return RowJudgement(row.id, level, Judgement.SATISFIED, requirement, "recorded")
    if requirement.kind is RequirementKind.CAPABILITY:
        token = requirement.capability
        if token in result.capabilities:
            return RowJudgement(row.id, level, Judgement.SATISFIED, requirement, f"declares {token}")
        return RowJudgement(row.id, level, Judgement.NOT_MET, requirement, f"does not declare {token}")
    assert requirement.operator is not None and requirement.value is not None
    if result.value is None:
        return RowJudgement(row.id, level, Judgement.NOT_MET, requirement, "result has no numeric value")
    shown = f"{format_number(result.value)} {row.unit}".rstrip()
    if _compare(result.value, requirement.operator, requirement.value):
        return RowJudgement(
            row.id, level, Judgement.SATISFIED, requirement, f"{shown} {requirement.describe()}"
        )
    return RowJudgement(
        row.id, level, Judgement.NOT_MET, requirement, f"{shown} fails {requirement.describe()}"
    )


def assess_performance(
    *, catalogue: Catalogue, results: Mapping[str, BenchmarkResult]
) -> tuple[RowAssessment, ...]:
    """Every row of the 8.2.3 table judged at every level, strictly and counting simulated results."""
    assessments = []
    for row in catalogue.performance_rows:
        result = results.get(row.id)
        strict_result = result if result is not None and not result.simulated else None
        strict = tuple(judge_row(row, strict_result, level) for level in LEVELS)
        if result is not None and result.simulated:
            strict = tuple(
                RowJudgement(
                    j.row_id, j.level, j.judgement, j.requirement, "only a simulated result (not counted)"
                )
                if j.judgement is Judgement.NOT_RECORDED
                else j
                for j in strict
            )
        with_simulated = tuple(judge_row(row, result, level) for level in LEVELS)
        assessments.append(RowAssessment(row, result, strict, with_simulated))
    return tuple(assessments)
