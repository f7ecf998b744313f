"""Errors of the encrypted channel, on both ends.

Server side, :class:`EnvelopeError` subclasses carry the HTTP status and the stable ``code`` the
middleware answers with, in the OpenAI error shape (``{"error": {"message", "type", "param",
"code"}}``) and in clear text: the session key may be unknown, and the error reveals nothing secret.
Client side, :class:`SecureChannelError` is raised by the httpx transports; it is an
``httpx.TransportError`` so callers that handle transport failures handle it too.
"""

from __future__ import annotations

import json
from typing import ClassVar

import httpx

from services.kernel.errors import STICError

ENVELOPE_ERROR_HEADER = b"x-stic-envelope-error"


class EnvelopeError(Exception):
    """A request envelope was refused; ``code`` says why, ``param`` names the offending field."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "envelope_invalid"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def body(self) -> dict[str, dict[str, str | None]]:
        """The OpenAI-shaped error body."""
        return {
            "error": {
                "message": self.message,
                "type": "invalid_request_error",
                "param": self.param,
                "code": self.code,
            }
        }

    def encoded(self) -> bytes:
        """The body as JSON bytes."""
        return json.dumps(self.body()).encode()


class EnvelopeRequired(EnvelopeError):
    """The gateway only accepts encrypted bodies on this path."""

    code = "envelope_required"


class EnvelopeMalformed(EnvelopeError):
    """Not a valid envelope: bad JSON, missing field, bad base64, wrong sizes."""

    code = "envelope_malformed"


class EnvelopeUnsupportedVersion(EnvelopeError):
    """The envelope names a protocol version this gateway does not speak."""

    code = "envelope_unsupported_version"


class SessionUnknown(EnvelopeError):
    """No such session here (never created, closed, evicted, or held by another gateway process)."""

    status_code = 401
    code = "envelope_session_unknown"


class SessionExpired(EnvelopeError):
    """The session outlived its TTL; the client must handshake again."""

    status_code = 401
    code = "envelope_session_expired"


class SessionOwnerMismatch(EnvelopeError):
    """The session was created with another API key than the one on this request."""

    status_code = 403
    code = "envelope_session_forbidden"


class EnvelopeTampered(EnvelopeError):
    """SM4-GCM authentication failed: ciphertext, nonce, sequence, session, method or path altered."""

    code = "envelope_tampered"


class EnvelopeReplayed(EnvelopeError):
    """This sequence number was already accepted in this session."""

    status_code = 409
    code = "envelope_replayed"


class EnvelopeStale(EnvelopeError):
    """The sequence number is older than the replay window (reordered too far, or replayed)."""

    status_code = 409
    code = "envelope_stale"


RETRYABLE_SESSION_CODES = frozenset({SessionUnknown.code, SessionExpired.code})
"""Codes after which a client should handshake again and resend (with a fresh envelope)."""


class SecureSessionsExhausted(STICError):
    """The gateway holds as many encrypted sessions as it is configured to (handshake refused)."""

    status_code = 503
    code = "secure_sessions_exhausted"


class SecureChannelError(httpx.TransportError):
    """Client side: the gateway's key, handshake, or an encrypted response failed verification."""


class ServerKeyMismatch(SecureChannelError):
    """The gateway's public key does not match the pinned fingerprint."""
