"""The per-app state of the encrypted channel, shared by the handshake router and the middleware."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from inference.gateway.secure.keys import GatewayKeyPair
from inference.gateway.secure.sessions import SessionStore
from inference.gateway.secure.settings import SecureSettings

STATE_ATTRIBUTE = "secure_gateway"
SETTINGS_ATTRIBUTE = "secure_settings"


@dataclass(frozen=True, slots=True)
class SecureGateway:
    """The gateway's SM2 identity, its session store, and the settings they came from."""

    keys: GatewayKeyPair
    sessions: SessionStore
    settings: SecureSettings

    @classmethod
    def from_settings(cls, settings: SecureSettings, *, data_dir: Path) -> SecureGateway:
        """Load (or create, mode 0600) the key and build an empty session store."""
        uid = settings.uid.encode()
        if settings.private_key_pem is not None:
            keys = GatewayKeyPair.from_pem(settings.private_key_pem.get_secret_value(), uid=uid)
        else:
            keys = GatewayKeyPair.load_or_create(settings.resolved_key_file(data_dir), uid=uid)
        return cls.with_keys(keys, settings)

    @classmethod
    def with_keys(cls, keys: GatewayKeyPair, settings: SecureSettings | None = None) -> SecureGateway:
        """A gateway state around given keys (tests, embedding)."""
        settings = settings or SecureSettings()
        sessions = SessionStore(
            ttl_s=settings.session_ttl_s,
            max_per_key=settings.max_sessions_per_key,
            max_sessions=settings.max_sessions,
            replay_window=settings.replay_window,
        )
        return cls(keys, sessions, settings)


async def install_secure_gateway(app: FastAPI) -> None:
    """Start-up hook: put a :class:`SecureGateway` on ``app.state.secure_gateway``.

    Uses ``app.state.secure_settings`` when set (tests), else :class:`SecureSettings` from the
    environment, and the kernel settings' ``data_dir`` for the default key file. Keeps a
    gateway already installed (so a test can inject one).
    """
    if getattr(app.state, STATE_ATTRIBUTE, None) is not None:
        return
    settings = getattr(app.state, SETTINGS_ATTRIBUTE, None) or SecureSettings()
    setattr(
        app.state,
        STATE_ATTRIBUTE,
        SecureGateway.from_settings(settings, data_dir=app.state.settings.data_dir),
    )


def secure_gateway_of(app: Any) -> SecureGateway:
    """The :class:`SecureGateway` installed on ``app`` (raises RuntimeError if none)."""
    gateway = getattr(getattr(app, "state", None), STATE_ATTRIBUTE, None)
    if not isinstance(gateway, SecureGateway):
        raise RuntimeError("no SecureGateway on app.state: add install_secure_gateway to on_startup")
    return gateway
