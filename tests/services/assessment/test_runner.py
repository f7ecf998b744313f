"""Running probes and merging them with attestations into clause results."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.assessment.attestations import load_attestations
from services.assessment.catalogue import Catalogue
from services.assessment.digest import sm3_hex
from services.assessment.probes.base import ProbeFailure
from services.assessment.runner import merge_clause_results, run_assessment, run_probes
from services.assessment.status import Status


async def test_a_probe_records_every_call_with_status_digest_and_time(build):
    async with build.deployment() as client:
        (record,) = await run_probes(probes=[build.probe("p", ("6.2.4.2.e",))], client=client, admin_key="k1")
    assert record.result.status is Status.VERIFIED
    (call,) = [e.as_dict() for e in record.result.evidence]
    assert call["kind"] == "http" and call["method"] == "GET" and call["path"] == "/healthz"
    assert call["status_code"] == 200
    assert call["response_sm3"] == sm3_hex(b'{"status":"ok"}')
    assert call["elapsed_ms"] >= 0
    assert client.seen_auth == ["Bearer k1"]


@pytest.mark.parametrize(
    ("probe_kwargs", "status", "message"),
    [
        ({"paths": ("/broken",)}, Status.FAILED, "/broken answered 503"),
        ({"raises": ProbeFailure("quota not enforced")}, Status.FAILED, "quota not enforced"),
        ({"raises": KeyError("items")}, Status.ERROR, "KeyError"),
        ({"clause_status": {"6.4.4.b": Status.VERIFIED}}, Status.ERROR, "does not cover"),
    ],
)
async def test_failures_and_errors_are_recorded_not_raised(build, probe_kwargs, status, message):
    probe = build.probe("p", ("6.2.4.2.e",), **probe_kwargs)
    async with build.deployment() as client:
        (record,) = await run_probes(probes=[probe], client=client, admin_key="k")
    assert record.result.status is status
    assert message in record.result.message
    assert record.result.evidence  # the calls made before the failure are kept


async def test_progress_is_reported_after_each_probe(build):
    seen: list[tuple[int, int, str]] = []
    probes = [build.probe("a", ("6.2.4.2.e",)), build.probe("b", ("6.2.4.2.f",))]
    async with build.deployment() as client:
        await run_probes(probes=probes, client=client, admin_key="k", on_progress=lambda *a: seen.append(a))
    assert seen == [(1, 2, "a"), (2, 2, "b")]


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((Status.VERIFIED, Status.VERIFIED), Status.VERIFIED),
        ((Status.VERIFIED, Status.SIMULATED), Status.SIMULATED),
        ((Status.SIMULATED, Status.FAILED), Status.FAILED),
        ((Status.ERROR, Status.VERIFIED), Status.ERROR),
        ((Status.NOT_IMPLEMENTED, Status.VERIFIED), Status.NOT_IMPLEMENTED),
    ],
)
async def test_the_worst_status_of_several_probes_wins(catalogue: Catalogue, build, statuses, expected):
    probes = [build.probe(f"p{i}", ("6.2.4.2.e",), status=s) for i, s in enumerate(statuses)]
    async with build.deployment() as client:
        records = await run_probes(probes=probes, client=client, admin_key="k")
    results = merge_clause_results(catalogue=catalogue, probe_records=records, attestations=())
    merged = next(r for r in results if r.clause.id == "6.2.4.2.e")
    assert merged.status is expected
    assert merged.sources == ("probe:p0", "probe:p1")


async def test_per_clause_status_of_one_probe(catalogue: Catalogue, build):
    probe = build.probe("p", ("6.2.4.2.e", "6.2.4.2.f"), clause_status={"6.2.4.2.f": Status.FAILED})
    async with build.deployment() as client:
        records = await run_probes(probes=[probe], client=client, admin_key="k")
    results = {
        r.clause.id: r.status
        for r in merge_clause_results(catalogue=catalogue, probe_records=records, attestations=())
    }
    assert (results["6.2.4.2.e"], results["6.2.4.2.f"]) == (Status.VERIFIED, Status.FAILED)


def test_defaults_without_any_source(catalogue: Catalogue):
    results = {
        r.clause.id: r for r in merge_clause_results(catalogue=catalogue, probe_records=(), attestations=())
    }
    assert results["6.2.4.2.e"].status is Status.NOT_IMPLEMENTED
    assert results["5.1.1.a"].status is Status.NOT_ATTESTED
    assert results["6.2.3.1.a"].status is Status.NOT_ATTESTED  # hardware fact
    assert results["6.3.2.2.a"].status is Status.NOT_IMPLEMENTED  # derived from unprobed 6.3.2.1


async def test_derived_clause_follows_the_mandatory_clauses_of_6_3_2_1(catalogue: Catalogue, build):
    mandatory = tuple(c.id for c in catalogue.mandatory_in(["6.3.2.1"]))
    assert mandatory == ("6.3.2.1.a", "6.3.2.1.b", "6.3.2.1.c", "6.3.2.1.d", "6.3.2.1.e")
    for probes, expected in [
        ([build.probe("all", mandatory)], Status.VERIFIED),
        (
            [build.probe("all", mandatory[:-1]), build.probe("e", mandatory[-1:], status=Status.SIMULATED)],
            Status.SIMULATED,
        ),
        ([build.probe("some", mandatory[:-1])], Status.NOT_IMPLEMENTED),
        ([build.probe("all", mandatory, clause_status={"6.3.2.1.b": Status.FAILED})], Status.FAILED),
    ]:
        async with build.deployment() as client:
            records = await run_probes(probes=probes, client=client, admin_key="k")
        derived = next(
            r
            for r in merge_clause_results(catalogue=catalogue, probe_records=records, attestations=())
            if r.clause.id == "6.3.2.2.a"
        )
        assert derived.status is expected, probes
        assert derived.evidence[0].kind == "derived"


async def test_hardware_fact_merges_probe_and_attestation(catalogue: Catalogue, build, tmp_path: Path):
    (tmp_path / "fabric.txt").write_text("ibstat")
    from services.assessment.digest import sm3_file

    digest = sm3_file(tmp_path / "fabric.txt")
    path = tmp_path / "a.yaml"
    path.write_text(
        "version: 1\nattestations:\n"
        f"  - {{clause: 6.2.3.1.a, statement: RDMA fabric, attested_by: Ops lead, date: '2025-01-02',"
        f" evidence: [{{path: fabric.txt, sm3: {digest}}}]}}\n"
        "  - {clause: 5.1.1.a, statement: '', attested_by: '', date: ''}\n"
    )
    attestations = load_attestations(path, catalogue=catalogue)
    async with build.deployment() as client:
        records = await run_probes(
            probes=[build.probe("rdma", ("6.2.3.1.a",), status=Status.SIMULATED)],
            client=client,
            admin_key="k",
        )
    results = {
        r.clause.id: r
        for r in merge_clause_results(catalogue=catalogue, probe_records=records, attestations=attestations)
    }
    assert results["6.2.3.1.a"].status is Status.SIMULATED  # attested, but the live check ran on a simulation
    assert results["6.2.3.1.a"].sources == ("probe:rdma", "attestation")
    assert results["5.1.1.a"].status is Status.NOT_ATTESTED
    assert "attestation ignored" in results["5.1.1.a"].message


async def test_full_run_gives_two_levels_side_by_side(run_full):
    assert (run_full.strict.level, run_full.with_simulated.level) == (2, 3)
    assert (run_full.strict.mandatory_met, run_full.with_simulated.mandatory_met) == (130, 170)
    assert run_full.clause_result("5.1.1.a").status is Status.ATTESTED
    blockers = run_full.strict.blocking()[3]
    assert {b.item for b in blockers if b.module == "performance"} == {"7.1.2.b.1", "7.2.1.a.1"}


async def test_bad_inputs_raise_before_any_probe_runs(build, tmp_path: Path):
    bad = tmp_path / "a.yaml"
    bad.write_text("version: 2\n")
    async with build.deployment() as client:
        with pytest.raises(ValueError, match="version: 1"):
            await run_assessment(
                client=client, admin_key="k", attestations=bad, probes=[build.probe("p", ("6.2.4.2.e",))]
            )
        assert client.seen_auth == []
        with pytest.raises(ValueError, match="invalid probes"):
            await run_assessment(client=client, admin_key="k", probes=[build.probe("p", ("5.1.1.a",))])
