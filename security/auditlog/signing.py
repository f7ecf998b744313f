"""SM2 signers for checkpoints (see :mod:`security.auditlog.checkpoint` for the key-id rule)."""

from __future__ import annotations

from pathlib import Path

from security.crypto import SM2PrivateKey, SM2PublicKey, sm3_digest

ALGORITHM_TAG = b"\xffSM2"


def _key_id(name: str, public_key: SM2PublicKey) -> bytes:
    return sm3_digest(name.encode("utf-8") + b"\n" + ALGORITHM_TAG + public_key.to_der())[:4]


class SM2NoteVerifier:
    """Verifies checkpoint signatures made by the SM2 key ``public_key`` named ``name``."""

    def __init__(self, *, name: str, public_key: SM2PublicKey) -> None:
        self._name = name
        self._public_key = public_key
        self._key_id = _key_id(name, public_key)

    @property
    def name(self) -> str:
        """Key name on the signature line."""
        return self._name

    @property
    def key_id(self) -> bytes:
        """Four-byte key id."""
        return self._key_id

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint."""
        return self._public_key.fingerprint()

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True iff ``signature`` is a valid SM2 signature over ``message``."""
        return self._public_key.verify(signature, message)

    @classmethod
    def from_pem(cls, *, name: str, pem: bytes) -> SM2NoteVerifier:
        """Build from a PEM-encoded SM2 public key."""
        return cls(name=name, public_key=SM2PublicKey.from_pem(pem))


class SM2NoteSigner:
    """Signs checkpoints with the SM2 private key ``private_key`` under the key name ``name``."""

    def __init__(self, *, name: str, private_key: SM2PrivateKey) -> None:
        self._private_key = private_key
        self._verifier = SM2NoteVerifier(name=name, public_key=private_key.public_key())

    @property
    def name(self) -> str:
        """Key name on the signature line."""
        return self._verifier.name

    @property
    def key_id(self) -> bytes:
        """Four-byte key id."""
        return self._verifier.key_id

    @property
    def fingerprint(self) -> str:
        """The public key's fingerprint."""
        return self._verifier.fingerprint

    @property
    def verifier(self) -> SM2NoteVerifier:
        """The matching verifier."""
        return self._verifier

    def public_key_pem(self) -> bytes:
        """PEM of the public key (publish it so auditors can verify checkpoints)."""
        return self._private_key.public_key().to_pem()

    def private_key_pem(self) -> bytes:
        """PEM of the private key (to persist it; keep it secret)."""
        return self._private_key.to_pem()

    def sign(self, message: bytes) -> bytes:
        """SM2 signature over ``message``."""
        return self._private_key.sign(message)

    @classmethod
    def generate(cls, *, name: str) -> SM2NoteSigner:
        """A signer with a fresh random key (tests, development)."""
        return cls(name=name, private_key=SM2PrivateKey.generate())

    @classmethod
    def from_pem_file(cls, *, name: str, path: Path) -> SM2NoteSigner:
        """Load the private key from a PEM file."""
        return cls(name=name, private_key=SM2PrivateKey.from_pem(path.read_bytes()))
