"""The JSON report: one JSON-ready dict with counts, both levels, blockers, and one entry per clause."""

from __future__ import annotations

from collections import Counter
from typing import Any

from services.assessment.domain import AssessmentRun
from services.assessment.report.summary import STANDARD, catalogue_counts, chapter_summaries
from services.assessment.status import Counting, is_met

SCHEMA = "stic.assessment-report/v1"


def _performance(run: AssessmentRun) -> dict[str, Any]:
    table = []
    for item in run.performance:
        row = item.row
        table.append(
            {
                "id": row.id,
                "group_zh": row.group_zh,
                "label_zh": row.label_zh,
                "gloss_en": row.gloss_en,
                "unit": row.unit,
                "direction": row.direction,
                "result": item.result.as_dict() if item.result else None,
                "levels": [
                    {
                        "level": strict.level,
                        "cell_zh": strict.requirement.cell_zh,
                        "requirement": strict.requirement.describe(),
                        "strict": strict.judgement.value,
                        "with_simulated": sim.judgement.value,
                        "reason_strict": strict.reason,
                        "reason_with_simulated": sim.reason,
                    }
                    for strict, sim in zip(item.strict, item.with_simulated, strict=True)
                ],
            }
        )
    return {
        "rows": len(run.performance),
        "recorded": sum(a.recorded(Counting.WITH_SIMULATED) for a in run.performance),
        "recorded_strict": sum(a.recorded(Counting.STRICT) for a in run.performance),
        "table": table,
    }


def render_json(run: AssessmentRun) -> dict[str, Any]:
    """The assessment as a JSON-ready dict (see README of the assessment for the shape)."""
    rules = run.catalogue.grading
    prerequisites = {cid: run.clause_result(cid).status.value for cid in rules.functional_prerequisites}
    security = [
        r for r in run.clauses if r.clause.in_section(rules.security_section) and r.clause.is_mandatory
    ]
    strict, simulated = run.strict, run.with_simulated
    return {
        "schema": SCHEMA,
        "standard": STANDARD,
        "target": run.target,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "inputs": {
            "attestations": run.attestation_file,
            "results_dir": run.results_dir,
            "probes": len(run.probes),
        },
        "catalogue": catalogue_counts(run),
        "security": {
            "mandatory_total": len(security),
            "mandatory_met_strict": sum(is_met(r.status, Counting.STRICT) for r in security),
            "mandatory_met_with_simulated": sum(is_met(r.status, Counting.WITH_SIMULATED) for r in security),
        },
        "functional": {
            "prerequisites_6_1": prerequisites,
            "mandatory_total": strict.mandatory_total,
            "mandatory_met_strict": strict.mandatory_met,
            "mandatory_met_with_simulated": simulated.mandatory_met,
            "rate_strict": float(strict.rate),
            "rate_with_simulated": float(simulated.rate),
            "rate_thresholds": {str(k): float(v / 100) for k, v in rules.functional_rate_percent.items()},
            "chapters": [s.as_dict() for s in chapter_summaries(run)],
        },
        "performance": _performance(run),
        "level_strict": strict.level,
        "level_with_simulated": simulated.level,
        "grading": {"strict": strict.as_dict(), "with_simulated": simulated.as_dict()},
        "blocking": {
            "strict": strict.as_dict()["blocking"],
            "with_simulated": simulated.as_dict()["blocking"],
        },
        "status_counts": dict(Counter(r.status.value for r in run.clauses)),
        "results": [
            {
                "id": r.clause.id,
                "chapter": [f"{c.id} {c.title_zh}" for c in run.catalogue.chapter_path(r.clause.section)],
                "modality": r.clause.modality.value,
                "modality_source": r.clause.modality_source,
                "text_zh": r.clause.text_zh,
                "gloss_en": r.clause.gloss_en,
                "status": r.status.value,
                "sources": list(r.sources),
                "message": r.message,
                "evidence": [e.as_dict() for e in r.evidence],
            }
            for r in run.clauses
        ],
        "probes": [
            {
                "name": p.name,
                "clause_ids": list(p.clause_ids),
                "status": p.result.status.value,
                "clause_status": {k: v.value for k, v in p.result.clause_status.items()},
                "message": p.result.message,
                "duration_ms": round(p.duration_ms, 3),
                "evidence": [e.as_dict() for e in p.result.evidence],
            }
            for p in run.probes
        ],
        "attestations": [a.as_evidence().as_dict() | {"clause": a.clause_id} for a in run.attestations],
        "ambiguities": [
            {
                "id": a.id,
                "where": a.where,
                "text_zh": a.text_zh,
                "issue_en": a.issue_en,
                "reading_en": a.reading_en,
                "effect_en": a.effect_en,
            }
            for a in run.catalogue.ambiguities
        ],
    }
