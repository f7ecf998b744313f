"""KMS service glue: permission checks and base64 at the edge around ``security.kms``.

Keys belong to the caller's tenant (the principal's home tenant); ``kms:use`` allows the
cryptographic operations and reading key metadata, ``kms:admin`` creating, rotating, enabling
and disabling keys. Another tenant's key id is not found.
"""

from __future__ import annotations

import base64

from sqlalchemy.ext.asyncio import AsyncSession

from security.kms.models import KmsKey
from security.kms.service import Caller, KeyManagementService
from services.kernel.auth import Principal
from services.kms import schemas


def caller_of(principal: Principal, permission: str, request_id: str | None) -> Caller:
    """The KMS caller for ``principal`` after checking ``permission`` in its tenant."""
    principal.require(permission, tenant_id=principal.tenant_id)
    return Caller(tenant_id=principal.tenant_id, principal_id=principal.id, request_id=request_id)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def create_key(
    *, session: AsyncSession, kms: KeyManagementService, caller: Caller, key_in: schemas.KeyCreate
) -> KmsKey:
    """Create a master key."""
    return await kms.create_key(
        session=session, caller=caller, alias=key_in.alias, description=key_in.description
    )


async def encrypt(
    *, session: AsyncSession, kms: KeyManagementService, caller: Caller, body: schemas.EncryptIn
) -> schemas.CiphertextOut:
    """Encrypt the decoded plaintext."""
    result = await kms.encrypt(
        session=session,
        caller=caller,
        key_id=body.key_id,
        plaintext=base64.b64decode(body.plaintext),
        context=body.encryption_context,
    )
    return schemas.CiphertextOut(
        key_id=result.key_id, key_version=result.key_version, ciphertext_blob=result.ciphertext_blob
    )


async def generate_data_key(
    *, session: AsyncSession, kms: KeyManagementService, caller: Caller, body: schemas.GenerateDataKeyIn
) -> schemas.DataKeyOut:
    """A fresh data key."""
    result = await kms.generate_data_key(
        session=session,
        caller=caller,
        key_id=body.key_id,
        context=body.encryption_context,
        key_spec=body.key_spec,
    )
    return schemas.DataKeyOut(
        key_id=result.key_id,
        key_version=result.key_version,
        plaintext=_b64(result.plaintext),
        ciphertext_blob=result.ciphertext_blob,
    )


async def decrypt(
    *, session: AsyncSession, kms: KeyManagementService, caller: Caller, body: schemas.DecryptIn
) -> schemas.PlaintextOut:
    """Decrypt a blob."""
    result = await kms.decrypt(
        session=session, caller=caller, ciphertext_blob=body.ciphertext_blob, context=body.encryption_context
    )
    return schemas.PlaintextOut(
        key_id=result.key_id, key_version=result.key_version, plaintext=_b64(result.plaintext)
    )


async def re_encrypt(
    *, session: AsyncSession, kms: KeyManagementService, caller: Caller, body: schemas.ReEncryptIn
) -> schemas.CiphertextOut:
    """Re-encrypt a blob."""
    result = await kms.re_encrypt(
        session=session,
        caller=caller,
        ciphertext_blob=body.ciphertext_blob,
        source_context=body.source_encryption_context,
        destination_key_id=body.destination_key_id,
        destination_context=body.destination_encryption_context,
    )
    return schemas.CiphertextOut(
        key_id=result.key_id, key_version=result.key_version, ciphertext_blob=result.ciphertext_blob
    )
