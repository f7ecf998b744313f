"""End-to-end encryption between OpenAI clients and the gateway: SM2 key agreement, SM4-GCM envelopes.

Server side, mount three things (see ``secure_module_parts``)::

    router                       GET /v1/secure/key, POST /v1/secure/sessions, DELETE /v1/secure/sessions/{id}
    install_secure_gateway       on_startup hook: loads/creates the SM2 key, builds the session store
    SecureEnvelopeMiddleware     decrypts request bodies, encrypts responses and each SSE event

Client side, ``SyncSecureTransport`` / ``SecureTransport`` make the official ``openai`` SDK speak the
protocol unchanged. Protocol: :mod:`.handshake` (key agreement), :mod:`.envelope` (wire format and
AAD), :mod:`.sessions` (TTL, replay window, per-process state and its trade-off).
"""

from inference.gateway.secure.bench import measure_overhead
from inference.gateway.secure.client import SecureTransport, StreamOpener, SyncSecureTransport
from inference.gateway.secure.envelope import CONTENT_TYPE, SUITE, Binding, Direction, Envelope, SessionCipher
from inference.gateway.secure.errors import (
    EnvelopeError,
    SecureChannelError,
    SecureSessionsExhausted,
    ServerKeyMismatch,
)
from inference.gateway.secure.gateway import SecureGateway, install_secure_gateway, secure_gateway_of
from inference.gateway.secure.handshake import ClientHandshake, respond
from inference.gateway.secure.keys import GatewayKeyPair
from inference.gateway.secure.middleware import DEFAULT_PATHS, SecureEnvelopeMiddleware
from inference.gateway.secure.router import router
from inference.gateway.secure.sessions import ReplayWindow, SecureSession, SessionStore
from inference.gateway.secure.settings import SecureSettings

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_PATHS",
    "SUITE",
    "Binding",
    "ClientHandshake",
    "Direction",
    "Envelope",
    "EnvelopeError",
    "GatewayKeyPair",
    "ReplayWindow",
    "SecureChannelError",
    "SecureEnvelopeMiddleware",
    "SecureGateway",
    "SecureSession",
    "SecureSessionsExhausted",
    "SecureSettings",
    "SecureTransport",
    "ServerKeyMismatch",
    "SessionCipher",
    "SessionStore",
    "StreamOpener",
    "SyncSecureTransport",
    "install_secure_gateway",
    "measure_overhead",
    "respond",
    "router",
    "secure_gateway_of",
]
