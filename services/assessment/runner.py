"""Run the probes, merge them with attestations and performance results, and grade.

Merging per clause: every probe covering the clause and its attestation (if any, not ignored) each
give a status, and the weakest wins (``failed`` < ``error`` < ``not_implemented`` < ``not_attested``
< ``simulated`` < ``attested`` < ``verified``). A clause with no source is ``not_attested`` when it is
evidenced by attestation (section 5, hardware facts), else ``not_implemented``. A derived clause
(6.3.2.2 a: "应符合6.3.2.1") takes the weakest status of the mandatory clauses it refers to.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from services.assessment.attestations import Attestation, AttestationStatus, load_attestations
from services.assessment.benchmark_results import load_results
from services.assessment.catalogue import Catalogue, Clause, load_catalogue
from services.assessment.domain import AssessmentRun, ClauseResult, ProbeRecord
from services.assessment.evidence import Evidence
from services.assessment.grading import grade
from services.assessment.performance import assess_performance
from services.assessment.probes.base import Probe, ProbeContext, ProbeFailure, ProbeResult
from services.assessment.registry import registered_probes, validate_probes
from services.assessment.status import Counting, Status, is_met, worst

ProgressCallback = Callable[[int, int, str], None]
"""Called after each probe with (probes done, probes in all, name of the probe just run)."""


async def _run_one(probe: Probe, *, client: httpx.AsyncClient, admin_key: str) -> ProbeRecord:
    ctx = ProbeContext(client=client, admin_key=admin_key)
    started = time.perf_counter()
    try:
        result = await probe.run(ctx)
        if not isinstance(result, ProbeResult):
            raise TypeError(f"run() returned {type(result).__name__}, not ProbeResult")
        if stray := sorted(set(result.clause_status) - set(probe.clause_ids)):
            raise ValueError(f"clause_status names clauses the probe does not cover: {stray}")
    except ProbeFailure as exc:
        result = ctx.failed(str(exc))
    except Exception as exc:  # a broken probe is reported, never fatal to the assessment
        result = ctx.result(Status.ERROR, f"{type(exc).__name__}: {exc}")
    return ProbeRecord(probe.name, probe.clause_ids, result, (time.perf_counter() - started) * 1000)


async def run_probes(
    *,
    probes: Sequence[Probe],
    client: httpx.AsyncClient,
    admin_key: str,
    on_progress: ProgressCallback | None = None,
) -> tuple[ProbeRecord, ...]:
    """Run ``probes`` one after another against ``client``'s deployment."""
    records = []
    for done, probe in enumerate(probes, start=1):
        records.append(await _run_one(probe, client=client, admin_key=admin_key))
        if on_progress is not None:
            on_progress(done, len(probes), probe.name)
    return tuple(records)


def _direct_result(
    clause: Clause, records: Sequence[ProbeRecord], attestation: Attestation | None
) -> ClauseResult:
    statuses: list[Status] = []
    sources: list[str] = []
    messages: list[str] = []
    evidence: list[Evidence] = []
    for record in records:
        status = record.status_for(clause.id)
        statuses.append(status)
        sources.append(f"probe:{record.name}")
        messages.append(f"{record.name}: {status.value} — {record.result.message}")
        evidence.extend(record.result.evidence)
    if attestation is not None:
        evidence.append(attestation.as_evidence())
        if attestation.status is AttestationStatus.IGNORED:
            messages.append(f"attestation ignored: {attestation.reason}")
        else:
            statuses.append(
                Status.ATTESTED if attestation.status is AttestationStatus.ATTESTED else Status.FAILED
            )
            sources.append("attestation")
            messages.append(f"attestation {attestation.status.value}: {attestation.reason}")
    if not statuses:
        default = Status.NOT_ATTESTED if clause.attestable else Status.NOT_IMPLEMENTED
        messages.append("no attestation supplied" if clause.attestable else "no probe covers this clause")
        statuses.append(default)
    return ClauseResult(clause, worst(statuses), tuple(sources), "; ".join(messages), tuple(evidence))


