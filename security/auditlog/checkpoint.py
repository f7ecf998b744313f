"""Checkpoints in the C2SP ``tlog-checkpoint`` format, wrapped in a C2SP ``signed-note``.

Body (each line ends with ``\\n``)::

    <origin>
    <tree size, decimal>
    <base64 root hash>
    time <RFC 3339 UTC, microseconds>

The fourth line is a checkpoint *extension line* (allowed by tlog-checkpoint; clients that do
not know it ignore it) carrying the signing time. The signed note appends a blank line and one
signature line per signer::

    — <key name> <base64(4-byte key id ‖ signature)>

Signers are pluggable (:class:`NoteSigner` / :class:`NoteVerifier`); STIC signs with SM2
(``security.auditlog.signing``). The key id is the first four bytes of
``SM3(key name ‖ 0x0A ‖ 0xFF ‖ "SM2" ‖ public key DER)`` — 0xFF is the signed-note
"other algorithm" type byte followed by an algorithm identifier.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

EM_DASH = "\u2014"
KEY_ID_SIZE = 4


class CheckpointError(ValueError):
    """A checkpoint or signed note is malformed or its signature does not verify."""


class NoteSigner(Protocol):
    """Signs note bodies under a named key."""

    @property
    def name(self) -> str:
        """Key name written on the signature line (no spaces, no ``+``)."""
        ...

    @property
    def key_id(self) -> bytes:
        """Four-byte key id."""
        ...

    @property
    def fingerprint(self) -> str:
        """Stable fingerprint of the public key (stored beside each checkpoint)."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Signature over ``message``."""
        ...


class NoteVerifier(Protocol):
    """Verifies signatures made by one named key."""

    @property
    def name(self) -> str:
        """Key name expected on the signature line."""
        ...

    @property
    def key_id(self) -> bytes:
        """Four-byte key id expected in the signature."""
        ...

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` is valid over ``message``."""
        ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: ``size`` leaves with MTH ``root`` in the log ``origin``, at ``time``."""

    origin: str
    size: int
    root: bytes
    time: datetime

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("checkpoint origin must be a non-empty single line")
        if self.size < 0:
            raise CheckpointError(f"checkpoint size must be >= 0, got {self.size}")
        if len(self.root) != 32:
            raise CheckpointError(f"checkpoint root must be 32 bytes, got {len(self.root)}")
        if self.time.tzinfo is None:
            raise CheckpointError("checkpoint time must be timezone-aware")

    def body(self) -> str:
        """The note body (the signed text)."""
        stamp = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\ntime {stamp}\n"

    @classmethod
    def parse_body(cls, body: str) -> Checkpoint:
        """Parse a note body produced by :meth:`body`; raises :class:`CheckpointError`."""
        if not body.endswith("\n"):
            raise CheckpointError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("checkpoint body needs origin, size and root lines")
        origin, size_text, root_text, *extensions = lines
        if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
            raise CheckpointError(f"checkpoint size {size_text!r} is not a canonical decimal")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error as exc:
            raise CheckpointError(f"checkpoint root {root_text!r} is not base64") from exc
        times = [line[5:] for line in extensions if line.startswith("time ")]
        if len(times) != 1:
            raise CheckpointError("checkpoint needs exactly one 'time' extension line")
        try:
            time = datetime.strptime(times[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError as exc:
            raise CheckpointError(f"checkpoint time {times[0]!r} is not RFC 3339 UTC") from exc
        return cls(origin=origin, size=int(size_text), root=root, time=time)


def sign_note(body: str, signer: NoteSigner) -> str:
    """A signed note: ``body``, a blank line, and ``signer``'s signature line."""
    if " " in signer.name or "+" in signer.name or not signer.name:
        raise CheckpointError(f"key name {signer.name!r} must be non-empty without spaces or '+'")
    signature = signer.sign(body.encode("utf-8"))
    blob = base64.b64encode(signer.key_id + signature).decode()
    return f"{body}\n{EM_DASH} {signer.name} {blob}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its body and ``(key name, key id, signature)`` lines."""
    separator = note.rfind("\n\n")
    if separator < 0:
        raise CheckpointError("signed note has no blank line before its signatures")
    body, signature_block = note[: separator + 1], note[separator + 2 :]
    if not signature_block.endswith("\n"):
        raise CheckpointError("signed note must end with a newline")
    signatures = []
    for line in signature_block[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH:
            raise CheckpointError(f"malformed signature line {line!r}")
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise CheckpointError(f"signature of {parts[1]!r} is not base64") from exc
        if len(blob) <= KEY_ID_SIZE:
            raise CheckpointError(f"signature of {parts[1]!r} is too short")
        signatures.append((parts[1], blob[:KEY_ID_SIZE], blob[KEY_ID_SIZE:]))
    if not signatures:
        raise CheckpointError("signed note carries no signature")
    return body, signatures


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> str:
    """The signed-note text of ``checkpoint``."""
    return sign_note(checkpoint.body(), signer)


def open_checkpoint(note: str, verifier: NoteVerifier, *, origin: str | None = None) -> Checkpoint:
    """Verify ``note`` with ``verifier`` and parse its checkpoint.

    Raises :class:`CheckpointError` if no signature line matches the verifier's name and key id,
    if the signature is invalid, if the body is malformed, or if ``origin`` is given and differs.
    """
    body, signatures = split_note(note)
    matching = [
        sig for name, key_id, sig in signatures if name == verifier.name and key_id == verifier.key_id
    ]
    if not matching:
        raise CheckpointError(f"checkpoint is not signed by key {verifier.name!r}")
    if not any(verifier.verify(body.encode("utf-8"), sig) for sig in matching):
        raise CheckpointError(f"checkpoint signature by {verifier.name!r} does not verify")
    checkpoint = Checkpoint.parse_body(body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint
