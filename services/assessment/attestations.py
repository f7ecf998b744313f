"""Operator attestations: what software cannot verify (all of section 5, and hardware facts).

The file is YAML (see ``examples/attestations.example.yaml``)::

    version: 1
    attestations:
      - clause: 5.1.1.a
        statement: "..."               # what the operator declares
        attested_by: "Name, role"      # empty → the entry is ignored (and reported as ignored)
        date: 2025-01-31
        evidence:
          - path: evidence/licence.pdf  # relative to the attestation file
            sm3: <64 hex digits>
            description: "..."

Structural errors (unknown clause, a clause that is not attestable, duplicates, missing fields, a
malformed digest) raise :class:`AttestationError`. An entry whose evidence file is missing or whose
recomputed SM3 differs from the declared one is kept with status ``failed`` and the reason. A valid
entry is ``attested`` — never ``verified``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from services.assessment.catalogue import Catalogue
from services.assessment.digest import sm3_file
from services.assessment.evidence import Evidence

_SM3 = re.compile(r"^[0-9a-fA-F]{64}$")


class AttestationError(ValueError):
    """The attestation file is malformed; the message names the entry and the field."""


class AttestationStatus(StrEnum):
    """Outcome of one attestation entry."""

    ATTESTED = "attested"
    FAILED = "failed"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One evidence reference and the result of re-digesting it."""

    path: str
    declared_sm3: str
    actual_sm3: str | None
    description: str

    @property
    def ok(self) -> bool:
        """True when the file exists and its SM3 equals the declared one."""
        return self.actual_sm3 == self.declared_sm3


@dataclass(frozen=True, slots=True)
class Attestation:
    """One entry of the attestation file, checked."""

    clause_id: str
    statement: str
    attested_by: str
    date: str
    evidence: tuple[EvidenceFile, ...]
    status: AttestationStatus
    reason: str

    def as_evidence(self) -> Evidence:
        """This attestation as an evidence item of its clause."""
        return Evidence(
            kind="attestation",
            summary=f"attested by {self.attested_by or '(nobody)'} on {self.date or '?'}: {self.reason}",
            details={
                "status": self.status.value,
                "statement": self.statement,
                "attested_by": self.attested_by,
                "date": self.date,
                "files": [
                    {
                        "path": f.path,
                        "declared_sm3": f.declared_sm3,
                        "actual_sm3": f.actual_sm3,
                        "description": f.description,
                    }
                    for f in self.evidence
                ],
            },
        )


def _string(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key, "")
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if not isinstance(value, str):
        raise AttestationError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value.strip()


def _evidence_file(item: Any, *, base: Path, where: str) -> EvidenceFile:
    if not isinstance(item, Mapping):
        raise AttestationError(f"{where}: each evidence item must be a mapping with path and sm3")
    path = _string(item, "path", where)
    declared = _string(item, "sm3", where).lower()
    if not path:
        raise AttestationError(f"{where}: evidence item without path")
    if not _SM3.match(declared):
        raise AttestationError(f"{where}: evidence {path!r} needs its SM3 digest as 64 hex digits")
    resolved = Path(path) if Path(path).is_absolute() else base / path
    actual = sm3_file(resolved) if resolved.is_file() else None
    return EvidenceFile(path, declared, actual, _string(item, "description", where))


def _entry(raw: Any, *, catalogue: Catalogue, base: Path, index: int) -> Attestation:
    if not isinstance(raw, Mapping):
        raise AttestationError(f"attestations[{index}] must be a mapping")
    clause_id = _string(raw, "clause", f"attestations[{index}]")
    where = f"attestations[{index}] ({clause_id or 'no clause'})"
    if clause_id not in catalogue.clause_ids:
        raise AttestationError(f"{where}: unknown clause id {clause_id!r}")
    if catalogue.clause(clause_id).attestable is None:
        raise AttestationError(
            f"{where}: {clause_id} is verified by probes;"
            " only section-5 clauses and hardware facts are attested"
        )
    attested_by = _string(raw, "attested_by", where)
    statement = _string(raw, "statement", where)
    date = _string(raw, "date", where)
    if not attested_by:
        return Attestation(
            clause_id, statement, "", date, (), AttestationStatus.IGNORED, "attested_by is empty"
        )
    if not statement:
        raise AttestationError(f"{where}: statement is empty")
    try:
        dt.date.fromisoformat(date)
    except ValueError as exc:
        raise AttestationError(f"{where}: date must be YYYY-MM-DD, got {date!r}") from exc
    items = raw.get("evidence") or []
    if not isinstance(items, list):
        raise AttestationError(f"{where}: evidence must be a list")
    files = tuple(_evidence_file(item, base=base, where=where) for item in items)
    if not files:
        return Attestation(
            clause_id, statement, attested_by, date, files, AttestationStatus.FAILED, "no evidence"
        )
    problems = [
        f"{f.path}: file not found"
        if f.actual_sm3 is None
        else f"{f.path}: SM3 {f.actual_sm3} ≠ declared {f.declared_sm3}"
        for f in files
        if not f.ok
    ]
    if problems:
        return Attestation(
            clause_id, statement, attested_by, date, files, AttestationStatus.FAILED, "; ".join(problems)
        )
    reason = f"{len(files)} evidence file(s), SM3 digests match"
    return Attestation(clause_id, statement, attested_by, date, files, AttestationStatus.ATTESTED, reason)


def load_attestations(path: Path, *, catalogue: Catalogue) -> tuple[Attestation, ...]:
    """Read and check the attestation file at ``path``; evidence paths are relative to its folder."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AttestationError(f"cannot read attestation file {path}: {exc}") from exc
    if not isinstance(data, Mapping) or data.get("version") != 1:
        raise AttestationError(f"{path}: expected a mapping with 'version: 1'")
    raw_entries = data.get("attestations") or []
    if not isinstance(raw_entries, list):
        raise AttestationError(f"{path}: 'attestations' must be a list")
    entries = tuple(
        _entry(raw, catalogue=catalogue, base=path.parent, index=i) for i, raw in enumerate(raw_entries)
    )
    clause_ids = [e.clause_id for e in entries]
    if duplicates := sorted({c for c in clause_ids if clause_ids.count(c) > 1}):
        raise AttestationError(f"{path}: more than one entry for {duplicates}")
    return entries
