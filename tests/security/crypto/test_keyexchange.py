"""SM2 key agreement between backends, confirmation failures, single use and bad input."""

from __future__ import annotations

import itertools

import pytest

from security.crypto import (
    InvalidInputError,
    InvalidKeyError,
    KeyConfirmationError,
    SM2KeyExchange,
    SM2PrivateKey,
)
from security.crypto.sm2.backends.base import SM2Backend
from security.crypto.sm2.backends.registry import available_backends, get_backend

KX_BACKENDS = [b for b in available_backends() if b.supports_key_exchange]
ALICE, BOB = SM2PrivateKey.generate(), SM2PrivateKey.generate()


def _run(a_backend: SM2Backend, b_backend: SM2Backend, length: int) -> tuple[bytes, bytes]:
    a = SM2KeyExchange(private_key=ALICE, initiator=True, uid=b"client", backend=a_backend)
    b = SM2KeyExchange(private_key=BOB, initiator=False, uid=b"gateway", backend=b_backend)
    at_b = b.derive(
        peer_public=ALICE.public_key(), peer_ephemeral=a.ephemeral_public, peer_uid=b"client", length=length
    )
    at_a = a.derive(
        peer_public=BOB.public_key(), peer_ephemeral=b.ephemeral_public, peer_uid=b"gateway", length=length
    )
    at_a.check_peer(at_b.confirmation)
    at_b.check_peer(at_a.confirmation)
    return at_a.key, at_b.key


@pytest.mark.parametrize(
    ("a_backend", "b_backend"),
    list(itertools.product(KX_BACKENDS, repeat=2)),
    ids=lambda b: b.name,
)
def test_both_sides_derive_the_same_key_across_backends(a_backend: SM2Backend, b_backend: SM2Backend) -> None:
    key_a, key_b = _run(a_backend, b_backend, 32)
    assert key_a == key_b
    assert len(key_a) == 32


@pytest.mark.parametrize("length", [1, 16, 48, 100])
def test_requested_length_is_honoured(length: int) -> None:
    key_a, key_b = _run(KX_BACKENDS[0], KX_BACKENDS[0], length)
    assert key_a == key_b
    assert len(key_a) == length


def test_mismatched_identity_fails_confirmation() -> None:
    a = SM2KeyExchange(private_key=ALICE, initiator=True, uid=b"client")
    b = SM2KeyExchange(private_key=BOB, initiator=False, uid=b"gateway")
    at_b = b.derive(peer_public=ALICE.public_key(), peer_ephemeral=a.ephemeral_public, peer_uid=b"mallory")
    at_a = a.derive(peer_public=BOB.public_key(), peer_ephemeral=b.ephemeral_public, peer_uid=b"gateway")
    assert at_a.key != at_b.key
    with pytest.raises(KeyConfirmationError):
        at_a.check_peer(at_b.confirmation)
    with pytest.raises(KeyConfirmationError):
        at_b.check_peer(at_a.confirmation)


def test_substituted_ephemeral_key_fails_confirmation() -> None:
    a = SM2KeyExchange(private_key=ALICE, initiator=True)
    b = SM2KeyExchange(private_key=BOB, initiator=False)
    mallory = SM2KeyExchange(private_key=SM2PrivateKey.generate(), initiator=True)
    at_b = b.derive(peer_public=ALICE.public_key(), peer_ephemeral=mallory.ephemeral_public)
    at_a = a.derive(peer_public=BOB.public_key(), peer_ephemeral=b.ephemeral_public)
    with pytest.raises(KeyConfirmationError):
        at_a.check_peer(at_b.confirmation)


def test_an_exchange_is_single_use() -> None:
    a = SM2KeyExchange(private_key=ALICE, initiator=True)
    b = SM2KeyExchange(private_key=BOB, initiator=False)
    a.derive(peer_public=BOB.public_key(), peer_ephemeral=b.ephemeral_public)
    with pytest.raises(InvalidInputError, match="already been used"):
        a.derive(peer_public=BOB.public_key(), peer_ephemeral=b.ephemeral_public)


def test_off_curve_ephemeral_point_is_refused() -> None:
    a = SM2KeyExchange(private_key=ALICE, initiator=True)
    bad = bytearray(SM2KeyExchange(private_key=BOB, initiator=False).ephemeral_public)
    bad[-1] ^= 1
    with pytest.raises(InvalidKeyError, match="not a point on the curve"):
        a.derive(peer_public=BOB.public_key(), peer_ephemeral=bytes(bad))


@pytest.mark.parametrize("length", [0, -1, (1 << 16) + 1])
def test_bad_length_is_named(length: int) -> None:
    a = SM2KeyExchange(private_key=ALICE, initiator=True)
    with pytest.raises(InvalidInputError, match="key length"):
        a.derive(peer_public=BOB.public_key(), peer_ephemeral=a.ephemeral_public, length=length)


def test_gmssl_pyx_is_replaced_by_a_backend_with_key_agreement() -> None:
    pyx = get_backend("gmssl-pyx")
    a = SM2KeyExchange(private_key=ALICE, initiator=True, backend=pyx)
    b = SM2KeyExchange(private_key=BOB, initiator=False, backend=pyx)
    at_b = b.derive(peer_public=ALICE.public_key(), peer_ephemeral=a.ephemeral_public)
    at_a = a.derive(peer_public=BOB.public_key(), peer_ephemeral=b.ephemeral_public)
    assert at_a.key == at_b.key
