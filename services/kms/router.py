"""HTTP routes of the KMS service (``/v1/kms/...``). No logic here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from security.kms.service import Caller, KeyManagementService
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kms import schemas, service

router = APIRouter(prefix="/v1/kms", tags=["kms"])


def get_kms(request: Request) -> KeyManagementService:
    """The app's KMS."""
    kms: KeyManagementService = request.app.state.kms
    return kms


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def use_caller(request: Request, principal: CurrentPrincipal) -> Caller:
    """Caller holding ``kms:use``."""
    return service.caller_of(principal, "kms:use", _request_id(request))


def admin_caller(request: Request, principal: CurrentPrincipal) -> Caller:
    """Caller holding ``kms:admin``."""
    return service.caller_of(principal, "kms:admin", _request_id(request))


KmsDep = Annotated[KeyManagementService, Depends(get_kms)]
UseCaller = Annotated[Caller, Depends(use_caller)]
AdminCaller = Annotated[Caller, Depends(admin_caller)]


@router.post("/keys", response_model=schemas.KeyOut, status_code=status.HTTP_201_CREATED)
async def create_key(
    body: schemas.KeyCreate, session: SessionDep, kms: KmsDep, caller: AdminCaller
) -> object:
    """Create a master key in the caller's tenant."""
    return await service.create_key(session=session, kms=kms, caller=caller, key_in=body)


@router.get("/keys", response_model=schemas.KeyList)
async def list_keys(session: SessionDep, kms: KmsDep, caller: UseCaller) -> object:
    """The tenant's master keys."""
    return {"items": await kms.list_keys(session=session, caller=caller)}


@router.get("/keys/{key_id}", response_model=schemas.KeyOut)
async def get_key(key_id: str, session: SessionDep, kms: KmsDep, caller: UseCaller) -> object:
    """One master key's metadata."""
    return await kms.get_key(session=session, caller=caller, key_id=key_id)


@router.post("/keys/{key_id}/rotate", response_model=schemas.KeyOut)
async def rotate_key(key_id: str, session: SessionDep, kms: KmsDep, caller: AdminCaller) -> object:
    """Add a version and make it primary (old versions keep decrypting)."""
    return await kms.rotate_key(session=session, caller=caller, key_id=key_id)


@router.put("/keys/{key_id}/state", response_model=schemas.KeyOut)
async def set_state(
    key_id: str, body: schemas.KeyStateIn, session: SessionDep, kms: KmsDep, caller: AdminCaller
) -> object:
    """Enable or disable a key."""
    return await kms.set_state(session=session, caller=caller, key_id=key_id, state=body.state)


@router.post("/encrypt", response_model=schemas.CiphertextOut)
async def encrypt(body: schemas.EncryptIn, session: SessionDep, kms: KmsDep, caller: UseCaller) -> object:
    """Encrypt ≤ 4 KiB under a master key, bound to the encryption context."""
    return await service.encrypt(session=session, kms=kms, caller=caller, body=body)


@router.post("/generate-data-key", response_model=schemas.DataKeyOut)
async def generate_data_key(
    body: schemas.GenerateDataKeyIn, session: SessionDep, kms: KmsDep, caller: UseCaller
) -> object:
    """A fresh SM4 data key, plaintext and encrypted."""
    return await service.generate_data_key(session=session, kms=kms, caller=caller, body=body)


@router.post("/decrypt", response_model=schemas.PlaintextOut)
async def decrypt(body: schemas.DecryptIn, session: SessionDep, kms: KmsDep, caller: UseCaller) -> object:
    """Decrypt a ciphertext blob of this tenant."""
    return await service.decrypt(session=session, kms=kms, caller=caller, body=body)


@router.post("/re-encrypt", response_model=schemas.CiphertextOut)
async def re_encrypt(
    body: schemas.ReEncryptIn, session: SessionDep, kms: KmsDep, caller: UseCaller
) -> object:
    """Re-encrypt under the newest version or another key, and/or another context."""
    return await service.re_encrypt(session=session, kms=kms, caller=caller, body=body)
