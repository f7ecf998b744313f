"""Builders and fixtures for the assessment tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.assessment.catalogue import (
    Attestable,
    Catalogue,
    Chapter,
    Clause,
    GradingRules,
    LevelDefinition,
    Modality,
    PerformanceRow,
    load_catalogue,
    parse_cell,
)
from services.assessment.catalogue.standard_parser import (
    ParsedStandard,
    default_standard_dir,
    find_standard_file,
    parse_standard,
)
from services.assessment.digest import sm3_file
from services.assessment.domain import AssessmentRun
from services.assessment.probes.base import ProbeContext, ProbeResult
from services.assessment.runner import run_assessment
from services.assessment.status import Status


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def standard() -> ParsedStandard:
    # No skip: a missing standard text is a failure everywhere (and always under CI=true).
    return parse_standard(find_standard_file(default_standard_dir()))


def small_catalogue(
    *,
    security_mandatory: int = 2,
    rate_mandatory: int = 10,
    rows: Sequence[tuple[str, Sequence[str], str, str]] = (("7.1.1.a.1", ["记录"] * 5, "ms", "lower"),),
    capabilities: dict[str, str] | None = None,
) -> Catalogue:
    """A catalogue with ``security_mandatory`` 5.1.1 clauses, 6.1 a–c, ``rate_mandatory`` 6.2.1 clauses
    (plus one recommended), and the given performance rows (id, cells, unit, direction), all rows
    knowing ``capabilities`` (cell text → token)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    chapters = {
        cid: Chapter(cid, f"章{cid}", f"chapter {cid}")
        for cid in ("5", "5.1", "5.1.1", "6", "6.1", "6.2", "6.2.1")
    }
    clauses = [
        Clause(
            f"5.1.1.{letters[i]}",
            "5.1.1",
            letters[i],
            Modality.MANDATORY,
            "应…",
            "g",
            attestable=Attestable.SECTION_5,
        )
        for i in range(security_mandatory)
    ]
    clauses += [Clause(f"6.1.{x}", "6.1", x, Modality.MANDATORY, "应…", "g") for x in "abc"]
    clauses += [
        Clause(f"6.2.1.{letters[i]}", "6.2.1", letters[i], Modality.MANDATORY, "应…", "g")
        for i in range(rate_mandatory)
    ]
    clauses.append(Clause("6.2.1.z", "6.2.1", "z", Modality.RECOMMENDED, "宜…", "g"))
    performance = tuple(
        PerformanceRow(
            id=row_id,
            section=row_id.rsplit(".", 2)[0],
            group=row_id.split(".")[3],
            group_zh="组",
            label_zh=f"指标 {row_id}",
            gloss_en="metric",
            unit=unit,
            direction=direction,
            cells=tuple(cells),
            requirements=tuple(parse_cell(c, unit=unit, capabilities=capabilities or {}) for c in cells),
            capabilities=dict(capabilities or {}),
        )
        for row_id, cells, unit, direction in rows
    )
    return Catalogue(
        chapters=chapters,
        clauses=tuple(clauses),
        performance_rows=performance,
        levels=tuple(LevelDefinition(n, f"级{n}", f"L{n}", "…", "…") for n in range(1, 6)),
        grading=GradingRules(
            security_section="5",
            functional_prerequisites=("6.1.a", "6.1.b", "6.1.c"),
            functional_rate_sections=("6.2",),
            functional_rate_percent={
                1: Fraction(50),
                2: Fraction(65),
                3: Fraction(80),
                4: Fraction(90),
                5: Fraction(95),
            },
            ladder=True,
        ),
        ambiguities=(),
    )


def met_map(
    catalogue: Catalogue, *, rate_met: int | None = None, unmet: Iterable[str] = ()
) -> dict[str, bool]:
    """Every clause met, except ``unmet`` and all but the first ``rate_met`` mandatory rate clauses."""
    met = {c.id: True for c in catalogue.clauses}
    if rate_met is not None:
        for index, clause in enumerate(catalogue.mandatory_in(catalogue.grading.functional_rate_sections)):
            met[clause.id] = index < rate_met
    for clause_id in unmet:
        met[clause_id] = False
    return met


def result_record(metric: str, value: float | None, unit: str, **extra: Any) -> dict[str, Any]:
    """One benchmark result as it appears in a result file."""
    return {
        "metric": metric,
        "value": value,
        "unit": unit,
        "method": "test harness",
        "environment": {"host": "ci"},
    } | extra


