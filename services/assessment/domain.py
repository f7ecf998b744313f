"""The outcome of one assessment: per-probe records, per-clause results, performance, both grades."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from services.assessment.attestations import Attestation
from services.assessment.catalogue import Catalogue, Clause
from services.assessment.evidence import Evidence
from services.assessment.grading import Grade
from services.assessment.performance import RowAssessment
from services.assessment.probes.base import ProbeResult
from services.assessment.status import Counting, Status


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One probe run: which probe, the clauses it covers, what it reported, how long it took."""

    name: str
    clause_ids: tuple[str, ...]
    result: ProbeResult
    duration_ms: float

    def status_for(self, clause_id: str) -> Status:
        """The status this probe reports for ``clause_id``."""
        return self.result.clause_status.get(clause_id, self.result.status)


@dataclass(frozen=True, slots=True)
class ClauseResult:
    """The merged status of one clause, the sources it came from, and their evidence."""

    clause: Clause
    status: Status
    sources: tuple[str, ...]
    message: str
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class AssessmentRun:
    """Everything one assessment found; renderers turn it into JSON, HTML and OSCAL."""

    catalogue: Catalogue
    target: str
    started_at: dt.datetime
    finished_at: dt.datetime
    clauses: tuple[ClauseResult, ...]
    probes: tuple[ProbeRecord, ...]
    attestations: tuple[Attestation, ...]
    attestation_file: str | None
    results_dir: str | None
    performance: tuple[RowAssessment, ...]
    grades: Mapping[Counting, Grade]

    def clause_result(self, clause_id: str) -> ClauseResult:
        """The result of ``clause_id``; raises ``KeyError`` naming it when unknown."""
        for result in self.clauses:
            if result.clause.id == clause_id:
                return result
        raise KeyError(f"unknown clause id {clause_id!r}")

    @property
    def strict(self) -> Grade:
        """The grade counting verified and attested evidence only."""
        return self.grades[Counting.STRICT]

    @property
    def with_simulated(self) -> Grade:
        """The grade counting simulated evidence as well."""
        return self.grades[Counting.WITH_SIMULATED]
