"""Upstream API keys of ``openai`` services, sealed by the tenant's KMS key.

The key is encrypted at creation under a KMS key the tenant names (``upstream.kms_key_id``), bound
to the context ``{"purpose": "model-service-upstream", "service": <service id>}`` so that a sealed
key copied to another service does not open. :class:`KmsSecretOpener` opens it for the gateway and
the controller and keeps the plain key in memory (keyed by the ciphertext), so the KMS — and its
audit log — sees one Decrypt per process and key, not one per directory refresh.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from inference.modelservice.models import ModelService
from security.kms.service import Caller, KeyManagementService
from services.kernel.errors import STICError

PURPOSE = "model-service-upstream"


def key_context(service_id: str) -> dict[str, str]:
    """The encryption context binding a sealed upstream key to its service."""
    return {"purpose": PURPOSE, "service": service_id}


async def seal_upstream_key(
    kms: KeyManagementService,
    *,
    session: AsyncSession,
    caller: Caller,
    kms_key_id: str,
    service_id: str,
    api_key: str,
) -> str:
    """The envelope text of ``api_key`` under ``kms_key_id`` (errors are the KMS's: 404, 409)."""
    sealed = await kms.encrypt(
        session=session,
        caller=caller,
        key_id=kms_key_id,
        plaintext=api_key.encode(),
        context=key_context(service_id),
    )
    return sealed.ciphertext_blob


class KmsSecretOpener:
    """A :class:`~inference.modelservice.directory.SecretOpener` over the KMS, with a memory cache."""

    def __init__(self, kms: KeyManagementService, *, principal_id: str = "system:modelservice") -> None:
        self._kms = kms
        self._principal_id = principal_id
        self._cache: dict[str, str] = {}

    async def open(self, session: AsyncSession, service: ModelService) -> str | None:
        """The plain upstream key, or ``None`` when the service has none or it no longer opens."""
        blob = service.upstream_api_key
        if blob is None:
            return None
        cached = self._cache.get(blob)
        if cached is not None:
            return cached
        try:
            opened = await self._kms.decrypt(
                session=session,
                caller=Caller(tenant_id=service.tenant_id, principal_id=self._principal_id),
                ciphertext_blob=blob,
                context=key_context(service.id),
            )
        except STICError:
            return None
        plain = opened.plaintext.decode()
        self._cache[blob] = plain
        return plain
