"""Unit conversion and the interpretation of 8.2.3 level cells."""

from __future__ import annotations

from fractions import Fraction

import pytest

from services.assessment.catalogue import CatalogueError, RequirementKind, parse_cell
from services.assessment.units import UnitError, convert


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (0.65, "ratio", "%", Fraction(65)),
        (5, "万", "IOPS", Fraction(50_000)),
        (10, "万 connections", "connections", Fraction(100_000)),
        (1.5, "μ s", "us", Fraction(3, 2)),
        (2000, "MB/s", "GB/s", Fraction(2)),
        (0.5, "min", "s", Fraction(30)),
        (250, "ms", "s", Fraction(1, 4)),
    ],
)
def test_convert(value: float, source: str, target: str, expected: Fraction):
    assert convert(value, from_unit=source, to_unit=target) == expected


@pytest.mark.parametrize(
    ("source", "target"), [("QPS", "IOPS"), ("ms", "GB/s"), ("%", "ms"), ("furlongs", "ms")]
)
def test_convert_refuses_other_dimensions_and_unknown_units(source: str, target: str):
    with pytest.raises(UnitError):
        convert(1, from_unit=source, to_unit=target)


@pytest.mark.parametrize(
    ("cell", "unit", "kind", "operator", "value"),
    [
        ("—", "%", RequirementKind.NOT_REQUIRED, None, None),
        ("记录", "%", RequirementKind.RECORD, None, None),
        ("> 65%", "%", RequirementKind.THRESHOLD, ">", Fraction(65)),
        ("≤5 ms", "ms", RequirementKind.THRESHOLD, "≤", Fraction(5)),
        ("< 1.5 μ s", "us", RequirementKind.THRESHOLD, "<", Fraction(3, 2)),
        ("≥1 万", "IOPS", RequirementKind.THRESHOLD, "≥", Fraction(10_000)),
        ("> 20,000", "QPS", RequirementKind.THRESHOLD, ">", Fraction(20_000)),
        ("≥2GB/s", "GB/s", RequirementKind.THRESHOLD, "≥", Fraction(2)),
        ("≤ 2.5 s", "s", RequirementKind.THRESHOLD, "≤", Fraction(5, 2)),
        ("256 级", "cards", RequirementKind.THRESHOLD, "≥", Fraction(256)),
        ("万级", "cards", RequirementKind.THRESHOLD, "≥", Fraction(10_000)),
        ("10 万级", "connections", RequirementKind.THRESHOLD, "≥", Fraction(100_000)),
        ("百万级", "connections", RequirementKind.THRESHOLD, "≥", Fraction(1_000_000)),
    ],
)
def test_parse_cell(
    cell: str, unit: str, kind: RequirementKind, operator: str | None, value: Fraction | None
):
    requirement = parse_cell(cell, unit=unit, capabilities={})
    assert (requirement.kind, requirement.operator, requirement.value) == (kind, operator, value)


def test_parse_cell_capability_and_unknown_text():
    requirement = parse_cell("支持去重", unit="", capabilities={"支持去重": "dedup"})
    assert requirement.kind is RequirementKind.CAPABILITY and requirement.capability == "dedup"
    with pytest.raises(CatalogueError, match="capabilities"):
        parse_cell("非常快", unit="", capabilities={})
    with pytest.raises(CatalogueError, match="convert"):
        parse_cell("> 5 ms", unit="GB/s", capabilities={})
