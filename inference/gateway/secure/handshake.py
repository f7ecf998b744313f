"""The SM2 key agreement (GB/T 32918.3) that opens an encrypted session, for both ends.

The client is the initiator A, the gateway the responder B::

    client -> gateway   P_A (client static public key), R_A (ephemeral), ID_A      [with Bearer API key]
    gateway -> client   R_B, S_B (responder confirmation), session id, expiry
    both                K = KDF(x_U || y_U || Z_A || Z_B, 32);  K[:16] client->gateway, K[16:] gateway->client

The client checks S_B before sending any data: S_B can only be computed with the gateway's
private key, so together with the pinned fingerprint it authenticates the gateway. The client
is authenticated by its API key (the handshake requires it), not by P_A, so the default client
uses a fresh key pair per session as its "static" key (ephemeral-as-static): nothing long-term
lives on the client, and no client key registry is needed. A client holding a registered SM2
key can pass it instead; the protocol is the same. S_A is not sent: the first request's GCM tag
proves the client derived the same K. The ephemeral scalars are dropped after derivation, so the
gateway's long-term key alone does not recover past session keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inference.gateway.secure.envelope import KEY_SIZE
from inference.gateway.secure.keys import GatewayKeyPair
from security.crypto import DEFAULT_UID, SM2KeyExchange, SM2PrivateKey, SM2PublicKey

CLIENT_UID = DEFAULT_UID


@dataclass(frozen=True, slots=True)
class DirectionKeys:
    """The two SM4 keys of a session."""

    client_to_server: bytes = field(repr=False)
    server_to_client: bytes = field(repr=False)

    @classmethod
    def split(cls, material: bytes) -> DirectionKeys:
        """Split ``2 * KEY_SIZE`` bytes of agreed key material."""
        if len(material) != 2 * KEY_SIZE:
            raise ValueError(f"expected {2 * KEY_SIZE} bytes of key material")
        return cls(material[:KEY_SIZE], material[KEY_SIZE:])


@dataclass(frozen=True, slots=True)
class ServerHandshake:
    """The gateway's half of one exchange: what to send back and the keys to register."""

    server_ephemeral: bytes
    confirmation: bytes
    keys: DirectionKeys


def respond(
    keys: GatewayKeyPair, *, client_public: SM2PublicKey, client_ephemeral: bytes, client_uid: bytes
) -> ServerHandshake:
    """Run the responder side against the client's message.

    Raises :class:`security.crypto.InvalidKeyError` if ``client_ephemeral`` is not a curve point.
    """
    exchange = SM2KeyExchange(private_key=keys.private_key, initiator=False, uid=keys.uid)
    result = exchange.derive(
        peer_public=client_public, peer_ephemeral=client_ephemeral, peer_uid=client_uid, length=2 * KEY_SIZE
    )
    return ServerHandshake(exchange.ephemeral_public, result.confirmation, DirectionKeys.split(result.key))


class ClientHandshake:
    """The initiator side: build the request, then check the gateway's answer and derive the keys.

    Single use. ``client_key`` defaults to a fresh key pair (ephemeral-as-static, see module doc).
    """

    def __init__(
        self,
        *,
        server_public: SM2PublicKey,
        server_uid: bytes,
        client_key: SM2PrivateKey | None = None,
        client_uid: bytes = CLIENT_UID,
    ) -> None:
        self._server_public = server_public
        self._server_uid = server_uid
        self._client_key = client_key or SM2PrivateKey.generate()
        self._client_uid = client_uid
        self._exchange = SM2KeyExchange(private_key=self._client_key, initiator=True, uid=client_uid)

    @property
    def client_public(self) -> bytes:
        """P_A, 65 bytes uncompressed."""
        return self._client_key.public_key().to_bytes()

    @property
    def client_ephemeral(self) -> bytes:
        """R_A, 65 bytes uncompressed."""
        return self._exchange.ephemeral_public

    @property
    def client_uid(self) -> bytes:
        """ID_A."""
        return self._client_uid

    def complete(self, *, server_ephemeral: bytes, confirmation: bytes) -> DirectionKeys:
        """Derive the keys and verify S_B.

        Raises :class:`security.crypto.KeyConfirmationError` when S_B does not match (not the
        pinned gateway, or the exchange was tampered with), ``InvalidKeyError`` for a bad R_B.
        """
        result = self._exchange.derive(
            peer_public=self._server_public,
            peer_ephemeral=server_ephemeral,
            peer_uid=self._server_uid,
            length=2 * KEY_SIZE,
        )
        result.check_peer(confirmation)
        return DirectionKeys.split(result.key)
