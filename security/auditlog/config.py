"""Settings of the audit log (env prefix ``STIC_AUDIT_``) and the checkpoint key they name."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from security.auditlog.log import LogConfig
from security.auditlog.signing import SM2NoteSigner, SM2NoteVerifier


class AuditSettings(BaseSettings):
    """Where the checkpoint key lives, how it is named, and the sequencer's batching."""

    model_config = SettingsConfigDict(env_prefix="STIC_AUDIT_", env_file=".env", extra="ignore")

    signing_key_file: Path | None = Field(
        default=None,
        description="SM2 private key (PEM) that signs checkpoints; created (mode 0600) if missing "
        "and create_key is true. Default: <STIC_DATA_DIR>/audit-signing-key.pem",
    )
    create_key: bool = True
    key_name: str = Field(default="stic-audit", pattern=r"^[^\s+]+$")
    origin: str = Field(default="stic.audit/v1", min_length=1)
    batch_max: int = Field(default=2000, ge=1)
    batch_wait_ms: float = Field(default=2.0, ge=0)
    busy_batch_interval_ms: float = Field(
        default=25.0, ge=0, description="Under load, the least time between the starts of two batches."
    )
    checkpoint_every: int = Field(default=10_000, ge=1)
    checkpoint_interval_s: float = Field(default=60.0, gt=0)

    def log_config(self) -> LogConfig:
        """The sequencer configuration these settings describe."""
        return LogConfig(
            origin=self.origin,
            batch_max=self.batch_max,
            batch_wait=self.batch_wait_ms / 1000,
            busy_batch_interval=self.busy_batch_interval_ms / 1000,
            checkpoint_every=self.checkpoint_every,
            checkpoint_interval=self.checkpoint_interval_s,
        )

    def load_signer(self, *, data_dir: Path) -> SM2NoteSigner:
        """Load the checkpoint key; create it first if missing and ``create_key`` allows.

        Raises ``FileNotFoundError`` naming the path when the key is missing and may not be created.
        """
        path = self.signing_key_file or data_dir / "audit-signing-key.pem"
        if not path.exists():
            if not self.create_key:
                raise FileNotFoundError(
                    f"audit signing key {path} does not exist (STIC_AUDIT_SIGNING_KEY_FILE)"
                )
            signer = SM2NoteSigner.generate(name=self.key_name)
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(signer.private_key_pem())
            return signer
        return SM2NoteSigner.from_pem_file(name=self.key_name, path=path)

    def verifier_from_public_key(self, pem_file: Path) -> SM2NoteVerifier:
        """A verifier for checkpoints signed by the public key in ``pem_file``."""
        return SM2NoteVerifier.from_pem(name=self.key_name, pem=pem_file.read_bytes())
