"""Fixtures for the secure-channel tests: gateway keys and a gateway state on a controllable clock."""

from __future__ import annotations

import os

import pytest

from inference.gateway.secure.envelope import SessionCipher
from inference.gateway.secure.gateway import SecureGateway
from inference.gateway.secure.keys import GatewayKeyPair
from inference.gateway.secure.sessions import SessionStore
from inference.gateway.secure.settings import SecureSettings

TOKEN = "stic_0123456789abcdef_client-secret"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="session")
def gateway_keys() -> GatewayKeyPair:
    return GatewayKeyPair.generate()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gateway(gateway_keys: GatewayKeyPair, clock: Clock) -> SecureGateway:
    """A gateway state with a 60 s TTL, a replay window of 4, and sessions on ``clock``."""
    settings = SecureSettings(session_ttl_s=60, replay_window=4, max_sessions_per_key=8)
    sessions = SessionStore(
        ttl_s=settings.session_ttl_s,
        max_per_key=settings.max_sessions_per_key,
        max_sessions=settings.max_sessions,
        replay_window=settings.replay_window,
        clock=clock,
    )
    return SecureGateway(gateway_keys, sessions, settings)


def open_session(gateway: SecureGateway, token: str = TOKEN) -> SessionCipher:
    """Register a session directly (as the handshake would) and return the client's cipher."""
    c2s, s2c = os.urandom(16), os.urandom(16)
    session = gateway.sessions.open(
        tenant_id="ten_test", key_id="key_test", token=token, client_to_server=c2s, server_to_client=s2c
    )
    return SessionCipher(session_id=session.id, client_to_server=c2s, server_to_client=s2c)
