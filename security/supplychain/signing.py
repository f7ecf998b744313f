"""Detached SM2 signatures of release artefacts.

A signature file is JSON::

    {"format": "stic-signature/1", "algorithm": "SM2-SM3", "uid": "<hex signer ID>",
     "artefact": {"name": "...", "size": N, "sm3": "<hex>"},
     "signer": {"fingerprint": "<SM3 of the signer's SubjectPublicKeyInfo>"},
     "signed_at": "2026-01-01T00:00:00Z",
     "signature": "<base64 DER (r, s)>"}

The signature covers the canonical JSON (sorted keys, no spaces, UTF-8) of every field but
``signature``, so name, size, digest, signer and time are all authenticated. Verification
takes the trusted public key from the caller, never from the file, and reports every
mismatch by name.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from security.crypto import DEFAULT_UID, SM2PrivateKey, SM2PublicKey
from security.crypto.sm3 import SM3Hasher

FORMAT = "stic-signature/1"
ALGORITHM = "SM2-SM3"
SIGNATURE_SUFFIX = ".sig"
_CHUNK = 1 << 20


class SignatureFormatError(ValueError):
    """The signature file is not a well-formed ``stic-signature/1`` document."""


def file_digest(path: Path) -> tuple[str, int]:
    """Return the SM3 hex digest and size of the file at ``path`` (read in 1 MiB chunks)."""
    hasher = SM3Hasher()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.digest().hex(), size


def _canonical(statement: dict[str, Any]) -> bytes:
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_file(
    *, path: Path, private_key: SM2PrivateKey, uid: bytes = DEFAULT_UID, now: datetime | None = None
) -> dict[str, Any]:
    """Return the signature document for the file at ``path`` (see the module docstring)."""
    digest, size = file_digest(path)
    statement: dict[str, Any] = {
        "format": FORMAT,
        "algorithm": ALGORITHM,
        "uid": uid.hex(),
        "artefact": {"name": path.name, "size": size, "sm3": digest},
        "signer": {"fingerprint": private_key.public_key().fingerprint()},
        "signed_at": (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    signature = private_key.sign(_canonical(statement), uid=uid)
    return {**statement, "signature": base64.b64encode(signature).decode()}


def write_signature(document: dict[str, Any], out: Path) -> None:
    """Write a signature document as indented JSON."""
    out.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """``ok`` when nothing mismatched; otherwise ``problems`` names each mismatch."""

    problems: list[str] = field(default_factory=list)
    signer_fingerprint: str | None = None
    signed_at: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the artefact, signer and signature all check out."""
        return not self.problems


def _load(document: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(document, dict):
        data = document
    else:
        try:
            data = json.loads(document)
        except ValueError as exc:
            raise SignatureFormatError(f"signature file is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SignatureFormatError("signature file must be a JSON object")
    missing = [
        k
        for k in ("format", "algorithm", "uid", "artefact", "signer", "signed_at", "signature")
        if k not in data
    ]
    if missing:
        raise SignatureFormatError(f"signature file lacks {', '.join(missing)}")
    if data["format"] != FORMAT:
        raise SignatureFormatError(f"unsupported signature format {data['format']!r} (expected {FORMAT})")
    if data["algorithm"] != ALGORITHM:
        raise SignatureFormatError(f"unsupported algorithm {data['algorithm']!r} (expected {ALGORITHM})")
    artefact, signer = data["artefact"], data["signer"]
    if not isinstance(artefact, dict) or not {"name", "size", "sm3"} <= artefact.keys():
        raise SignatureFormatError("signature file: artefact must hold name, size and sm3")
    if not isinstance(signer, dict) or "fingerprint" not in signer:
        raise SignatureFormatError("signature file: signer must hold fingerprint")
    return data


def verify_file(
    *, path: Path, document: bytes | str | dict[str, Any], public_key: SM2PublicKey
) -> VerificationResult:
    """Check the file at ``path`` against a signature document and a trusted public key.

    Raises :class:`SignatureFormatError` for a malformed document; every mismatch (signer,
    size, digest, signature) is listed in the result instead of raised.
    """
    data = _load(document)
    problems: list[str] = []
    expected_fp = public_key.fingerprint()
    if data["signer"]["fingerprint"] != expected_fp:
        problems.append(
            f"signer mismatch: signed by key {data['signer']['fingerprint']}, expected key {expected_fp}"
        )
    digest, size = file_digest(path)
    if data["artefact"]["size"] != size:
        problems.append(f"size mismatch: file has {size} bytes, signature covers {data['artefact']['size']}")
    if data["artefact"]["sm3"] != digest:
        problems.append(f"digest mismatch: file has SM3 {digest}, signature covers {data['artefact']['sm3']}")
    try:
        uid = bytes.fromhex(data["uid"])
        signature = base64.b64decode(data["signature"], validate=True)
    except (ValueError, binascii.Error, TypeError):
        raise SignatureFormatError("signature file: uid or signature is not valid hex/base64") from None
    statement = {k: v for k, v in data.items() if k != "signature"}
    if not public_key.verify(signature, _canonical(statement), uid=uid):
        problems.append("signature mismatch: the SM2 signature does not verify with the given public key")
    return VerificationResult(problems, data["signer"]["fingerprint"], data["signed_at"])
