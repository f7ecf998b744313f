"""Typed client of the KMS service (bytes in, bytes out; base64 on the wire)."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from services.kms import schemas


class KmsClient:
    """Calls ``/v1/kms/...`` through ``http`` (a base-URL'd, authenticated httpx client)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = await self._http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    async def create_key(self, alias: str, description: str = "") -> schemas.KeyOut:
        """Create a master key."""
        return schemas.KeyOut.model_validate(
            await self._post("/v1/kms/keys", {"alias": alias, "description": description})
        )

    async def encrypt(self, key_id: str, plaintext: bytes, context: dict[str, str] | None = None) -> str:
        """The ciphertext blob of ``plaintext`` (≤ 4 KiB)."""
        body = {
            "key_id": key_id,
            "plaintext": base64.b64encode(plaintext).decode(),
            "encryption_context": context or {},
        }
        return str((await self._post("/v1/kms/encrypt", body))["ciphertext_blob"])

    async def decrypt(self, ciphertext_blob: str, context: dict[str, str] | None = None) -> bytes:
        """The plaintext of a blob."""
        body = {"ciphertext_blob": ciphertext_blob, "encryption_context": context or {}}
        return base64.b64decode((await self._post("/v1/kms/decrypt", body))["plaintext"])

    async def generate_data_key(
        self, key_id: str, context: dict[str, str] | None = None
    ) -> tuple[bytes, str]:
        """``(plaintext data key, ciphertext blob)``."""
        body = {"key_id": key_id, "encryption_context": context or {}}
        out = schemas.DataKeyOut.model_validate(await self._post("/v1/kms/generate-data-key", body))
        return base64.b64decode(out.plaintext), out.ciphertext_blob

    async def re_encrypt(
        self,
        ciphertext_blob: str,
        *,
        source_context: dict[str, str] | None = None,
        destination_key_id: str | None = None,
        destination_context: dict[str, str] | None = None,
    ) -> schemas.CiphertextOut:
        """Re-encrypt a blob."""
        body = {
            "ciphertext_blob": ciphertext_blob,
            "source_encryption_context": source_context or {},
            "destination_key_id": destination_key_id,
            "destination_encryption_context": destination_context,
        }
        return schemas.CiphertextOut.model_validate(await self._post("/v1/kms/re-encrypt", body))
