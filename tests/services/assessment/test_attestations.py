"""The operator attestation file: digests recomputed, entries attested, failed or ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.assessment.attestations import AttestationError, AttestationStatus, load_attestations
from services.assessment.catalogue import Catalogue
from services.assessment.digest import sm3_file, sm3_hex

EXAMPLE = Path(__file__).parents[3] / "services" / "assessment" / "examples" / "attestations.example.yaml"


def _write(tmp_path: Path, entries: list[dict]) -> Path:
    path = tmp_path / "attestations.yaml"
    path.write_text(
        yaml.safe_dump({"version": 1, "attestations": entries}, allow_unicode=True), encoding="utf-8"
    )
    return path


def _entry(clause: str, files: list[dict], **extra) -> dict:
    return {
        "clause": clause,
        "statement": "我们声明…",
        "attested_by": "Li Lei, CTO",
        "date": "2025-03-01",
        "evidence": files,
    } | extra


def test_sm3_matches_the_standard_test_vector():
    # GB/T 32905-2016, example 1: SM3("abc")
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_valid_entry_is_attested(catalogue: Catalogue, tmp_path: Path):
    (tmp_path / "licence.pdf").write_bytes(b"%PDF licence")
    digest = sm3_file(tmp_path / "licence.pdf")
    (entry,) = load_attestations(
        _write(tmp_path, [_entry("5.1.1.a", [{"path": "licence.pdf", "sm3": digest.upper()}])]),
        catalogue=catalogue,
    )
    assert entry.status is AttestationStatus.ATTESTED
    assert entry.evidence[0].actual_sm3 == digest


def test_digest_mismatch_fails_the_entry_with_the_reason(catalogue: Catalogue, tmp_path: Path):
    (tmp_path / "licence.pdf").write_bytes(b"tampered")
    (entry,) = load_attestations(
        _write(tmp_path, [_entry("5.1.1.a", [{"path": "licence.pdf", "sm3": "ab" * 32}])]),
        catalogue=catalogue,
    )
    assert entry.status is AttestationStatus.FAILED
    assert "≠ declared " + "ab" * 32 in entry.reason


def test_missing_file_and_no_evidence_fail(catalogue: Catalogue, tmp_path: Path):
    entries = load_attestations(
        _write(
            tmp_path, [_entry("5.2.1.a", [{"path": "gone.pdf", "sm3": "00" * 32}]), _entry("5.2.2.a", [])]
        ),
        catalogue=catalogue,
    )
    assert [(e.status, e.reason) for e in entries] == [
        (AttestationStatus.FAILED, "gone.pdf: file not found"),
        (AttestationStatus.FAILED, "no evidence"),
    ]


def test_hardware_facts_may_be_attested(catalogue: Catalogue, tmp_path: Path):
    (tmp_path / "rdma.txt").write_text("ibstat output")
    files = [{"path": str(tmp_path / "rdma.txt"), "sm3": sm3_file(tmp_path / "rdma.txt")}]
    (entry,) = load_attestations(_write(tmp_path, [_entry("6.2.3.1.a", files)]), catalogue=catalogue)
    assert entry.status is AttestationStatus.ATTESTED


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([_entry("6.2.4.2.e", [])], "verified by probes"),
        ([_entry("9.9.a", [])], "unknown clause"),
        ([_entry("5.1.1.a", []), _entry("5.1.1.a", [])], "more than one entry"),
        ([_entry("5.1.1.a", [], statement="")], "statement is empty"),
        ([_entry("5.1.1.a", [], date="last week")], "YYYY-MM-DD"),
        ([_entry("5.1.1.a", [{"path": "x.pdf", "sm3": "not-hex"}])], "64 hex digits"),
    ],
)
def test_malformed_entries_raise(catalogue: Catalogue, tmp_path: Path, entries, message):
    with pytest.raises(AttestationError, match=message):
        load_attestations(_write(tmp_path, entries), catalogue=catalogue)


def test_wrong_version_raises(catalogue: Catalogue, tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("attestations: []\n")
    with pytest.raises(AttestationError, match="version: 1"):
        load_attestations(path, catalogue=catalogue)


def test_the_shipped_example_attests_nothing(catalogue: Catalogue):
    entries = load_attestations(EXAMPLE, catalogue=catalogue)
    attestable = {c.id for c in catalogue.clauses if c.attestable}
    assert {e.clause_id for e in entries} == attestable
    assert {e.status for e in entries} == {AttestationStatus.IGNORED}
