"""Encrypted sessions held by one gateway process: TTL, per-key bound, replay windows.

Sessions live in this process's memory only. A deployment with several gateway replicas must
route a client's requests to the replica that ran its handshake (sticky sessions by the
``sid``-bearing client, or by API key); a replica that does not know a session answers
``envelope_session_unknown`` (401) and the client transports handshake again and resend once,
so a lost or moved session costs one round trip, never a failed call. A shared store (Redis)
would avoid that round trip, but must then update every replay window atomically across
replicas on each request — a network hop added to every encrypted call; per-process state keeps
the check at memory speed. The trade-off is documented rather than hidden.
"""

from __future__ import annotations

import hmac
import itertools
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from inference.gateway.secure.envelope import SessionCipher
from inference.gateway.secure.errors import (
    EnvelopeReplayed,
    EnvelopeStale,
    SecureSessionsExhausted,
    SessionExpired,
    SessionOwnerMismatch,
    SessionUnknown,
)
from security.crypto import sm3_digest

SESSION_ID_PREFIX = "sess_"


def owner_digest(token: str) -> bytes:
    """SM3 of the API key a session is bound to (the key itself is never kept)."""
    return sm3_digest(b"stic-secure-session-owner\x00" + token.encode())


def token_from_headers(authorization: str | None, api_key: str | None) -> str | None:
    """The API key on a request (``Authorization: Bearer`` or ``X-API-Key``), or None."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return value.strip() or None
    return api_key.strip() if api_key else None


class ReplayWindow:
    """Anti-replay over request sequence numbers (the sliding window of RFC 4303 / RFC 6347).

    Sequence numbers start at 1. A number above the highest seen is accepted and slides the
    window; one inside the window is accepted once; one below it is refused as stale. A window
    of size 1 means strictly increasing. The window (not strict order) lets one client send
    concurrent requests on several connections, which may arrive in any order.
    """

    __slots__ = ("_highest", "_seen", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"replay window must be >= 1, got {size}")
        self.size = size
        self._highest = 0
        self._seen = 0  # bit i set = sequence (highest - i) accepted

    @property
    def highest(self) -> int:
        """The highest sequence number accepted so far (0 before the first)."""
        return self._highest

    def accept(self, seq: int) -> None:
        """Record ``seq`` or raise :class:`EnvelopeReplayed` / :class:`EnvelopeStale`."""
        if seq > self._highest:
            shift = seq - self._highest
            self._seen = ((self._seen << shift) | 1) & ((1 << self.size) - 1) if shift < self.size else 1
            self._highest = seq
            return
        offset = self._highest - seq
        if offset >= self.size:
            raise EnvelopeStale(
                f"sequence {seq} is older than the replay window (highest accepted {self._highest}, "
                f"window {self.size}): replayed or reordered too far",
                param="seq",
            )
        if self._seen >> offset & 1:
            raise EnvelopeReplayed(f"sequence {seq} was already used in this session", param="seq")
        self._seen |= 1 << offset


@dataclass(slots=True)
class SecureSession:
    """One agreed session: its keys, owner, lifetime and replay window."""

    id: str
    tenant_id: str
    key_id: str
    owner: bytes = field(repr=False)
    cipher: SessionCipher = field(repr=False)
    created_at: float
    expires_at: float
    window: ReplayWindow

    def check_owner(self, token: str | None) -> None:
        """Raise :class:`SessionOwnerMismatch` unless ``token`` is the key that opened the session."""
        if token is None or not hmac.compare_digest(owner_digest(token), self.owner):
            raise SessionOwnerMismatch(
                "this encrypted session belongs to another API key; send the key that created it",
                param="sid",
            )


class SessionStore:
    """In-memory sessions with a TTL, at most ``max_per_key`` per API key, ``max_sessions`` in all.

    Opening a session beyond ``max_per_key`` evicts that key's oldest one, so a client that lost
    its sessions is never locked out while one key still cannot hold more than its share. When
    ``max_sessions`` is reached even after dropping expired sessions, :meth:`open` raises
    :class:`SecureSessionsExhausted`. Not thread-safe: use it from one event loop.
    """

    def __init__(
        self,
        *,
        ttl_s: float,
        max_per_key: int,
        max_sessions: int,
        replay_window: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_s <= 0 or max_per_key < 1 or max_sessions < 1:
            raise ValueError("ttl_s, max_per_key and max_sessions must be positive")
        self.ttl_s = ttl_s
        self.max_per_key = max_per_key
        self.max_sessions = max_sessions
        self.replay_window = replay_window
        self._clock = clock
        self._sessions: OrderedDict[str, SecureSession] = OrderedDict()  # in creation order
        self._by_key: dict[str, list[str]] = {}
        self._opened = itertools.count(1)

    def __len__(self) -> int:
        return len(self._sessions)

    def count_for(self, key_id: str) -> int:
        """How many sessions ``key_id`` holds now."""
        return len(self._by_key.get(key_id, ()))

    def open(
        self, *, tenant_id: str, key_id: str, token: str, client_to_server: bytes, server_to_client: bytes
    ) -> SecureSession:
        """Register a new session for the holder of ``token`` with the agreed keys."""
        if next(self._opened) % 64 == 0 or len(self._sessions) >= self.max_sessions:
            self.purge_expired()
        if len(self._sessions) >= self.max_sessions:
            raise SecureSessionsExhausted(
                f"the gateway already holds {self.max_sessions} encrypted sessions; retry later",
                detail={"max_sessions": self.max_sessions},
            )
        held = self._by_key.setdefault(key_id, [])
        while len(held) >= self.max_per_key:
            self._drop(held[0])
        session_id = SESSION_ID_PREFIX + secrets.token_hex(16)
        now = self._clock()
        session = SecureSession(
            id=session_id,
            tenant_id=tenant_id,
            key_id=key_id,
            owner=owner_digest(token),
            cipher=SessionCipher(
                session_id=session_id, client_to_server=client_to_server, server_to_client=server_to_client
            ),
            created_at=now,
            expires_at=now + self.ttl_s,
            window=ReplayWindow(self.replay_window),
        )
        self._sessions[session_id] = session
        self._by_key.setdefault(key_id, []).append(session_id)
        return session

    def get(self, session_id: str) -> SecureSession:
        """The live session ``session_id``; raise :class:`SessionUnknown` or :class:`SessionExpired`."""
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionUnknown(
                f"encrypted session '{session_id[:64]}' is unknown to this gateway process; handshake again",
                param="sid",
            )
        if session.expires_at <= self._clock():
            self._drop(session_id)
            raise SessionExpired(
                f"encrypted session '{session_id}' has expired; handshake again", param="sid"
            )
        return session

    def close(self, session_id: str) -> bool:
        """Forget a session; True if it existed."""
        if session_id not in self._sessions:
            return False
        self._drop(session_id)
        return True

    def purge_expired(self) -> int:
        """Drop every expired session; return how many."""
        now = self._clock()
        expired: list[str] = []
        for sid, session in self._sessions.items():  # creation order = expiry order (one TTL)
            if session.expires_at > now:
                break
            expired.append(sid)
        for sid in expired:
            self._drop(sid)
        return len(expired)

    def _drop(self, session_id: str) -> None:
        session = self._sessions.pop(session_id)
        held = self._by_key.get(session.key_id)
        if held is not None:
            held.remove(session_id)
            if not held:
                del self._by_key[session.key_id]
