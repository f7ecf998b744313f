"""Detached SM2 signatures of artefacts: round trip and every named mismatch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from security.crypto import SM2PrivateKey
from security.crypto.sm3 import sm3_hex
from security.supplychain.signing import SignatureFormatError, file_digest, sign_file, verify_file

KEY = SM2PrivateKey.generate()
WHEN = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def artefact(tmp_path: Path) -> Path:
    path = tmp_path / "stic-0.1.0-py3-none-any.whl"
    path.write_bytes(bytes(range(256)) * 5000)
    return path


def test_sign_then_verify(artefact: Path) -> None:
    document = sign_file(path=artefact, private_key=KEY, now=WHEN)
    assert document["artefact"] == {
        "name": artefact.name,
        "size": 1_280_000,
        "sm3": sm3_hex(artefact.read_bytes()),
    }
    assert document["signer"]["fingerprint"] == KEY.public_key().fingerprint()
    assert document["signed_at"] == "2026-05-01T12:00:00Z"
    result = verify_file(path=artefact, document=json.dumps(document), public_key=KEY.public_key())
    assert result.ok, result.problems
    assert result.signer_fingerprint == KEY.public_key().fingerprint()


def test_file_digest_streams(artefact: Path) -> None:
    assert file_digest(artefact) == (sm3_hex(artefact.read_bytes()), artefact.stat().st_size)


def test_modified_artefact_names_size_and_digest(artefact: Path) -> None:
    document = sign_file(path=artefact, private_key=KEY)
    with artefact.open("ab") as handle:
        handle.write(b"!")
    result = verify_file(path=artefact, document=document, public_key=KEY.public_key())
    assert not result.ok
    assert [p.split(":")[0] for p in result.problems] == ["size mismatch", "digest mismatch"]


def test_same_size_modification_is_a_digest_mismatch(artefact: Path) -> None:
    document = sign_file(path=artefact, private_key=KEY)
    data = bytearray(artefact.read_bytes())
    data[1000] ^= 1
    artefact.write_bytes(bytes(data))
    result = verify_file(path=artefact, document=document, public_key=KEY.public_key())
    assert [p.split(":")[0] for p in result.problems] == ["digest mismatch"]


def test_other_key_is_a_signer_and_signature_mismatch(artefact: Path) -> None:
    document = sign_file(path=artefact, private_key=KEY)
    result = verify_file(path=artefact, document=document, public_key=SM2PrivateKey.generate().public_key())
    assert [p.split(":")[0] for p in result.problems] == ["signer mismatch", "signature mismatch"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("signed_at", "2030-01-01T00:00:00Z"), ("uid", "616c696365")],
)
def test_edited_statement_fields_break_the_signature(artefact: Path, field: str, value: str) -> None:
    document = sign_file(path=artefact, private_key=KEY)
    document[field] = value
    result = verify_file(path=artefact, document=document, public_key=KEY.public_key())
    assert [p.split(":")[0] for p in result.problems] == ["signature mismatch"]


def test_renamed_artefact_entry_breaks_the_signature(artefact: Path) -> None:
    document = sign_file(path=artefact, private_key=KEY)
    document["artefact"]["name"] = "other.whl"
    result = verify_file(path=artefact, document=document, public_key=KEY.public_key())
    assert [p.split(":")[0] for p in result.problems] == ["signature mismatch"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: "not json", "not JSON"),
        (lambda d: "[1, 2]", "JSON object"),
        (lambda d: {k: v for k, v in d.items() if k != "signature"}, "lacks signature"),
        (lambda d: {**d, "format": "minisign"}, "unsupported signature format"),
        (lambda d: {**d, "algorithm": "Ed25519"}, "unsupported algorithm"),
        (lambda d: {**d, "artefact": {"name": "x"}}, "artefact must hold"),
        (lambda d: {**d, "signature": "%%%"}, "not valid hex/base64"),
    ],
)
def test_malformed_documents_are_named(artefact: Path, mutate: object, message: str) -> None:
    document = sign_file(path=artefact, private_key=KEY)
    assert callable(mutate)
    with pytest.raises(SignatureFormatError, match=message):
        verify_file(path=artefact, document=mutate(document), public_key=KEY.public_key())
