"""Handshake API under ``/v1/secure``: ``GET /key``, ``POST /sessions``, ``DELETE /sessions/{sid}``."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from inference.gateway.secure.envelope import CONTENT_TYPE, SUITE, VERSION
from inference.gateway.secure.errors import EnvelopeError
from inference.gateway.secure.gateway import secure_gateway_of
from inference.gateway.secure.handshake import CLIENT_UID, respond
from inference.gateway.secure.metrics import SESSIONS_OPENED
from inference.gateway.secure.sessions import token_from_headers
from security.crypto import InvalidKeyError, SM2PublicKey
from services.kernel.deps import CurrentPrincipal
from services.kernel.errors import BadRequest, NotFound, Unauthorized

router = APIRouter(prefix="/v1/secure", tags=["secure"])


class GatewayKeyInfo(BaseModel):
    """The gateway's public identity, for clients to pin."""

    algorithm: str = "SM2"
    public_key: str = Field(description="Uncompressed point 04||x||y, base64")
    public_key_pem: str
    uid: str = Field(description="The gateway's SM2 user id (enters Z_B)")
    fingerprint: str = Field(description="SM3 hex digest of the SubjectPublicKeyInfo DER (pin this)")
    suite: str = SUITE
    envelope_version: int = VERSION
    envelope_content_type: str = CONTENT_TYPE
    session_ttl_s: float
    replay_window: int


class SessionCreate(BaseModel):
    """The initiator's message of the SM2 key exchange."""

    client_public_key: str = Field(description="Client SM2 public key P_A (04||x||y), base64")
    client_ephemeral: str = Field(description="Client ephemeral point R_A (04||x||y), base64")
    client_uid: str | None = Field(
        default=None, max_length=64, description=f"Client SM2 user id (default {CLIENT_UID.decode()})"
    )


class SessionCreated(BaseModel):
    """The responder's answer: the session and what the client needs to derive its keys."""

    session_id: str
    server_ephemeral: str = Field(description="Gateway ephemeral point R_B, base64")
    confirmation: str = Field(description="S_B of GB/T 32918.3, base64: the client must verify it")
    fingerprint: str
    suite: str = SUITE
    expires_at: datetime
    ttl_s: float
    replay_window: int


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _decode(field: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"'{field}' is not valid base64", detail={"field": field}) from None


@router.get("/key", summary="The gateway's SM2 public key and fingerprint (public; pin the fingerprint)")
async def gateway_key(request: Request) -> GatewayKeyInfo:
    gateway = secure_gateway_of(request.app)
    public = gateway.keys.public_key
    return GatewayKeyInfo(
        public_key=_b64(public.to_bytes()),
        public_key_pem=public.to_pem().decode(),
        uid=gateway.keys.uid.decode(),
        fingerprint=gateway.keys.fingerprint,
        session_ttl_s=gateway.sessions.ttl_s,
        replay_window=gateway.sessions.replay_window,
    )


@router.post("/sessions", status_code=201, summary="Open an encrypted session (SM2 key exchange)")
async def create_session(
    body: SessionCreate, request: Request, principal: CurrentPrincipal
) -> SessionCreated:
    principal.require("inference:use", tenant_id=principal.tenant_id)
    token = token_from_headers(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if token is None:  # authenticated above, so a key was present
        raise Unauthorized("missing API key")
    try:
        client_public = SM2PublicKey.from_bytes(_decode("client_public_key", body.client_public_key))
    except InvalidKeyError as exc:
        raise BadRequest(f"'client_public_key': {exc}", detail={"field": "client_public_key"}) from None
    gateway = secure_gateway_of(request.app)
    uid = (body.client_uid or CLIENT_UID.decode()).encode()
    try:
        answer = respond(
            gateway.keys,
            client_public=client_public,
            client_ephemeral=_decode("client_ephemeral", body.client_ephemeral),
            client_uid=uid,
        )
    except InvalidKeyError as exc:
        raise BadRequest(f"'client_ephemeral': {exc}", detail={"field": "client_ephemeral"}) from None
    session = gateway.sessions.open(
        tenant_id=principal.tenant_id,
        key_id=principal.key_id,
        token=token,
        client_to_server=answer.keys.client_to_server,
        server_to_client=answer.keys.server_to_client,
    )
    SESSIONS_OPENED.inc()
    return SessionCreated(
        session_id=session.id,
        server_ephemeral=_b64(answer.server_ephemeral),
        confirmation=_b64(answer.confirmation),
        fingerprint=gateway.keys.fingerprint,
        expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        ttl_s=gateway.sessions.ttl_s,
        replay_window=gateway.sessions.replay_window,
    )


@router.delete("/sessions/{session_id}", status_code=204, summary="Close an encrypted session early")
async def close_session(session_id: str, request: Request, principal: CurrentPrincipal) -> Response:
    gateway = secure_gateway_of(request.app)
    sessions = gateway.sessions
    try:
        session = sessions.get(session_id)
    except EnvelopeError:  # unknown or expired: either way there is nothing to close
        raise NotFound.of("secure session", session_id) from None
    if session.key_id != principal.key_id:
        raise NotFound.of("secure session", session_id)
    sessions.close(session_id)
    return Response(status_code=204)
