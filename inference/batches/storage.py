"""File content at rest: ``<root>/<tenant>/<file id>``, sealed with a KMS data key when possible.

With a KMS, each file gets its own SM4 data key from ``GenerateDataKey`` under the tenant's
``stic-files`` master key (created on first use), bound to the context
``{"tenant": <tenant id>, "file": <file id>}``; the content is sealed with SM4-GCM
(random nonce, the same pair as AAD) and only the wrapped key is kept (in the file's row).
Reading decrypts the data key through the KMS again, so every access is audited by the KMS.
Without a KMS the content is stored as is and the file row says so (``data_key`` NULL).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from security.crypto.errors import DecryptionError
from security.crypto.sm4 import SM4GCM
from security.kms.service import Caller, KeyManagementService
from services.kernel.db import Database
from services.kernel.errors import Conflict, STICError

FILES_KEY_ALIAS = "stic-files"


class StoredFileUnreadable(STICError):
    """The stored content is missing or does not decrypt (tampered, or the key is gone)."""

    status_code = 500
    code = "file_unreadable"


def _context(tenant_id: str, file_id: str) -> dict[str, str]:
    return {"tenant": tenant_id, "file": file_id}


def _aad(tenant_id: str, file_id: str) -> bytes:
    return f"stic-file\x00{tenant_id}\x00{file_id}".encode()


class FileStore:
    """Reads and writes file content; seals it when a KMS is given (see module docs)."""

    def __init__(self, root: Path, *, kms: KeyManagementService | None, database: Database) -> None:
        self.root = root
        self.kms = kms
        self.database = database

    @property
    def encrypts(self) -> bool:
        """True when content is sealed at rest."""
        return self.kms is not None

    def path(self, tenant_id: str, file_id: str) -> Path:
        """Where the content of a file lives."""
        return self.root / tenant_id / file_id

    async def _master_key(self, kms: KeyManagementService, caller: Caller) -> str:
        async with self.database.sessionmaker() as session:
            for key in await kms.list_keys(session=session, caller=caller):
                if key.alias == FILES_KEY_ALIAS:
                    return key.id
        async with self.database.sessionmaker() as session:
            try:
                key = await kms.create_key(
                    session=session,
                    caller=caller,
                    alias=FILES_KEY_ALIAS,
                    description="data keys of /v1/files content",
                )
                return key.id
            except Conflict:  # created concurrently
                pass
        async with self.database.sessionmaker() as session:
            keys = await kms.list_keys(session=session, caller=caller)
        return next(k.id for k in keys if k.alias == FILES_KEY_ALIAS)

    async def save(
        self, session: AsyncSession, *, tenant_id: str, file_id: str, content: bytes, principal_id: str
    ) -> str | None:
        """Write the content (sealed if possible); returns the wrapped data key or None.

        Call before adding rows to ``session``: the KMS audits in its own transaction.
        """
        blob = None
        data = content
        if self.kms is not None:
            caller = Caller(tenant_id=tenant_id, principal_id=principal_id)
            key_id = await self._master_key(self.kms, caller)
            data_key = await self.kms.generate_data_key(
                session=session, caller=caller, key_id=key_id, context=_context(tenant_id, file_id)
            )
            data = SM4GCM(data_key.plaintext).seal(content, _aad(tenant_id, file_id))
            blob = data_key.ciphertext_blob
        path = self.path(tenant_id, file_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{file_id}.tmp")
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return blob

    async def load(
        self, session: AsyncSession, *, tenant_id: str, file_id: str, data_key: str | None, principal_id: str
    ) -> bytes:
        """The clear content of a stored file."""
        try:
            data = self.path(tenant_id, file_id).read_bytes()
        except OSError as exc:
            raise StoredFileUnreadable(f"content of file '{file_id}' is missing") from exc
        if data_key is None:
            return data
        if self.kms is None:
            raise StoredFileUnreadable(f"file '{file_id}' is encrypted and no KMS is available")
        caller = Caller(tenant_id=tenant_id, principal_id=principal_id)
        key = await self.kms.decrypt(
            session=session, caller=caller, ciphertext_blob=data_key, context=_context(tenant_id, file_id)
        )
        try:
            return SM4GCM(key.plaintext).open(data, _aad(tenant_id, file_id))
        except DecryptionError as exc:
            raise StoredFileUnreadable(f"content of file '{file_id}' does not authenticate") from exc

    def remove(self, tenant_id: str, file_id: str) -> None:
        """Delete the content (no error if already gone)."""
        with contextlib.suppress(FileNotFoundError):
            self.path(tenant_id, file_id).unlink()
