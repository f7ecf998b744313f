"""The SM4-GCM envelope: wire format, associated data, and sealing/opening with a session's keys.

A request body travels as ``Content-Type: application/vnd.stic.sm4-envelope+json``::

    {"v": 1, "sid": "<session id>", "seq": 7, "nonce": "<b64, 12 bytes>", "ct": "<b64 ciphertext||tag>"}

A non-streamed response body is the same object under the same content type (``seq`` echoes the
request's). A streamed response stays ``text/event-stream``; each upstream event becomes one event
``data: {"sid", "seq", "chunk": k, "nonce", "ct"}`` whose plaintext is the upstream event's raw text,
and an extra last event with ``"fin": true`` (empty plaintext) marks the authentic end.

The associated data binds every field that is not encrypted: protocol label, direction, HTTP method,
path, session id, sequence, and for responses the status code, chunk index and fin flag. Each field
is length-prefixed, so no two different bindings share an encoding. Directions use separate keys
(client-to-server and server-to-client) *and* differ in the AAD, so a reflected envelope fails twice.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from inference.gateway.secure.errors import EnvelopeMalformed, EnvelopeTampered, EnvelopeUnsupportedVersion
from security.crypto import SM4GCM, DecryptionError

CONTENT_TYPE = "application/vnd.stic.sm4-envelope+json"
VERSION = 1
SUITE = "SM2-KEX+SM3-KDF+SM4-GCM"
NONCE_SIZE = 12
KEY_SIZE = 16
_LABEL = b"STIC-SM4-ENVELOPE/1"


class Direction(StrEnum):
    """Who sealed the envelope: the client (request) or the gateway (response)."""

    REQUEST = "c2s"
    RESPONSE = "s2c"


@dataclass(frozen=True, slots=True)
class Binding:
    """The cleartext context an envelope is authenticated against (see the module docstring)."""

    method: str
    path: str
    session_id: str
    seq: int
    status: int | None = None
    chunk: int | None = None
    final: bool = False

    def aad(self, direction: Direction) -> bytes:
        """The canonical associated data for ``direction``."""
        fields = (
            direction.value,
            self.method.upper(),
            self.path,
            self.session_id,
            str(self.seq),
            "" if self.status is None else str(self.status),
            "" if self.chunk is None else str(self.chunk),
            "fin" if self.final else "",
        )
        out = bytearray(_LABEL)
        for field in fields:
            raw = field.encode()
            out += len(raw).to_bytes(4, "big") + raw
        return bytes(out)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One sealed message as it travels (``chunk``/``final`` only on stream events)."""

    session_id: str
    seq: int
    nonce: bytes
    ciphertext: bytes
    chunk: int | None = None
    final: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON object sent on the wire."""
        out: dict[str, Any] = {
            "v": VERSION,
            "sid": self.session_id,
            "seq": self.seq,
            "nonce": base64.b64encode(self.nonce).decode(),
            "ct": base64.b64encode(self.ciphertext).decode(),
        }
        if self.chunk is not None:
            out["chunk"] = self.chunk
        if self.final:
            out["fin"] = True
        return out

    def to_json(self) -> bytes:
        """Compact JSON bytes of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        """Parse an envelope; raise :class:`EnvelopeMalformed` naming the bad field."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise EnvelopeMalformed("the envelope is not valid JSON", param="body") from None
        if not isinstance(data, dict):
            raise EnvelopeMalformed("the envelope must be a JSON object", param="body")
        if data.get("v") != VERSION:
            raise EnvelopeUnsupportedVersion(
                f"envelope version {data.get('v')!r} is not supported; this gateway speaks {VERSION}",
                param="v",
            )
        session_id = data.get("sid")
        if not isinstance(session_id, str) or not session_id:
            raise EnvelopeMalformed("'sid' must be a non-empty string", param="sid")
        nonce = _b64_field(data, "nonce")
        if len(nonce) != NONCE_SIZE:
            raise EnvelopeMalformed(f"'nonce' must decode to {NONCE_SIZE} bytes", param="nonce")
        chunk = data.get("chunk")
        if chunk is not None and not _is_count(chunk):
            raise EnvelopeMalformed("'chunk' must be a non-negative integer", param="chunk")
        final = data.get("fin", False)
        if not isinstance(final, bool):
            raise EnvelopeMalformed("'fin' must be a boolean", param="fin")
        seq = data.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise EnvelopeMalformed("'seq' must be a positive integer", param="seq")
        return cls(session_id, seq, nonce, _b64_field(data, "ct"), chunk, final)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _b64_field(data: dict[str, Any], name: str) -> bytes:
    value = data.get(name)
    if not isinstance(value, str):
        raise EnvelopeMalformed(f"'{name}' must be a base64 string", param=name)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeMalformed(f"'{name}' is not valid base64", param=name) from None


class SessionCipher:
    """The two SM4-GCM keys of one session; seals and opens envelopes for either end.

    Nonces are 12 random bytes per message (the envelope carries them). A session is bounded by
    its TTL and stays far below the 2^32 messages per key where random GCM nonces start to risk
    collision.
    """

    __slots__ = ("_ciphers", "session_id")

    def __init__(self, *, session_id: str, client_to_server: bytes, server_to_client: bytes) -> None:
        if len(client_to_server) != KEY_SIZE or len(server_to_client) != KEY_SIZE:
            raise ValueError(f"session keys must be {KEY_SIZE} bytes each")
        if client_to_server == server_to_client:
            raise ValueError("the two directions must use different keys")
        self.session_id = session_id
        self._ciphers = {
            Direction.REQUEST: SM4GCM(client_to_server),
            Direction.RESPONSE: SM4GCM(server_to_client),
        }

    def seal(self, direction: Direction, binding: Binding, plaintext: bytes) -> Envelope:
        """Encrypt ``plaintext`` for ``direction`` under ``binding``."""
        if binding.session_id != self.session_id:
            raise ValueError("binding names another session")
        nonce = SM4GCM.generate_nonce()
        sealed = self._ciphers[direction].encrypt(nonce, plaintext, binding.aad(direction))
        return Envelope(self.session_id, binding.seq, nonce, sealed, binding.chunk, binding.final)

    def open(self, direction: Direction, binding: Binding, envelope: Envelope) -> bytes:
        """Decrypt ``envelope``; raise :class:`EnvelopeTampered` unless it is authentic for ``binding``."""
        try:
            return self._ciphers[direction].decrypt(
                envelope.nonce, envelope.ciphertext, binding.aad(direction)
            )
        except DecryptionError:
            raise EnvelopeTampered(
                "envelope authentication failed: the ciphertext, nonce, sequence, session, method or path "
                "was altered, or it was sealed under another key",
                param="ct",
            ) from None
