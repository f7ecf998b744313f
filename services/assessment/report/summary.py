"""Figures shared by the renderers: per-chapter tallies and catalogue counts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from services.assessment.catalogue import Modality
from services.assessment.domain import AssessmentRun
from services.assessment.status import Counting, Status, is_met

STANDARD = {
    "designation": "T/ISC (征求意见稿, draft for comments)",
    "title_zh": "安全可信智能云平台能力分级方法",
    "title_en": "Capability Grading Method for Secure and Trustworthy Intelligent Cloud Platforms",
}


@dataclass(frozen=True, slots=True)
class ChapterSummary:
    """The mandatory clauses of one chapter by status, and how many are met under each counting."""

    id: str
    title_zh: str
    title_en: str
    depth: int
    clauses: int
    mandatory: int
    by_status: dict[str, int]
    met_strict: int
    met_with_simulated: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "depth": self.depth,
            "clauses": self.clauses,
            "mandatory": self.mandatory,
            "mandatory_by_status": self.by_status,
            "mandatory_met_strict": self.met_strict,
            "mandatory_met_with_simulated": self.met_with_simulated,
        }


def chapter_summaries(run: AssessmentRun, *, depths: tuple[int, ...] = (2, 3)) -> list[ChapterSummary]:
    """A summary for every chapter of the given depths (``6.2`` has depth 2) that holds clauses."""
    summaries = []
    for chapter in run.catalogue.chapters.values():
        depth = chapter.id.count(".") + 1
        if depth not in depths:
            continue
        results = [r for r in run.clauses if r.clause.in_section(chapter.id)]
        if not results:
            continue
        mandatory = [r for r in results if r.clause.is_mandatory]
        statuses = Counter(r.status.value for r in mandatory)
        summaries.append(
            ChapterSummary(
                id=chapter.id,
                title_zh=chapter.title_zh,
                title_en=chapter.title_en,
                depth=depth,
                clauses=len(results),
                mandatory=len(mandatory),
                by_status={s.value: statuses.get(s.value, 0) for s in Status},
                met_strict=sum(is_met(r.status, Counting.STRICT) for r in mandatory),
                met_with_simulated=sum(is_met(r.status, Counting.WITH_SIMULATED) for r in mandatory),
            )
        )
    return summaries


def catalogue_counts(run: AssessmentRun) -> dict[str, int]:
    """How many clauses and rows the catalogue holds, by kind."""
    catalogue = run.catalogue
    rules = catalogue.grading
    modalities = Counter(c.modality for c in catalogue.clauses)
    return {
        "clauses": len(catalogue.clauses),
        "mandatory": modalities[Modality.MANDATORY],
        "recommended": modalities[Modality.RECOMMENDED],
        "optional": modalities[Modality.OPTIONAL],
        "section_5_clauses": len(catalogue.clauses_in([rules.security_section])),
        "section_5_mandatory": len(catalogue.mandatory_in([rules.security_section])),
        "mandatory_6_2_to_6_4": len(catalogue.mandatory_in(rules.functional_rate_sections)),
        "performance_rows": len(catalogue.performance_rows),
    }
