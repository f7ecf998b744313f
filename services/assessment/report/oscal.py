"""OSCAL output: the catalogue as an OSCAL catalog, the run as OSCAL assessment-results.

Both documents follow OSCAL 1.2.3 (backward compatible with 1.1.x content) and are checked by
:func:`validate_oscal` against NIST's JSON schema ``oscal_complete_schema.json`` (OSCAL 1.2.3, a
U.S. Government work in the public domain), vendored in ``schemas/``. Identifiers are stable:
controls are ``clause-<id>`` and ``perf-<row id>``, UUIDs are version-5 UUIDs derived from the run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from services.assessment.catalogue import Catalogue, Chapter, Clause, PerformanceRow
from services.assessment.domain import AssessmentRun, ClauseResult
from services.assessment.performance import RowAssessment
from services.assessment.report.summary import STANDARD
from services.assessment.status import Counting, Status, is_met

OSCAL_VERSION = "1.2.3"
NS = "urn:stic:assessment"
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "oscal_complete_schema.json"
_UUID_NAMESPACE = uuid.UUID("6f1b2d9e-3c57-5b0a-9e0d-5d7b3c1a2f40")


class OscalSchemaUnavailable(RuntimeError):
    """The NIST OSCAL JSON schema file could not be found."""


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_UUID_NAMESPACE, "/".join(parts)))


def _prop(name: str, value: str | int | float, **extra: str) -> dict[str, Any]:
    text = str(value).strip() or "none"
    return {"name": name, "ns": NS, "value": text, **extra}


def clause_control_id(clause_id: str) -> str:
    """The OSCAL control id of a clause (``clause-6.2.4.2.e``)."""
    return f"clause-{clause_id}"


def row_control_id(row_id: str) -> str:
    """The OSCAL control id of a performance row (``perf-7.3.1.a.1``)."""
    return f"perf-{row_id}"


def _clause_control(clause: Clause) -> dict[str, Any]:
    props = [
        _prop("label", clause.id),
        _prop("modality", clause.modality.value),
        _prop("modality-source", clause.modality_source),
    ]
    if clause.attestable:
        props.append(_prop("evidence-kind", clause.attestable.value))
    if clause.ambiguity:
        props.append(_prop("ambiguity", clause.ambiguity))
    for relation in clause.derived_from:
        props.append(_prop("derived-from", relation.section))
    return {
        "id": clause_control_id(clause.id),
        "class": "clause",
        "title": clause.gloss_en,
        "props": props,
        "parts": [
            {"id": f"{clause_control_id(clause.id)}_smt", "name": "statement", "prose": clause.text_zh},
            {"id": f"{clause_control_id(clause.id)}_gdn", "name": "guidance", "prose": clause.gloss_en},
        ],
    }


def _row_control(row: PerformanceRow) -> dict[str, Any]:
    props = [_prop("label", row.id), _prop("unit", row.unit or "none"), _prop("direction", row.direction)]
    props += [
        _prop(f"level-{level}", f"{requirement.cell_zh} ({requirement.describe()})")
        for level, requirement in enumerate(row.requirements, start=1)
    ]
    return {
        "id": row_control_id(row.id),
        "class": "performance-row",
        "title": f"{row.label_zh} — {row.gloss_en}",
        "props": props,
        "parts": [
            {
                "id": f"{row_control_id(row.id)}_smt",
                "name": "statement",
                "prose": f"{row.group_zh}：{row.label_zh}。"
                + "；".join(f"等级 {n}: {cell}" for n, cell in enumerate(row.cells, start=1)),
            }
        ],
    }


def _group(catalogue: Catalogue, chapter: Chapter) -> dict[str, Any]:
    group: dict[str, Any] = {
        "id": f"ch-{chapter.id}",
        "class": "chapter",
        "title": f"{chapter.id} {chapter.title_zh}",
    }
    group["props"] = [_prop("title-en", chapter.title_en)]
    depth = chapter.id.count(".") + 1
    children = [
        c
        for c in catalogue.chapters.values()
        if c.id.startswith(chapter.id + ".") and c.id.count(".") == depth
    ]
    controls = [_clause_control(c) for c in catalogue.clauses if c.section == chapter.id]
    if controls:
        group["controls"] = controls
    if children:
        group["groups"] = [_group(catalogue, child) for child in children]
    return group


def _metadata(title: str, *, timestamp: str, extra_props: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    return {
        "title": title,
        "last-modified": timestamp,
        "version": "1.0",
        "oscal-version": OSCAL_VERSION,
        "props": [_prop("standard", STANDARD["designation"]), *extra_props],
    }


def render_oscal_catalog(catalogue: Catalogue, *, timestamp: str) -> dict[str, Any]:
    """The catalogue as an OSCAL catalog: chapters as nested groups, clauses and 8.2.3 rows as controls."""
    tops = [c for c in catalogue.chapters.values() if "." not in c.id]
    performance_group = {
        "id": "perf-8.2.3",
        "class": "performance-table",
        "title": "8.2.3 性能要求 Performance requirements",
        "controls": [_row_control(row) for row in catalogue.performance_rows],
    }
    return {
        "catalog": {
            "uuid": _uuid("catalog", STANDARD["title_zh"], str(len(catalogue.clauses))),
            "metadata": _metadata(f"{STANDARD['title_zh']} — {STANDARD['title_en']}", timestamp=timestamp),
            "groups": [*(_group(catalogue, top) for top in tops), performance_group],
        }
    }


def _method(result: ClauseResult) -> str:
    return "TEST" if any(s.startswith("probe:") for s in result.sources) else "EXAMINE"


def _clause_observation(run_id: str, result: ClauseResult, collected: str) -> dict[str, Any]:
    evidence = [{"description": e.summary} for e in result.evidence] or [{"description": result.message}]
    return {
        "uuid": _uuid(run_id, "observation", result.clause.id),
        "title": f"{result.clause.id}: {result.status.value}",
        "description": result.message,
        "props": [_prop("stic-status", result.status.value)],
        "methods": [_method(result)],
        "relevant-evidence": evidence,
        "collected": collected,
    }


def _clause_finding(run_id: str, result: ClauseResult, observed: bool) -> dict[str, Any]:
    strict = is_met(result.status, Counting.STRICT)
    finding: dict[str, Any] = {
        "uuid": _uuid(run_id, "finding", result.clause.id),
        "title": f"{result.clause.id} {result.clause.gloss_en}",
        "description": result.message,
        "props": [
            _prop("stic-status", result.status.value),
            _prop("modality", result.clause.modality.value),
            _prop("met-with-simulated", str(is_met(result.status, Counting.WITH_SIMULATED)).lower()),
        ],
        "target": {
            "type": "objective-id",
            "target-id": clause_control_id(result.clause.id),
            "status": {
                "state": "satisfied" if strict else "not-satisfied",
                "reason": "pass" if strict else "fail",
            },
        },
    }
    if observed:
        finding["related-observations"] = [
            {"observation-uuid": _uuid(run_id, "observation", result.clause.id)}
        ]
    return finding


def _row_records(
    run_id: str, item: RowAssessment, level: int, collected: str
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    row = item.row
    judgement = item.strict[max(level, 1) - 1]
    observation = None
    if item.result is not None:
        observation = {
            "uuid": _uuid(run_id, "observation", row.id),
            "title": f"{row.id}: {item.result.reported_value} {item.result.reported_unit}".strip(),
            "description": item.result.method,
            "props": [_prop("simulated", str(item.result.simulated).lower())],
            "methods": ["TEST"],
            "relevant-evidence": [{"description": f"{item.result.source}: {item.result.method}"}],
            "collected": collected,
        }
    finding: dict[str, Any] = {
        "uuid": _uuid(run_id, "finding", row.id),
        "title": f"{row.id} {row.label_zh}",
        "description": f"level {max(level, 1)}: {judgement.judgement.value} — {judgement.reason}",
        "props": [_prop(f"level-{j.level}", f"{j.judgement.value}: {j.reason}") for j in item.strict],
        "target": {
            "type": "objective-id",
            "target-id": row_control_id(row.id),
            "status": {
                "state": "satisfied" if judgement.judgement.passes else "not-satisfied",
                "reason": "pass" if judgement.judgement.passes else "fail",
            },
        },
    }
    if observation is not None:
        finding["related-observations"] = [{"observation-uuid": observation["uuid"]}]
    return observation, finding


def render_oscal_results(run: AssessmentRun) -> dict[str, Any]:
    """The run as OSCAL assessment-results: one result, an observation and a finding per clause and row.

    A clause finding is ``satisfied`` when met under the strict counting; a row finding when the row
    passes (strictly) at the awarded strict level (level 1 when none is awarded). Both levels, the
    rates and every ambiguity's reading are recorded as props and back-matter.
    """
    run_id = f"{run.target}|{run.started_at.isoformat()}"
    started, finished = run.started_at.isoformat(), run.finished_at.isoformat()
    plan_uuid = _uuid(run_id, "method")
    observations: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    for clause_result in run.clauses:
        observed = clause_result.status not in (Status.NOT_IMPLEMENTED, Status.NOT_ATTESTED) or bool(
            clause_result.evidence
        )
        if observed:
            observations.append(_clause_observation(run_id, clause_result, finished))
        findings.append(_clause_finding(run_id, clause_result, observed))
    for item in run.performance:
        observation, finding = _row_records(run_id, item, run.strict.level, finished)
        if observation is not None:
            observations.append(observation)
        findings.append(finding)
    strict, simulated = run.strict, run.with_simulated
    result: dict[str, Any] = {
        "uuid": _uuid(run_id, "result"),
        "title": f"STIC self-assessment of {run.target}",
        "description": (
            f"Level {strict.level} counting verified and attested evidence; level {simulated.level} counting "
            "simulated evidence as well. Graded by 8.2 of the standard."
        ),
        "start": started,
        "end": finished,
        "props": [
            _prop("level-strict", strict.level),
            _prop("level-with-simulated", simulated.level),
            _prop("mandatory-rate-strict", f"{float(strict.rate):.4f}"),
            _prop("mandatory-rate-with-simulated", f"{float(simulated.rate):.4f}"),
            *(_prop("ambiguity", f"{a.id}: {a.reading_en}") for a in run.catalogue.ambiguities),
        ],
        "reviewed-controls": {"control-selections": [{"include-all": {}}]},
        "findings": findings,
    }
    if observations:
        result["observations"] = observations
    return {
        "assessment-results": {
            "uuid": _uuid(run_id, "assessment-results"),
            "metadata": _metadata(f"STIC self-assessment — {STANDARD['title_zh']}", timestamp=finished),
            "import-ap": {"href": f"#{plan_uuid}"},
            "results": [result],
            "back-matter": {
                "resources": [
                    {
                        "uuid": plan_uuid,
                        "title": "STIC assessment method",
                        "description": (
                            "Probes exercise each capability through the public HTTP API; "
                            "section 5 and hardware facts are attested by the operator with "
                            "SM3-digested evidence; section 7 figures come from benchmark result files. "
                            "Grading follows 8.2 exactly."
                        ),
                    }
                ]
            },
        }
    }


def render_oscal(run: AssessmentRun) -> dict[str, Any]:
    """Both OSCAL documents: ``{"catalog": {...}, "assessment-results": {...}}`` (each validates alone)."""
    catalog = render_oscal_catalog(run.catalogue, timestamp=run.finished_at.isoformat())
    return {"catalog": catalog["catalog"], **render_oscal_results(run)}


def find_oscal_schema() -> Path:
    """Path of the vendored NIST ``oscal_complete_schema.json``."""
    if not SCHEMA_PATH.is_file():
        raise OscalSchemaUnavailable(f"the OSCAL JSON schema is missing from the installation: {SCHEMA_PATH}")
    return SCHEMA_PATH


@lru_cache(maxsize=8)
def _validator(schema_path: Path, model: str) -> Any:
    import jsonschema_rs  # the OSCAL patterns use \p{L}, which Python's re cannot compile

    complete = json.loads(schema_path.read_text(encoding="utf-8"))
    # Validate against the one branch of the unified schema's oneOf that holds ``model``, so errors
    # name the offending field instead of "not valid under any of the schemas listed in oneOf".
    branches = [b for b in complete["oneOf"] if b.get("required") == [model]]
    if len(branches) != 1:
        raise ValueError(f"the OSCAL schema has no model {model!r}")
    schema = {key: complete[key] for key in ("$schema", "$id", "definitions", "type")} | branches[0]
    return jsonschema_rs.validator_for(schema)


def validate_oscal(document: Mapping[str, Any], *, schema_path: Path | None = None) -> list[str]:
    """Validation errors of one OSCAL document (``{"catalog": …}`` or ``{"assessment-results": …}``)."""
    models = [key for key in document if key != "$schema"]
    if len(models) != 1:
        raise ValueError(f"an OSCAL document holds exactly one model, got {models}")
    validator = _validator(schema_path or find_oscal_schema(), models[0])
    return [
        f"{'/'.join(map(str, error.instance_path)) or '/'}: {error.message}"
        for error in validator.iter_errors(dict(document))
    ]
