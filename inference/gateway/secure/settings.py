"""Settings of the encrypted channel, from the environment with the ``STIC_SECURE_`` prefix."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

KEY_FILE_NAME = Path("secure") / "gateway-sm2.pem"


class SecureSettings(BaseSettings):
    """Tunables of the SM2/SM4 envelope layer (see inference/gateway/secure/__init__.py)."""

    model_config = SettingsConfigDict(env_prefix="STIC_SECURE_", env_file=".env", extra="ignore")

    session_ttl_s: float = Field(default=1800.0, gt=0, le=86_400, description="Lifetime of a session")
    max_sessions_per_key: int = Field(default=32, ge=1, description="Sessions one API key may hold")
    max_sessions: int = Field(default=100_000, ge=1, description="Sessions one gateway process holds")
    replay_window: int = Field(default=256, ge=1, le=4096, description="Request sequence window (1 = strict)")
    key_file: Path | None = Field(
        default=None, description=f"Gateway SM2 private key PEM; default <data_dir>/{KEY_FILE_NAME}"
    )
    private_key_pem: SecretStr | None = Field(
        default=None,
        description="Gateway SM2 private key PEM given directly (takes precedence over key_file)",
    )
    uid: str = Field(default="stic-gateway", min_length=1, max_length=64, description="Gateway SM2 user id")
    required: bool = Field(default=False, description="Refuse unencrypted bodies on the covered paths")

    def resolved_key_file(self, data_dir: Path) -> Path:
        """Where the key file lives for an app whose data directory is ``data_dir``."""
        return self.key_file if self.key_file is not None else data_dir / KEY_FILE_NAME
