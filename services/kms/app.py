"""The KMS service: tenant master keys and envelope encryption over HTTP.

The root key comes from ``STIC_KMS_ROOT_KEY`` (hex or base64 of 32 bytes) or the file named by
``STIC_KMS_ROOT_KEY_FILE``. In development only, a missing root key file is created (mode 0600);
elsewhere start-up fails naming the missing setting. Every KMS use is recorded through the app's
audit hub (the Merkle log when the audit service is mounted).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from security.kms.rootkey import RootKey
from security.kms.service import KeyManagementService
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.settings import Settings
from services.kms.router import router


class KmsSettings(BaseSettings):
    """Where the root key comes from (env prefix ``STIC_KMS_``)."""

    model_config = SettingsConfigDict(env_prefix="STIC_KMS_", env_file=".env", extra="ignore")

    root_key: str | None = Field(default=None, description="32 bytes, hex or base64")
    root_key_file: Path | None = Field(default=None, description="default: <STIC_DATA_DIR>/kms-root-key")


def load_root_key(settings: KmsSettings, *, environment: str, data_dir: Path) -> RootKey:
    """The root key from the settings; creates the file in development only."""
    if settings.root_key:
        return RootKey.from_text(settings.root_key, source="STIC_KMS_ROOT_KEY")
    path = settings.root_key_file or data_dir / "kms-root-key"
    if not path.exists() and environment == "development":
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return RootKey.load(file=path)


async def start_kms(app: FastAPI) -> None:
    """Load the root key and build the KMS."""
    settings: KmsSettings = getattr(app.state, "kms_settings", None) or KmsSettings()
    root = load_root_key(
        settings, environment=app.state.settings.environment, data_dir=app.state.settings.data_dir
    )
    app.state.kms = KeyManagementService(root_key=root, audit=app.state.audit)


module = ServiceModule(
    name="kms",
    title="Key management",
    description="tenant master keys; GenerateDataKey, Encrypt, Decrypt, ReEncrypt with context; rotation",
    routers=[router],
    on_startup=[start_kms],
)


def create_app(settings: Settings, kms_settings: KmsSettings | None = None) -> FastAPI:
    """The KMS service alone."""
    app = create_service_app(modules=[module], settings=settings)
    if kms_settings is not None:
        app.state.kms_settings = kms_settings
    return app
