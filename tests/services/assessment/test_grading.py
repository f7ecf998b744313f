"""Grading by 8.2: table-driven at and around every threshold."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import pytest

from services.assessment.benchmark_results import BenchmarkResult
from services.assessment.catalogue import Catalogue
from services.assessment.grading import grade
from services.assessment.performance import Judgement, RowJudgement, judge_row
from services.assessment.status import Counting


def _measured(row_id: str, value: float | None, capabilities: tuple[str, ...] = ()) -> BenchmarkResult:
    return BenchmarkResult(
        metric=row_id,
        value=None if value is None else Fraction(str(value)),
        reported_value=value,
        reported_unit="",
        method="test",
        environment={},
        simulated=False,
        capabilities=capabilities,
        source="test",
    )


def _verdicts(
    catalogue: Catalogue, values: Mapping[str, BenchmarkResult | None]
) -> dict[str, list[RowJudgement]]:
    return {
        row.id: [judge_row(row, values.get(row.id), level) for level in range(1, 6)]
        for row in catalogue.performance_rows
    }


def _all_rows_pass(catalogue: Catalogue) -> dict[str, list[RowJudgement]]:
    return {
        row.id: [
            RowJudgement(row.id, n, Judgement.SATISFIED, row.requirement(n), "test") for n in range(1, 6)
        ]
        for row in catalogue.performance_rows
    }


def _grade(catalogue, met, rows):
    return grade(catalogue=catalogue, clause_met=met, row_judgements=rows, counting=Counting.STRICT)


@pytest.mark.parametrize(
    ("met", "level"),
    [(9, 0), (10, 1), (12, 1), (13, 2), (15, 2), (16, 3), (17, 3), (18, 4), (19, 5), (20, 5)],
)
def test_rate_thresholds_on_20_mandatory_clauses(build, met: int, level: int):
    # 50 % = 10, 65 % = 13, 80 % = 16 (exactly 80.0 %), 90 % = 18, 95 % = 19: "及以上" means ≥.
    catalogue = build.small_catalogue(rate_mandatory=20)
    recorded = {r.id: _measured(r.id, 1) for r in catalogue.performance_rows}
    result = _grade(catalogue, build.met_map(catalogue, rate_met=met), _verdicts(catalogue, recorded))
    assert result.level == level
    assert result.rate == Fraction(met, 20)


@pytest.mark.parametrize(
    ("met", "level"),
    [(84, 0), (85, 1), (110, 1), (111, 2), (135, 2), (136, 3), (152, 3), (153, 4), (161, 4), (162, 5)],
)
def test_rate_thresholds_on_the_real_catalogue(catalogue: Catalogue, build, met: int, level: int):
    # 170 mandatory clauses in 6.2–6.4: 136/170 is exactly 80.0 %; 110.5 and 161.5 round up.
    result = _grade(catalogue, build.met_map(catalogue, rate_met=met), _all_rows_pass(catalogue))
    assert (result.level, result.mandatory_total) == (level, 170)


def test_rate_blocker_says_how_many_more_and_which(catalogue: Catalogue, build):
    result = _grade(catalogue, build.met_map(catalogue, rate_met=135), _all_rows_pass(catalogue))
    (blocker,) = [b for b in result.blocking()[3] if b.item == "6.2–6.4 rate"]
    assert "135/170" in blocker.reason and "1 more" in blocker.reason
    assert result.unmet_mandatory[0] in blocker.reason


@pytest.mark.parametrize(
    ("cells", "unit", "direction", "value", "level"),
    [
        (["记录", "记录", "> 65%", "> 75%", "> 85%"], "%", "higher", 75, 3),  # > : on the threshold fails
        (["记录", "记录", "> 65%", "> 75%", "> 85%"], "%", "higher", 75.5, 4),
        (["记录", "记录", "> 65%", "> 75%", "> 85%"], "%", "higher", 65, 2),
        (["记录", "记录", "≤5 ms", "<2 ms", "<1 ms"], "ms", "lower", 5, 3),  # ≤ : on the threshold passes
        (["记录", "记录", "≤5 ms", "<2 ms", "<1 ms"], "ms", "lower", 2, 3),  # < : on the threshold fails
        (["记录", "记录", "≤5 ms", "<2 ms", "<1 ms"], "ms", "lower", 0.5, 5),
        (["记录", "≤ 2000 ms", "≤ 1000 ms", "≤ 800 ms", "≤ 500 ms"], "ms", "lower", 2000, 2),
        (["记录", "记录", "≥1 万", "≥5 万", "≥20 万"], "IOPS", "higher", 50_000, 4),
    ],
)
def test_performance_operators(build, cells, unit, direction, value, level):
    catalogue = build.small_catalogue(rows=[("7.1.3.a.1", cells, unit, direction)])
    verdicts = _verdicts(catalogue, {"7.1.3.a.1": _measured("7.1.3.a.1", value)})
    assert _grade(catalogue, build.met_map(catalogue), verdicts).level == level


@pytest.mark.parametrize(
    ("cells", "level"),
    [
        (["记录"] * 5, 0),  # a missing record fails level 1
        (["—", "—", "记录", "记录", "记录"], 2),  # not required below level 3
    ],
)
def test_missing_record(build, cells, level):
    catalogue = build.small_catalogue(rows=[("7.1.2.b.1", cells, "%", "higher")])
    result = _grade(catalogue, build.met_map(catalogue), _verdicts(catalogue, {}))
    assert result.level == level
    assert any(b.item == "7.1.2.b.1" and "not_recorded" in b.reason for b in result.blocking()[level + 1])


@pytest.mark.parametrize("achievable", [1, 2, 3, 4, 5])
def test_a_failed_section_5_clause_blocks_every_level(build, achievable: int):
    catalogue = build.small_catalogue(rate_mandatory=20)
    rate_met = {1: 10, 2: 13, 3: 16, 4: 18, 5: 20}[achievable]
    rows = _verdicts(catalogue, {r.id: _measured(r.id, 1) for r in catalogue.performance_rows})
    assert _grade(catalogue, build.met_map(catalogue, rate_met=rate_met), rows).level == achievable
    result = _grade(catalogue, build.met_map(catalogue, rate_met=rate_met, unmet=["5.1.1.b"]), rows)
    assert result.level == 0
    for level in range(1, 6):
        assert not result.outcome(level).security_passed
        assert any(b.module == "security" and b.item == "5.1.1.b" for b in result.blocking()[level])


@pytest.mark.parametrize("prerequisite", ["6.1.a", "6.1.b", "6.1.c"])
def test_a_failed_6_1_prerequisite_blocks_every_level(build, prerequisite: str):
    catalogue = build.small_catalogue()
    rows = _verdicts(catalogue, {r.id: _measured(r.id, 1) for r in catalogue.performance_rows})
    result = _grade(catalogue, build.met_map(catalogue, unmet=[prerequisite]), rows)
    assert result.level == 0
    assert all(not o.functional_passed for o in result.levels)
    assert any(b.item == prerequisite for b in result.blocking()[1])


def test_recommended_clauses_do_not_count(build):
    catalogue = build.small_catalogue(rate_mandatory=10)
    rows = _verdicts(catalogue, {r.id: _measured(r.id, 1) for r in catalogue.performance_rows})
    result = _grade(catalogue, build.met_map(catalogue, unmet=["6.2.1.z"]), rows)
    assert (result.level, result.mandatory_total) == (5, 10)


def test_stepwise_admission_needs_every_lower_level(build):
    # 支持去重 at 3, 支持分层缓存 at 4: declaring only layered caching passes level 4 but not level 3.
    cells = ["记录", "记录", "支持去重", "支持分层缓存", "极致去重分发"]
    capabilities = {"支持去重": "dedup", "支持分层缓存": "layered_cache", "极致去重分发": "extreme"}
    catalogue = build.small_catalogue(rows=[("7.2.2.a.3", cells, "", "none")], capabilities=capabilities)
    row = catalogue.performance_rows[0]
    verdicts = {row.id: [judge_row(row, _measured(row.id, None, ("layered_cache",)), n) for n in range(1, 6)]}
    result = _grade(catalogue, build.met_map(catalogue), verdicts)
    assert result.outcome(4).passed and not result.outcome(3).passed
    assert result.level == 2
    assert result.blocking()[4][0].item == "level 3"


def test_level_5_has_nothing_blocking(build):
    catalogue = build.small_catalogue()
    rows = _verdicts(catalogue, {r.id: _measured(r.id, 1) for r in catalogue.performance_rows})
    result = _grade(catalogue, build.met_map(catalogue), rows)
    assert result.level == 5 and result.blocking() == {}


def test_grade_refuses_incomplete_inputs(catalogue: Catalogue, build):
    with pytest.raises(ValueError, match="clause_met lacks"):
        _grade(catalogue, {}, _all_rows_pass(catalogue))
    with pytest.raises(ValueError, match="row_judgements lacks"):
        _grade(catalogue, build.met_map(catalogue), {})
