"""The envelope: wire format, associated data, and every way an envelope must fail to open."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from inference.gateway.secure.envelope import Binding, Direction, Envelope, SessionCipher
from inference.gateway.secure.errors import EnvelopeMalformed, EnvelopeTampered, EnvelopeUnsupportedVersion

SID = "sess_" + "ab" * 16
PLAIN = b'{"model":"tiny","messages":[{"role":"user","content":"secret prompt"}]}'
BINDING = Binding("POST", "/v1/chat/completions", SID, 7)


def cipher(seed: int = 1, session_id: str = SID) -> SessionCipher:
    return SessionCipher(
        session_id=session_id, client_to_server=bytes([seed]) * 16, server_to_client=bytes([seed + 100]) * 16
    )


def test_roundtrip_through_json_hides_the_plaintext() -> None:
    sealed = cipher().seal(Direction.REQUEST, BINDING, PLAIN)
    wire = sealed.to_json()
    assert b"secret prompt" not in wire
    parsed = Envelope.from_json(wire)
    assert parsed == sealed
    assert cipher().open(Direction.REQUEST, BINDING, parsed) == PLAIN


def test_nonces_are_fresh_per_message() -> None:
    first = cipher().seal(Direction.REQUEST, BINDING, PLAIN)
    second = cipher().seal(Direction.REQUEST, BINDING, PLAIN)
    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext


def test_flipping_any_byte_of_nonce_or_ciphertext_is_detected() -> None:
    sealed = cipher().seal(Direction.REQUEST, BINDING, PLAIN)
    for field_name in ("nonce", "ciphertext"):
        raw = getattr(sealed, field_name)
        for index in range(len(raw)):
            flipped = raw[:index] + bytes([raw[index] ^ 0x01]) + raw[index + 1 :]
            tampered = dataclasses.replace(sealed, **{field_name: flipped})
            with pytest.raises(EnvelopeTampered):
                cipher().open(Direction.REQUEST, BINDING, tampered)


def test_truncated_ciphertext_is_detected() -> None:
    sealed = cipher().seal(Direction.REQUEST, BINDING, PLAIN)
    for cut in (1, 16, len(sealed.ciphertext)):
        with pytest.raises(EnvelopeTampered):
            cipher().open(
                Direction.REQUEST, BINDING, dataclasses.replace(sealed, ciphertext=sealed.ciphertext[:-cut])
            )


@pytest.mark.parametrize(
    "other",
    [
        dataclasses.replace(BINDING, path="/v1/embeddings"),
        dataclasses.replace(BINDING, method="PUT"),
        dataclasses.replace(BINDING, seq=8),
        dataclasses.replace(BINDING, status=200),
        dataclasses.replace(BINDING, chunk=0),
        dataclasses.replace(BINDING, final=True),
    ],
    ids=["path", "method", "seq", "status", "chunk", "fin"],
)
def test_an_envelope_only_opens_under_its_own_binding(other: Binding) -> None:
    sealed = cipher().seal(Direction.REQUEST, BINDING, PLAIN)
    with pytest.raises(EnvelopeTampered):
        cipher().open(Direction.REQUEST, other, sealed)


def test_the_other_direction_key_cannot_open_it() -> None:
    request = cipher().seal(Direction.REQUEST, BINDING, PLAIN)
    response = cipher().seal(Direction.RESPONSE, BINDING, PLAIN)
    with pytest.raises(EnvelopeTampered):
        cipher().open(Direction.RESPONSE, BINDING, request)  # reflected back at the client
    with pytest.raises(EnvelopeTampered):
        cipher().open(Direction.REQUEST, BINDING, response)


def test_another_sessions_keys_cannot_open_it() -> None:
    sealed = cipher(seed=1).seal(Direction.REQUEST, BINDING, PLAIN)
    with pytest.raises(EnvelopeTampered):
        cipher(seed=2).open(Direction.REQUEST, BINDING, sealed)


def test_associated_data_is_unambiguous() -> None:
    # Concatenating fields naively would make these two bindings identical.
    left = Binding("POST", "/v1/ab", "c", 1)
    right = Binding("POST", "/v1/a", "bc", 1)
    assert left.aad(Direction.REQUEST) != right.aad(Direction.REQUEST)
    assert BINDING.aad(Direction.REQUEST) != BINDING.aad(Direction.RESPONSE)


def test_keys_must_differ_per_direction_and_have_sm4_size() -> None:
    with pytest.raises(ValueError, match="different keys"):
        SessionCipher(session_id=SID, client_to_server=b"k" * 16, server_to_client=b"k" * 16)
    with pytest.raises(ValueError, match="16 bytes"):
        SessionCipher(session_id=SID, client_to_server=b"k" * 15, server_to_client=b"j" * 16)


def _wire(**changes: object) -> bytes:
    data = cipher().seal(Direction.REQUEST, BINDING, PLAIN).to_dict()
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (_wire(sid=None), "sid"),
        (_wire(sid=5), "sid"),
        (_wire(seq=0), "seq"),
        (_wire(seq="3"), "seq"),
        (_wire(seq=True), "seq"),
        (_wire(nonce="***"), "nonce"),
        (_wire(nonce=base64.b64encode(b"short").decode()), "nonce"),
        (_wire(ct=None), "ct"),
        (_wire(chunk=-1), "chunk"),
        (_wire(fin="yes"), "fin"),
    ],
)
def test_malformed_envelopes_name_the_field(raw: bytes, param: str) -> None:
    with pytest.raises(EnvelopeMalformed) as caught:
        Envelope.from_json(raw)
    assert caught.value.param == param
    assert caught.value.body()["error"]["code"] == "envelope_malformed"


def test_unknown_versions_are_refused() -> None:
    with pytest.raises(EnvelopeUnsupportedVersion) as caught:
        Envelope.from_json(_wire(v=2))
    assert caught.value.param == "v"