def _derived_result(
    clause: Clause, catalogue: Catalogue, results: Mapping[str, ClauseResult]
) -> ClauseResult:
    targets = [t for relation in clause.derived_from for t in catalogue.mandatory_in([relation.section])]
    statuses = {t.id: results[t.id].status for t in targets}
    sections = ", ".join(r.section for r in clause.derived_from)
    summary = ", ".join(f"{cid}={status.value}" for cid, status in statuses.items())
    evidence = Evidence(
        kind="derived",
        summary=f"met iff every mandatory clause of {sections} is met: {summary}",
        details={
            "sections": [r.section for r in clause.derived_from],
            "statuses": {k: v.value for k, v in statuses.items()},
        },
    )
    status = worst(statuses.values())
    return ClauseResult(clause, status, ("derived",), f"derived from {sections}: {status.value}", (evidence,))


def merge_clause_results(
    *, catalogue: Catalogue, probe_records: Sequence[ProbeRecord], attestations: Sequence[Attestation]
) -> tuple[ClauseResult, ...]:
    """One :class:`ClauseResult` per catalogue clause, in catalogue order."""
    by_clause: dict[str, list[ProbeRecord]] = {}
    for record in probe_records:
        for clause_id in record.clause_ids:
            by_clause.setdefault(clause_id, []).append(record)
    attested = {a.clause_id: a for a in attestations}
    results: dict[str, ClauseResult] = {
        c.id: _direct_result(c, by_clause.get(c.id, []), attested.get(c.id))
        for c in catalogue.clauses
        if not c.is_derived
    }
    pending = [c for c in catalogue.clauses if c.is_derived]
    while pending:
        ready = [
            c
            for c in pending
            if all(t.id in results for r in c.derived_from for t in catalogue.mandatory_in([r.section]))
        ]
        if not ready:
            raise ValueError(f"circular derived clauses: {[c.id for c in pending]}")
        for clause in ready:
            results[clause.id] = _derived_result(clause, catalogue, results)
            pending.remove(clause)
    return tuple(results[c.id] for c in catalogue.clauses)


async def run_assessment(
    *,
    client: httpx.AsyncClient,
    admin_key: str,
    attestations: Path | None = None,
    results_dir: Path | None = None,
    probes: Sequence[Probe] | None = None,
    catalogue: Catalogue | None = None,
    on_progress: ProgressCallback | None = None,
) -> AssessmentRun:
    """Assess the deployment behind ``client`` and grade it by 8.2.

    ``probes`` defaults to the registry's list; ``attestations`` is the operator's YAML file and
    ``results_dir`` the folder of benchmark result JSON files (either may be ``None``: nothing attested,
    nothing recorded). Bad attestation or result files raise before any probe runs.
    """
    catalogue = catalogue or load_catalogue()
    checked = validate_probes(registered_probes() if probes is None else probes, catalogue=catalogue)
    attested = load_attestations(attestations, catalogue=catalogue) if attestations else ()
    results = load_results(results_dir, catalogue=catalogue) if results_dir else {}
    started = dt.datetime.now(dt.UTC)
    records = await run_probes(probes=checked, client=client, admin_key=admin_key, on_progress=on_progress)
    clause_results = merge_clause_results(catalogue=catalogue, probe_records=records, attestations=attested)
    performance = assess_performance(catalogue=catalogue, results=results)
    grades = {
        counting: grade(
            catalogue=catalogue,
            clause_met={r.clause.id: is_met(r.status, counting) for r in clause_results},
            row_judgements={a.row.id: a.judgements(counting) for a in performance},
            counting=counting,
        )
        for counting in Counting
    }
    return AssessmentRun(
        catalogue=catalogue,
        target=str(client.base_url),
        started_at=started,
        finished_at=dt.datetime.now(dt.UTC),
        clauses=clause_results,
        probes=records,
        attestations=attested,
        attestation_file=str(attestations) if attestations else None,
        results_dir=str(results_dir) if results_dir else None,
        performance=performance,
        grades=grades,
    )
