"""Key management: tenant master keys, envelope encryption, rotation — every use audited.

API shape follows Alibaba Cloud KMS: ``GenerateDataKey``, ``Encrypt``, ``Decrypt``,
``ReEncrypt`` with an ``EncryptionContext`` bound as AAD. All functions are scoped to one tenant:
a key of another tenant is reported as not found. Master keys are SM4 (128-bit) keys held only
sealed by the operator's :class:`~security.kms.rootkey.RootKey`; data keys are fresh SM4 keys
returned both in plaintext (use, then forget) and encrypted under the master key (store).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from security.auditlog.canonical import canonical_json
from security.crypto import SM4GCM, DecryptionError, sm3_hex
from security.kms.envelope import Envelope, MalformedCiphertext, context_aad
from security.kms.models import KmsKey, KmsKeyVersion
from security.kms.rootkey import MATERIAL_SIZE, RootKey
from services.kernel.audit import AuditEvent, AuditSink
from services.kernel.db import utcnow
from services.kernel.errors import BadRequest, Conflict, NotFound, STICError

MAX_PLAINTEXT = 4096
DATA_KEY_SIZES = {"SM4_128": 16}
KeyState = Literal["enabled", "disabled"]
T = TypeVar("T")


class InvalidCiphertext(BadRequest):
    """The ciphertext is malformed, tampered, or does not match the key or encryption context."""

    code = "invalid_ciphertext"


class KeyDisabled(Conflict):
    """The key is disabled: it neither encrypts nor decrypts until enabled."""

    code = "key_disabled"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who uses the KMS: the tenant whose keys are in scope and the principal (for the audit)."""

    tenant_id: str
    principal_id: str | None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class DataKey:
    """Result of :meth:`KeyManagementService.generate_data_key`."""

    key_id: str
    key_version: int
    plaintext: bytes
    ciphertext_blob: str


@dataclass(frozen=True, slots=True)
class Encrypted:
    """Result of encrypt / re-encrypt: the blob and the key version that produced it."""

    key_id: str
    key_version: int
    ciphertext_blob: str


@dataclass(frozen=True, slots=True)
class Decrypted:
    """Result of decrypt."""

    key_id: str
    key_version: int
    plaintext: bytes


