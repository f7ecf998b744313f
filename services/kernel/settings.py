"""Process-wide settings, read from the environment with the ``STIC_`` prefix.

One :class:`Settings` object is built per process (``get_settings()``) or per app in tests
(``Settings(...)`` passed to ``create_app``). Outside ``environment="development"`` the
default secret is refused, so a production deployment cannot start with a known key.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "stic-development-secret-change-me"  # noqa: S105 - refused outside development
REPO_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Every tunable of a STIC process; see README "Configuration" for the full table."""

    model_config = SettingsConfigDict(env_prefix="STIC_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{REPO_ROOT / 'var' / 'stic.db'}",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    secret_key: str = Field(default=DEFAULT_SECRET, min_length=16)
    bootstrap_key_file: Path | None = Field(
        default=None,
        description="If set and the file exists, its content is the bootstrap admin key; "
        "if set and missing, the generated key is written there (mode 0600) instead of printed.",
    )
    data_dir: Path = Field(
        default=REPO_ROOT / "var",
        description="Where generated local state lives (SQLite file, development keys, task logs)",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool = True
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry request spans, metrics and logs (sent where the OTel "
        "providers or FASTAPI_OTEL_AUTO_CONFIGURE point); off, each request skips FastAPI's provider lookup",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body (bytes)")
    max_upload_bytes: int = Field(
        default=104_857_600,
        ge=1024,
        description="Largest body on upload routes (POST /v1/files, batch result reports); the upload is "
        "held in memory while it is validated and sealed",
    )
    redis_url: str | None = None
    demo: bool = False
    assessment_attestations: Path | None = Field(
        default=None, description="Operator attestation YAML read by assessment runs started over the API"
    )
    assessment_results_dir: Path | None = Field(
        default=None, description="Folder of benchmark result JSON files read by assessment runs"
    )
    run_migrations: bool = True

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment != "development" and self.secret_key == DEFAULT_SECRET:
            raise ValueError(
                f"STIC_SECRET_KEY must be set to a non-default value when STIC_ENVIRONMENT={self.environment}"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        """True when the configured database is SQLite."""
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
