"""Replay windows and the in-memory session store (TTL, per-key bound, global bound, owner)."""

from __future__ import annotations

import pytest

from inference.gateway.secure.errors import (
    EnvelopeReplayed,
    EnvelopeStale,
    SecureSessionsExhausted,
    SessionExpired,
    SessionOwnerMismatch,
    SessionUnknown,
)
from inference.gateway.secure.sessions import ReplayWindow, SessionStore, token_from_headers


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def store(clock: Clock, **overrides: int | float) -> SessionStore:
    values: dict[str, int | float] = {"ttl_s": 60.0, "max_per_key": 3, "max_sessions": 10, "replay_window": 4}
    values.update(overrides)
    return SessionStore(clock=clock, **values)  # type: ignore[arg-type]


def open_one(sessions: SessionStore, key_id: str = "key_a", token: str = "stic_token_a") -> str:
    return sessions.open(
        tenant_id="ten_1", key_id=key_id, token=token, client_to_server=b"c" * 16, server_to_client=b"s" * 16
    ).id


def test_window_accepts_each_sequence_once_in_any_order_inside_the_window() -> None:
    window = ReplayWindow(4)
    for seq in (1, 3, 2, 5, 4):
        window.accept(seq)
    assert window.highest == 5
    for seq in (5, 4, 3, 2):
        with pytest.raises(EnvelopeReplayed):
            window.accept(seq)


def test_window_refuses_sequences_older_than_the_window() -> None:
    window = ReplayWindow(4)
    window.accept(10)
    window.accept(7)  # 10 - 3: the oldest still inside
    with pytest.raises(EnvelopeStale) as caught:
        window.accept(6)
    assert caught.value.param == "seq" and "window 4" in caught.value.message
    window.accept(100)  # a jump larger than the window forgets everything older
    with pytest.raises(EnvelopeStale):
        window.accept(96)
    window.accept(97)


def test_window_of_one_means_strictly_increasing() -> None:
    window = ReplayWindow(1)
    window.accept(1)
    window.accept(2)
    with pytest.raises(EnvelopeReplayed):
        window.accept(2)
    window.accept(4)
    with pytest.raises(EnvelopeStale):
        window.accept(3)  # reordered


def test_sessions_expire_then_are_forgotten() -> None:
    clock = Clock()
    sessions = store(clock)
    sid = open_one(sessions)
    assert sessions.get(sid).expires_at == clock.now + 60
    clock.now += 60
    with pytest.raises(SessionExpired) as caught:
        sessions.get(sid)
    assert caught.value.status_code == 401 and caught.value.code == "envelope_session_expired"
    with pytest.raises(SessionUnknown):
        sessions.get(sid)
    assert len(sessions) == 0


def test_a_key_over_its_bound_loses_its_oldest_session_not_others() -> None:
    sessions = store(Clock())
    other = open_one(sessions, key_id="key_b", token="stic_token_b")
    mine = [open_one(sessions) for _ in range(4)]
    with pytest.raises(SessionUnknown):
        sessions.get(mine[0])
    for sid in (*mine[1:], other):
        sessions.get(sid)
    assert sessions.count_for("key_a") == 3 and sessions.count_for("key_b") == 1


def test_the_process_bound_refuses_new_sessions_until_some_expire() -> None:
    clock = Clock()
    sessions = store(clock, max_sessions=4, max_per_key=10)
    for _ in range(4):
        open_one(sessions)
    with pytest.raises(SecureSessionsExhausted):
        open_one(sessions)
    clock.now += 61
    open_one(sessions)
    assert len(sessions) == 1


def test_purge_drops_only_expired_sessions() -> None:
    clock = Clock()
    sessions = store(clock, max_per_key=10)
    old = open_one(sessions)
    clock.now += 30
    young = open_one(sessions)
    clock.now += 31
    assert sessions.purge_expired() == 1
    sessions.get(young)
    assert not sessions.close(old) and sessions.close(young)


def test_session_is_bound_to_the_api_key_that_opened_it() -> None:
    sessions = store(Clock())
    session = sessions.get(open_one(sessions, token="stic_token_a"))
    session.check_owner("stic_token_a")
    for wrong in ("stic_token_b", None):
        with pytest.raises(SessionOwnerMismatch):
            session.check_owner(wrong)


def test_token_from_headers() -> None:
    assert token_from_headers("Bearer abc ", None) == "abc"
    assert token_from_headers("Basic abc", None) is None
    assert token_from_headers(None, " xyz") == "xyz"
    assert token_from_headers(None, None) is None