class KeyManagementService:
    """The KMS logic over an explicit session; holds the root key and the audit sink."""

    def __init__(self, *, root_key: RootKey, audit: AuditSink, service_name: str = "kms") -> None:
        self._root = root_key
        self._audit = audit
        self._service = service_name

    # --- audit ---

    async def _run(
        self,
        caller: Caller,
        action: str,
        facts: dict[str, object],
        work: Callable[[], Awaitable[T]],
        *,
        commit: AsyncSession | None = None,
    ) -> T:
        """Run ``work`` and record one audit event for it, successful or not.

        Key-management changes pass their session as ``commit``: it is committed (or rolled back)
        *before* the audit record is written, so the change and its audit entry are ordered, and
        so that on SQLite the audit writer is never blocked behind this session's write lock.
        """
        result = 200
        try:
            value = await work()
            if commit is not None:
                await commit.commit()
            return value
        except STICError as exc:
            result = exc.status_code
            facts["error"] = exc.code
            if commit is not None:
                await commit.rollback()
            raise
        except Exception:
            result = 500
            if commit is not None:
                await commit.rollback()
            raise
        finally:
            await self._audit.record(
                AuditEvent(
                    action=f"kms.{action}",
                    resource=f"kms/keys/{facts.get('key_id', '-')}",
                    result=result,
                    principal_id=caller.principal_id,
                    tenant_id=caller.tenant_id,
                    request_id=caller.request_id,
                    service=self._service,
                    extra={"category": "kms", **{k: v for k, v in facts.items() if v is not None}},
                )
            )

    # --- key lookup ---

    async def _key(self, session: AsyncSession, *, caller: Caller, key_id: str) -> KmsKey:
        key = await session.get(KmsKey, key_id)
        if key is None or key.tenant_id != caller.tenant_id:
            raise NotFound.of("key", key_id)
        return key

    async def _material(self, session: AsyncSession, key: KmsKey, version: int) -> bytes:
        row = await session.get(KmsKeyVersion, (key.id, version))
        if row is None:
            raise InvalidCiphertext(f"key {key.id} has no version {version}")
        return self._root.unseal(row.sealed_material, tenant_id=key.tenant_id, key_id=key.id, version=version)

    @staticmethod
    def _require_enabled(key: KmsKey) -> None:
        if key.state != "enabled":
            raise KeyDisabled(f"key {key.id} is disabled")

    # --- key management ---

    async def create_key(
        self, *, session: AsyncSession, caller: Caller, alias: str, description: str = ""
    ) -> KmsKey:
        """Create a master key (version 1) for the caller's tenant; alias unique per tenant.

        Like every key-management change, commits ``session`` before auditing.
        """

        async def work() -> KmsKey:
            key = KmsKey(tenant_id=caller.tenant_id, alias=alias, description=description, primary_version=1)
            session.add(key)
            await self._add_version(session, key, 1)
            try:
                await session.flush()
            except IntegrityError as exc:
                raise Conflict(f"a key with alias {alias!r} already exists in this tenant") from exc
            facts["key_id"] = key.id
            return key

        facts: dict[str, object] = {"alias": alias}
        key: KmsKey = await self._run(caller, "CreateKey", facts, work, commit=session)
        return key

    async def _add_version(self, session: AsyncSession, key: KmsKey, version: int) -> None:
        material = os.urandom(MATERIAL_SIZE)
        sealed = self._root.seal(material, tenant_id=key.tenant_id, key_id=key.id, version=version)
        session.add(
            KmsKeyVersion(key_id=key.id, version=version, sealed_material=sealed, created_at=utcnow())
        )

    async def get_key(self, *, session: AsyncSession, caller: Caller, key_id: str) -> KmsKey:
        """The key (metadata only); another tenant's key is not found."""
        return await self._key(session, caller=caller, key_id=key_id)

    async def list_keys(self, *, session: AsyncSession, caller: Caller) -> list[KmsKey]:
        """The caller tenant's keys, oldest first."""
        stmt = (
            select(KmsKey).where(KmsKey.tenant_id == caller.tenant_id).order_by(KmsKey.created_at, KmsKey.id)
        )
        return list((await session.execute(stmt)).scalars())

    async def rotate_key(self, *, session: AsyncSession, caller: Caller, key_id: str) -> KmsKey:
        """Add a new version and make it primary; earlier versions keep decrypting."""

        async def work() -> KmsKey:
            key = await self._key(session, caller=caller, key_id=key_id)
            self._require_enabled(key)
            key.primary_version += 1
            key.rotated_at = utcnow()
            await self._add_version(session, key, key.primary_version)
            await session.flush()
            facts["key_version"] = key.primary_version
            return key

        facts: dict[str, object] = {"key_id": key_id}
        key: KmsKey = await self._run(caller, "RotateKey", facts, work, commit=session)
        return key

    async def set_state(
        self, *, session: AsyncSession, caller: Caller, key_id: str, state: KeyState
    ) -> KmsKey:
        """Enable or disable a key."""
        if state not in ("enabled", "disabled"):
            raise BadRequest(f"key state must be 'enabled' or 'disabled', got {state!r}")

        async def work() -> KmsKey:
            key = await self._key(session, caller=caller, key_id=key_id)
            key.state = state
            await session.flush()
            return key

        key: KmsKey = await self._run(
            caller,
            "EnableKey" if state == "enabled" else "DisableKey",
            {"key_id": key_id},
            work,
            commit=session,
        )
        return key

    # --- cryptographic operations ---

    async def _seal(
        self, session: AsyncSession, caller: Caller, key: KmsKey, plaintext: bytes, context: dict[str, str]
    ) -> Encrypted:
        self._require_enabled(key)
        material = await self._material(session, key, key.primary_version)
        envelope = Envelope(
            key_id=key.id, key_version=key.primary_version, nonce=SM4GCM.generate_nonce(), ciphertext=b""
        )
        aad = _aad(envelope, caller.tenant_id, context)
        body = SM4GCM(material).encrypt(envelope.nonce, plaintext, aad)
        sealed = Envelope(
            key_id=key.id, key_version=key.primary_version, nonce=envelope.nonce, ciphertext=body
        )
        return Encrypted(key_id=key.id, key_version=key.primary_version, ciphertext_blob=sealed.to_text())

    async def _open(
        self,
        session: AsyncSession,
        caller: Caller,
        blob: str,
        context: dict[str, str],
        facts: dict[str, object],
    ) -> Decrypted:
        try:
            envelope = Envelope.from_text(blob)
        except MalformedCiphertext as exc:
            raise InvalidCiphertext(str(exc)) from exc
        facts.update(key_id=envelope.key_id, key_version=envelope.key_version)
        key = await self._key(session, caller=caller, key_id=envelope.key_id)
        self._require_enabled(key)
        material = await self._material(session, key, envelope.key_version)
        try:
            plaintext = SM4GCM(material).decrypt(
                envelope.nonce, envelope.ciphertext, _aad(envelope, caller.tenant_id, context)
            )
        except DecryptionError as exc:
            raise InvalidCiphertext(
                "ciphertext does not decrypt: it was tampered with, or the encryption context differs"
            ) from exc
        return Decrypted(key_id=key.id, key_version=envelope.key_version, plaintext=plaintext)

    async def encrypt(
        self, *, session: AsyncSession, caller: Caller, key_id: str, plaintext: bytes, context: dict[str, str]
    ) -> Encrypted:
        """Encrypt up to 4 KiB directly under the key's primary version, bound to ``context``."""
        if len(plaintext) > MAX_PLAINTEXT:
            raise BadRequest(f"plaintext is {len(plaintext)} bytes; Encrypt takes at most {MAX_PLAINTEXT}")
        facts: dict[str, object] = {"key_id": key_id, "context_sm3": _context_digest(context)}

        async def work() -> Encrypted:
            key = await self._key(session, caller=caller, key_id=key_id)
            result = await self._seal(session, caller, key, plaintext, context)
            facts["key_version"] = result.key_version
            return result

        result: Encrypted = await self._run(caller, "Encrypt", facts, work)
        return result

    async def generate_data_key(
        self,
        *,
        session: AsyncSession,
        caller: Caller,
        key_id: str,
        context: dict[str, str],
        key_spec: str = "SM4_128",
    ) -> DataKey:
        """A fresh data key: plaintext for immediate use, and its blob encrypted under ``key_id``."""
        size = DATA_KEY_SIZES.get(key_spec)
        if size is None:
            raise BadRequest(f"key spec must be one of {sorted(DATA_KEY_SIZES)}, got {key_spec!r}")
        facts: dict[str, object] = {
            "key_id": key_id,
            "context_sm3": _context_digest(context),
            "key_spec": key_spec,
        }

        async def work() -> DataKey:
            key = await self._key(session, caller=caller, key_id=key_id)
            plaintext = os.urandom(size)
            sealed = await self._seal(session, caller, key, plaintext, context)
            facts["key_version"] = sealed.key_version
            return DataKey(
                key_id=key.id,
                key_version=sealed.key_version,
                plaintext=plaintext,
                ciphertext_blob=sealed.ciphertext_blob,
            )

        result: DataKey = await self._run(caller, "GenerateDataKey", facts, work)
        return result

    async def decrypt(
        self, *, session: AsyncSession, caller: Caller, ciphertext_blob: str, context: dict[str, str]
    ) -> Decrypted:
        """Decrypt a blob of this tenant; the key and version come from the blob itself."""
        facts: dict[str, object] = {"context_sm3": _context_digest(context)}

        async def work() -> Decrypted:
            return await self._open(session, caller, ciphertext_blob, context, facts)

        result: Decrypted = await self._run(caller, "Decrypt", facts, work)
        return result

    async def re_encrypt(
        self,
        *,
        session: AsyncSession,
        caller: Caller,
        ciphertext_blob: str,
        source_context: dict[str, str],
        destination_key_id: str | None = None,
        destination_context: dict[str, str] | None = None,
    ) -> Encrypted:
        """Decrypt and re-encrypt under the destination key's primary version (default: the same
        key, i.e. upgrade to its newest version) and context (default: the source context)."""
        target_context = source_context if destination_context is None else destination_context
        facts: dict[str, object] = {
            "context_sm3": _context_digest(source_context),
            "destination_context_sm3": _context_digest(target_context),
        }

        async def work() -> Encrypted:
            opened = await self._open(session, caller, ciphertext_blob, source_context, facts)
            target = await self._key(session, caller=caller, key_id=destination_key_id or opened.key_id)
            result = await self._seal(session, caller, target, opened.plaintext, target_context)
            facts.update(destination_key_id=result.key_id, destination_key_version=result.key_version)
            return result

        result: Encrypted = await self._run(caller, "ReEncrypt", facts, work)
        return result


def _aad(envelope: Envelope, tenant_id: str, context: dict[str, str]) -> bytes:
    try:
        return context_aad(header=envelope.header(), tenant_id=tenant_id, context=context)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


def _context_digest(context: dict[str, str]) -> str:
    """SM3 of the canonical context (validated first): the audit shows which context was used
    without storing its values."""
    if not isinstance(context, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in context.items()
    ):
        raise BadRequest("encryption context must be an object of string keys to string values")
    return sm3_hex(canonical_json(context))
