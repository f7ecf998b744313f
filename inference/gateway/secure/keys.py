"""The gateway's long-term SM2 identity: loaded from a PEM file (mode 0600) or a setting.

Clients pin the SM3 fingerprint of the public key (the SubjectPublicKeyInfo DER, as
:meth:`security.crypto.SM2PublicKey.fingerprint` computes it), served at ``GET /v1/secure/key``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from security.crypto import SM2PrivateKey, SM2PublicKey

DEFAULT_GATEWAY_UID = b"stic-gateway"


@dataclass(frozen=True, slots=True)
class GatewayKeyPair:
    """The SM2 key pair the gateway answers handshakes with, and its SM2 user id."""

    private_key: SM2PrivateKey = field(repr=False)
    uid: bytes = DEFAULT_GATEWAY_UID

    @property
    def public_key(self) -> SM2PublicKey:
        """The public half (what clients pin)."""
        return self.private_key.public_key()

    @property
    def fingerprint(self) -> str:
        """SM3 hex fingerprint of the public key's SubjectPublicKeyInfo DER."""
        return self.public_key.fingerprint()

    @classmethod
    def generate(cls, *, uid: bytes = DEFAULT_GATEWAY_UID) -> GatewayKeyPair:
        """A fresh, unpersisted key pair (tests, ephemeral deployments)."""
        return cls(SM2PrivateKey.generate(), uid)

    @classmethod
    def from_pem(cls, pem: bytes | str, *, uid: bytes = DEFAULT_GATEWAY_UID) -> GatewayKeyPair:
        """Load a PKCS#8 / SEC1 private-key PEM."""
        return cls(SM2PrivateKey.from_pem(pem), uid)

    @classmethod
    def load_or_create(cls, path: Path, *, uid: bytes = DEFAULT_GATEWAY_UID) -> GatewayKeyPair:
        """Load the key at ``path``, or create it there with mode 0600.

        Refuses (``PermissionError``) a key file readable by group or others, as ssh does: a
        leaked gateway key lets an on-path attacker impersonate the gateway to new clients.
        """
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return cls._create(path, uid=uid)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(
                f"gateway SM2 key {path} must not be accessible by group/others (chmod 600)"
            )
        return cls.from_pem(path.read_bytes(), uid=uid)

    @classmethod
    def _create(cls, path: Path, *, uid: bytes) -> GatewayKeyPair:
        path.parent.mkdir(parents=True, exist_ok=True)
        pair = cls.generate(uid=uid)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: use its key
            return cls.load_or_create(path, uid=uid)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pair.private_key.to_pem())
        return pair
