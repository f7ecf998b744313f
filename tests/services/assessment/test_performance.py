"""Benchmark result files and the per-level verdicts on 8.2.3 rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.assessment.benchmark_results import ResultsError, load_results
from services.assessment.catalogue import Catalogue
from services.assessment.performance import Judgement, assess_performance, judge_row


def _row(catalogue: Catalogue, row_id: str):
    return next(r for r in catalogue.performance_rows if r.id == row_id)


@pytest.mark.parametrize(
    ("row_id", "value", "unit", "level", "expected"),
    [
        ("7.1.1.a.1", 65, "%", 3, Judgement.NOT_MET),  # > 65 %: exactly 65 fails
        ("7.1.1.a.1", 0.65, "ratio", 3, Judgement.NOT_MET),  # same value in another unit, exact arithmetic
        ("7.1.1.a.1", 65.01, "%", 3, Judgement.SATISFIED),
        ("7.1.3.a.3", 5, "ms", 3, Judgement.SATISFIED),  # ≤ 5 ms: exactly 5 passes
        ("7.1.3.a.3", 2, "ms", 4, Judgement.NOT_MET),  # < 2 ms: exactly 2 fails
        ("7.1.3.a.3", 1.999, "ms", 4, Judgement.SATISFIED),
        ("7.1.3.a.2", 1, "万", 3, Judgement.SATISFIED),  # ≥1 万 IOPS
        ("7.1.3.a.2", 9999, "IOPS", 3, Judgement.NOT_MET),
        ("7.4.2.a.1", 10, "万 connections", 3, Judgement.SATISFIED),  # 10 万级
        ("7.4.2.a.1", 99_999, "connections", 3, Judgement.NOT_MET),
        ("7.1.1.c.1", 256, "cards", 3, Judgement.SATISFIED),  # 256 级
        ("7.3.1.a.1", 2000, "ms", 2, Judgement.SATISFIED),
        ("7.3.1.a.1", 2, "s", 2, Judgement.SATISFIED),
        ("7.3.1.a.1", 2001, "ms", 2, Judgement.NOT_MET),
        ("7.3.1.a.1", 99_999, "ms", 1, Judgement.SATISFIED),  # level 1 only records
        ("7.1.2.b.1", 10, "%", 1, Judgement.NOT_REQUIRED),
        ("7.3.1.e.1", 500, "connections", 2, Judgement.NOT_MET),  # > 500
    ],
)
def test_judge_row_at_and_around_thresholds(
    catalogue, build, tmp_path: Path, row_id, value, unit, level, expected
):
    results = load_results(
        build.write_results(tmp_path, [build.result_record(row_id, value, unit)]), catalogue=catalogue
    )
    assert judge_row(_row(catalogue, row_id), results[row_id], level).judgement is expected


def test_missing_record_blocks_record_levels_but_not_unrequired_ones(catalogue: Catalogue):
    row = _row(catalogue, "7.1.2.b.1")
    assert judge_row(row, None, 1).judgement is Judgement.NOT_REQUIRED
    assert judge_row(row, None, 3).judgement is Judgement.NOT_RECORDED


def test_capability_rows(catalogue, build, tmp_path: Path):
    record = build.result_record("7.2.2.a.3", None, "", capabilities=["dedup", "layered_cache"])
    results = load_results(build.write_results(tmp_path, [record]), catalogue=catalogue)
    row = _row(catalogue, "7.2.2.a.3")
    verdicts = [judge_row(row, results[row.id], level).judgement for level in range(1, 6)]
    assert verdicts == [Judgement.SATISFIED] * 4 + [Judgement.NOT_MET]


def test_simulated_results_count_only_with_simulated(catalogue, build, tmp_path: Path):
    records = [
        build.result_record("7.3.1.a.1", 400, "ms", simulated=True),
        build.result_record("7.3.1.a.2", 400, "ms", environment={"simulated": True}),
        build.result_record("7.3.1.b.1", 1000, "tokens/s"),
    ]
    results = load_results(build.write_results(tmp_path, records), catalogue=catalogue)
    by_id = {a.row.id: a for a in assess_performance(catalogue=catalogue, results=results)}
    assert by_id["7.3.1.a.1"].strict[4].judgement is Judgement.NOT_RECORDED
    assert "simulated" in by_id["7.3.1.a.1"].strict[4].reason
    assert by_id["7.3.1.a.1"].with_simulated[4].judgement is Judgement.SATISFIED
    assert by_id["7.3.1.a.2"].with_simulated[0].judgement is Judgement.SATISFIED
    assert by_id["7.3.1.a.2"].strict[0].judgement is Judgement.NOT_RECORDED
    assert by_id["7.3.1.b.1"].strict[0].judgement is Judgement.SATISFIED


def test_result_files_may_hold_one_object_or_a_list_in_nested_folders(catalogue, build, tmp_path: Path):
    (tmp_path / "gateway").mkdir()
    (tmp_path / "gateway" / "one.json").write_text(json.dumps(build.result_record("7.4.2.a.2", 80, "ms")))
    build.write_results(tmp_path, [build.result_record("7.3.1.f.1", 20, "ms/token")], name="many.json")
    results = load_results(tmp_path, catalogue=catalogue)
    assert set(results) == {"7.4.2.a.2", "7.3.1.f.1"}
    assert results["7.4.2.a.2"].source == "gateway/one.json"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"metric": "7.9.9.z.1", "value": 1, "unit": "ms", "method": "m", "environment": {}}, "8.2.3 row id"),
        (
            {"metric": "7.3.1.a.1", "value": 1, "unit": "GB/s", "method": "m", "environment": {}},
            "cannot convert",
        ),
        ({"metric": "7.3.1.a.1", "value": 1, "unit": "ms", "method": "", "environment": {}}, "method"),
        ({"metric": "7.3.1.a.1", "value": 1, "unit": "ms", "method": "m"}, "environment"),
        (
            {"metric": "7.3.1.a.1", "value": "fast", "unit": "ms", "method": "m", "environment": {}},
            "finite number",
        ),
        ({"metric": "7.3.1.a.1", "value": None, "unit": "ms", "method": "m", "environment": {}}, "null"),
        (
            {
                "metric": "7.2.2.a.3",
                "value": None,
                "unit": "",
                "method": "m",
                "environment": {},
                "capabilities": ["x"],
            },
            "unknown capabilities",
        ),
    ],
)
def test_bad_result_files_raise_a_clear_error(catalogue, build, tmp_path: Path, record, message):
    with pytest.raises(ResultsError, match=message):
        load_results(build.write_results(tmp_path, [record]), catalogue=catalogue)


def test_a_metric_given_twice_is_an_error(catalogue, build, tmp_path: Path):
    build.write_results(tmp_path, [build.result_record("7.3.1.a.1", 1, "ms")], name="a.json")
    build.write_results(tmp_path, [build.result_record("7.3.1.a.1", 2, "ms")], name="b.json")
    with pytest.raises(ResultsError, match=r"already given by a\.json"):
        load_results(tmp_path, catalogue=catalogue)
