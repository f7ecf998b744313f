"""The curated catalogue holds exactly the standard's clauses, rows and levels (parsed from its text)."""

from __future__ import annotations

import re

import pytest

from services.assessment.catalogue import Catalogue, Modality
from services.assessment.catalogue.standard_parser import ParsedStandard, modality_of


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_catalogue_holds_exactly_the_clauses_of_sections_5_and_6(
    catalogue: Catalogue, standard: ParsedStandard
):
    assert [c.id for c in catalogue.clauses] == [c.id for c in standard.clauses]
    assert len(catalogue.clauses) == 279


def test_clause_text_is_verbatim(catalogue: Catalogue, standard: ParsedStandard):
    mismatched = [p.id for p in standard.clauses if catalogue.clause(p.id).text_zh != p.text]
    assert mismatched == []


def test_modality_matches_the_modal_verb_or_a_recorded_reading(
    catalogue: Catalogue, standard: ParsedStandard
):
    for parsed in standard.clauses:
        clause = catalogue.clause(parsed.id)
        if parsed.modality is None:
            assert clause.modality_source == "reading", parsed.id
            assert clause.ambiguity in {a.id for a in catalogue.ambiguities}, parsed.id
        else:
            assert clause.modality.value == parsed.modality, parsed.id
            expected_source = "inherited" if parsed.modality_source == "inherited" else "explicit"
            assert clause.modality_source == expected_source, parsed.id


def test_only_6_4_3_a_and_b_lack_a_modal_verb(standard: ParsedStandard):
    assert [c.id for c in standard.clauses if c.modality is None] == ["6.4.3.a", "6.4.3.b"]


def test_items_under_the_lead_in_inherit_mandatory(catalogue: Catalogue):
    for letter in "defg":
        clause = catalogue.clause(f"6.2.1.1.{letter}")
        assert clause.modality is Modality.MANDATORY and clause.modality_source == "inherited"


def test_counts_of_mandatory_clauses(catalogue: Catalogue):
    assert len(catalogue.mandatory_in(["5"])) == 23
    assert len(catalogue.mandatory_in(["6.2", "6.3", "6.4"])) == 170
    assert catalogue.clause("6.4.1.b").modality is Modality.MANDATORY  # 需具备


def test_relations_are_those_the_text_states(catalogue: Catalogue, standard: ParsedStandard):
    parsed = {c.id: c.relations for c in standard.clauses if c.relations}
    curated = {c.id: tuple(r.section for r in c.derived_from) for c in catalogue.clauses if c.derived_from}
    assert curated == parsed == {"6.3.2.2.a": ("6.3.2.1",)}


def test_chapter_titles_are_verbatim(catalogue: Catalogue, standard: ParsedStandard):
    assert {k: v.title_zh for k, v in catalogue.chapters.items()} == standard.headings


def test_every_section_5_clause_is_attestable_and_hardware_facts_are_in_section_6(catalogue: Catalogue):
    for clause in catalogue.clauses:
        if clause.part == "5":
            assert clause.attestable is not None and clause.attestable.value == "section_5"
        elif clause.attestable is not None:
            assert clause.attestable.value == "hardware_fact" and clause.attestation_subject_en


def test_performance_rows_match_the_8_2_3_table(catalogue: Catalogue, standard: ParsedStandard):
    parsed = {r.id: r for r in standard.performance_rows}
    assert [r.id for r in catalogue.performance_rows] == list(parsed)
    assert len(parsed) == 46
    for row in catalogue.performance_rows:
        assert _compact(row.label_zh) == _compact(parsed[row.id].label), row.id
        assert tuple(_compact(c) for c in row.cells) == parsed[row.id].cells, row.id


def test_levels_and_rates_match_8_1_and_8_2_2(catalogue: Catalogue, standard: ParsedStandard):
    assert [(d.level, d.name_zh, d.definition_zh) for d in catalogue.levels] == [
        (p.level, p.name, p.definition) for p in standard.levels
    ]
    rates = catalogue.grading.functional_rate_percent
    assert (
        tuple(float(rates[n]) for n in range(1, 6))
        == standard.rate_thresholds_percent
        == (50, 65, 80, 90, 95)
    )


@pytest.mark.parametrize(
    "ambiguity_id",
    ["8.2.2-6.1d", "6.4.3-no-modal-verb", "7.1.2-shared-title", "7.4.2-units-wan"],
)
def test_the_ambiguities_named_by_the_issue_are_recorded(catalogue: Catalogue, ambiguity_id: str):
    item = catalogue.ambiguity(ambiguity_id)
    assert item.reading_en and item.effect_en


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("应支持块存储服务；", "mandatory"),
        ("镜像仓库需具备国产软件成分分析（SCA）能力", "mandatory"),
        ("宜支持流式推理；", "recommended"),
        ("可提供模型权重格式转换与切分工具", "optional"),
        ("从底层驱动到上层框架再到应用的端到端日志聚合与检索。", None),  # 应用 is not 应
        ("组织应为在中华人民共和国境内注册的企业法人", "mandatory"),
        ("宜采用安全可信的代码签名工具", "recommended"),  # 可信 after 宜 does not matter
        ("具备需求分析能力", None),  # 需求 is not 需
    ],
)
def test_modality_of(text: str, expected: str | None):
    assert modality_of(text) == expected