def write_results(folder: Path, records: Sequence[dict[str, Any]], *, name: str = "results.json") -> Path:
    """Write ``records`` as one result file (a list) into ``folder``; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(list(records)), encoding="utf-8")
    return folder


@dataclass
class ScriptedProbe:
    """A probe that calls ``paths`` on the deployment and reports ``status`` (or raises ``raises``)."""

    name: str
    clause_ids: tuple[str, ...]
    status: Status = Status.VERIFIED
    paths: tuple[str, ...] = ("/healthz",)
    raises: BaseException | None = None
    clause_status: dict[str, Status] = field(default_factory=dict)

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        for path in self.paths:
            response = await ctx.get(path)
            ctx.require(response.status_code == 200, f"{path} answered {response.status_code}")
        if self.raises is not None:
            raise self.raises
        return ctx.result(self.status, f"scripted {self.status.value}", clause_status=self.clause_status)


def passing_records(
    catalogue: Catalogue, *, level: int, simulated: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """One result per row satisfying every level up to ``level`` (``simulated`` rows flagged)."""
    from services.assessment.catalogue import RequirementKind

    records = []
    flagged = set(simulated)
    for row in catalogue.performance_rows:
        thresholds = [r for r in row.requirements[:level] if r.kind is RequirementKind.THRESHOLD]
        tokens = [
            r.capability or "" for r in row.requirements[:level] if r.kind is RequirementKind.CAPABILITY
        ]
        value: float | None = 1.0
        if thresholds:
            strictest = thresholds[-1].value
            assert strictest is not None
            value = float(strictest * 2) if row.direction == "higher" else float(strictest / 2)
        if row.direction == "none":
            value = None
            tokens = tokens or list(row.capabilities.values())[:1]
        records.append(
            result_record(row.id, value, row.unit, capabilities=tokens, simulated=row.id in flagged)
        )
    return records


def deployment_client() -> httpx.AsyncClient:
    """A client whose deployment answers 200 with a JSON body on /healthz and 503 on /broken.

    Every request's Authorization header is kept in ``client.seen_auth`` (a list) for assertions.
    """
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        if request.url.path == "/broken":
            return httpx.Response(503, json={"error": "unavailable"})
        return httpx.Response(200, json={"status": "ok"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://deployment.test")
    client.seen_auth = seen  # type: ignore[attr-defined]
    return client


async def full_run(catalogue: Catalogue, folder: Path) -> AssessmentRun:
    """A realistic run: section 5 and 6.1 attested; of the 170 mandatory 6.2–6.4 clauses 130 verified
    (the derived 6.3.2.2.a included) and 40 simulated; every row satisfies level 3, two of them
    (not required below level 3) only by simulated results.

    Strict: 130/170 = 76.5 % and the two rows unrecorded → level 2. With simulated: 100 % → level 3.
    """
    evidence = folder / "evidence.txt"
    evidence.write_text("signed statement", encoding="utf-8")
    digest = sm3_file(evidence)
    entries = [
        {
            "clause": c.id,
            "statement": "声明",
            "attested_by": "Test Operator",
            "date": "2025-01-01",
            "evidence": [{"path": "evidence.txt", "sm3": digest}],
        }
        for c in catalogue.clauses
        if c.attestable and (c.part == "5" or c.section == "6.1")
    ]
    attestation_file = folder / "attestations.yaml"
    attestation_file.write_text(yaml.safe_dump({"version": 1, "attestations": entries}, allow_unicode=True))
    mandatory = [
        c.id for c in catalogue.mandatory_in(["6.2", "6.3", "6.4"]) if not c.is_derived and not c.attestable
    ]
    simulated_rows = ["7.1.2.b.1", "7.2.1.a.1"]
    results = write_results(folder / "results", passing_records(catalogue, level=3, simulated=simulated_rows))
    hardware = [c.id for c in catalogue.mandatory_in(["6.2", "6.3", "6.4"]) if c.attestable]
    probes = [
        ScriptedProbe("platform.verified", tuple(mandatory[:-34])),
        ScriptedProbe("platform.simulated", tuple(mandatory[-34:]), status=Status.SIMULATED),
        ScriptedProbe("hardware.simulated", tuple(hardware), status=Status.SIMULATED),
    ]
    async with deployment_client() as client:
        return await run_assessment(
            client=client,
            admin_key="stic_test_key",
            attestations=attestation_file,
            results_dir=results,
            probes=probes,
        )


@pytest.fixture
async def run_full(catalogue: Catalogue, tmp_path: Path) -> AssessmentRun:
    return await full_run(catalogue, tmp_path)


class Builders:
    """The builders above, as the ``build`` fixture (importlib mode cannot import conftest)."""

    small_catalogue = staticmethod(small_catalogue)
    met_map = staticmethod(met_map)
    result_record = staticmethod(result_record)
    write_results = staticmethod(write_results)
    passing_records = staticmethod(passing_records)
    probe = ScriptedProbe
    deployment = staticmethod(deployment_client)


@pytest.fixture
def build() -> type[Builders]:
    return Builders
