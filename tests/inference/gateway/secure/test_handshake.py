"""The SM2 key agreement of the handshake and the gateway's persisted key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from inference.gateway.secure.handshake import ClientHandshake, respond
from inference.gateway.secure.keys import GatewayKeyPair
from security.crypto import InvalidKeyError, KeyConfirmationError, SM2PrivateKey, SM2PublicKey


@pytest.fixture(scope="module")
def gateway_keys() -> GatewayKeyPair:
    return GatewayKeyPair.generate()


def run(gateway_keys: GatewayKeyPair, client: ClientHandshake) -> tuple[object, object]:
    answer = respond(
        gateway_keys,
        client_public=SM2PublicKey.from_bytes(client.client_public),
        client_ephemeral=client.client_ephemeral,
        client_uid=client.client_uid,
    )
    derived = client.complete(server_ephemeral=answer.server_ephemeral, confirmation=answer.confirmation)
    return derived, answer.keys


def test_both_ends_derive_the_same_distinct_direction_keys(gateway_keys: GatewayKeyPair) -> None:
    client = ClientHandshake(server_public=gateway_keys.public_key, server_uid=gateway_keys.uid)
    derived, server = run(gateway_keys, client)
    assert derived == server
    assert derived.client_to_server != derived.server_to_client  # type: ignore[attr-defined]
    again, _ = run(
        gateway_keys, ClientHandshake(server_public=gateway_keys.public_key, server_uid=gateway_keys.uid)
    )
    assert again != derived  # fresh ephemerals: fresh keys


def test_a_long_term_client_key_works_too(gateway_keys: GatewayKeyPair) -> None:
    client_key = SM2PrivateKey.generate()
    client = ClientHandshake(
        server_public=gateway_keys.public_key,
        server_uid=gateway_keys.uid,
        client_key=client_key,
        client_uid=b"me",
    )
    assert client.client_public == client_key.public_key().to_bytes()
    derived, server = run(gateway_keys, client)
    assert derived == server


def test_a_gateway_without_the_expected_private_key_fails_confirmation(gateway_keys: GatewayKeyPair) -> None:
    impostor = GatewayKeyPair.generate()
    client = ClientHandshake(server_public=gateway_keys.public_key, server_uid=gateway_keys.uid)
    answer = respond(
        impostor,
        client_public=SM2PublicKey.from_bytes(client.client_public),
        client_ephemeral=client.client_ephemeral,
        client_uid=client.client_uid,
    )
    with pytest.raises(KeyConfirmationError):
        client.complete(server_ephemeral=answer.server_ephemeral, confirmation=answer.confirmation)


def test_a_tampered_confirmation_or_uid_fails(gateway_keys: GatewayKeyPair) -> None:
    client = ClientHandshake(server_public=gateway_keys.public_key, server_uid=gateway_keys.uid)
    answer = respond(
        gateway_keys,
        client_public=SM2PublicKey.from_bytes(client.client_public),
        client_ephemeral=client.client_ephemeral,
        client_uid=b"someone-else",
    )
    with pytest.raises(KeyConfirmationError):
        client.complete(server_ephemeral=answer.server_ephemeral, confirmation=answer.confirmation)


def test_an_ephemeral_off_the_curve_is_refused(gateway_keys: GatewayKeyPair) -> None:
    client = ClientHandshake(server_public=gateway_keys.public_key, server_uid=gateway_keys.uid)
    with pytest.raises(InvalidKeyError):
        respond(
            gateway_keys,
            client_public=SM2PublicKey.from_bytes(client.client_public),
            client_ephemeral=b"\x04" + b"\x01" * 64,
            client_uid=client.client_uid,
        )


def test_key_file_is_created_0600_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "secure" / "gateway.pem"
    created = GatewayKeyPair.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert GatewayKeyPair.load_or_create(path).fingerprint == created.fingerprint
    assert len(created.fingerprint) == 64


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gateway.pem"
    GatewayKeyPair.load_or_create(path)
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        GatewayKeyPair.load_or_create(path)
