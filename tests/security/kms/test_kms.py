"""KMS: envelope encryption with context, rotation, isolation, tamper rejection, audit."""

from __future__ import annotations

import base64

import pytest

from security.crypto import SM4GCM
from security.kms.envelope import Envelope
from security.kms.rootkey import RootKey, RootKeyError, SealError
from security.kms.service import InvalidCiphertext, KeyDisabled, KeyManagementService
from services.kernel.audit import MemoryAuditSink
from services.kernel.db import Database
from services.kernel.errors import BadRequest, Conflict, NotFound

from .conftest import ALICE, BOB

CTX = {"purpose": "model-weights", "model": "qwen-7b"}


async def new_key(kms: KeyManagementService, database: Database, alias: str = "main", caller=ALICE) -> str:
    async with database.sessionmaker() as session:
        key = await kms.create_key(session=session, caller=caller, alias=alias)
        return key.id


async def test_encrypt_decrypt_roundtrip_names_key_and_version(
    kms: KeyManagementService, database: Database
) -> None:
    key_id = await new_key(kms, database)
    async with database.sessionmaker() as session:
        sealed = await kms.encrypt(
            session=session, caller=ALICE, key_id=key_id, plaintext=b"secret", context=CTX
        )
        envelope = Envelope.from_text(sealed.ciphertext_blob)
        assert (envelope.key_id, envelope.key_version) == (key_id, 1)
        opened = await kms.decrypt(
            session=session, caller=ALICE, ciphertext_blob=sealed.ciphertext_blob, context=CTX
        )
    assert (opened.plaintext, opened.key_id, opened.key_version) == (b"secret", key_id, 1)


async def test_generated_data_key_encrypts_data_and_its_blob_decrypts(
    kms: KeyManagementService, database: Database
) -> None:
    key_id = await new_key(kms, database)
    async with database.sessionmaker() as session:
        data_key = await kms.generate_data_key(session=session, caller=ALICE, key_id=key_id, context=CTX)
        assert len(data_key.plaintext) == 16
        artefact = SM4GCM(data_key.plaintext).seal(b"weights" * 100)
        recovered = await kms.decrypt(
            session=session, caller=ALICE, ciphertext_blob=data_key.ciphertext_blob, context=CTX
        )
    assert SM4GCM(recovered.plaintext).open(artefact) == b"weights" * 100


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"purpose": "model-weights"},
        {**CTX, "extra": "x"},
        {"purpose": "model-weights", "model": "qwen-8b"},
    ],
)
async def test_a_different_encryption_context_fails(
    kms: KeyManagementService, database: Database, context: dict[str, str]
) -> None:
    key_id = await new_key(kms, database)
    async with database.sessionmaker() as session:
        sealed = await kms.encrypt(
            session=session, caller=ALICE, key_id=key_id, plaintext=b"secret", context=CTX
        )
        with pytest.raises(InvalidCiphertext, match="encryption context"):
            await kms.decrypt(
                session=session, caller=ALICE, ciphertext_blob=sealed.ciphertext_blob, context=context
            )


async def test_another_tenant_can_neither_use_nor_see_the_key(
    kms: KeyManagementService, database: Database
) -> None:
    key_id = await new_key(kms, database)
    await new_key(kms, database, caller=BOB)
    async with database.sessionmaker() as session:
        sealed = await kms.encrypt(
            session=session, caller=ALICE, key_id=key_id, plaintext=b"secret", context=CTX
        )
        with pytest.raises(NotFound):
            await kms.decrypt(
                session=session, caller=BOB, ciphertext_blob=sealed.ciphertext_blob, context=CTX
            )
        with pytest.raises(NotFound):
            await kms.encrypt(session=session, caller=BOB, key_id=key_id, plaintext=b"x", context={})
        with pytest.raises(NotFound):
            await kms.get_key(session=session, caller=BOB, key_id=key_id)
        assert [k.id for k in await kms.list_keys(session=session, caller=BOB)] != [key_id]


async def test_every_tampered_byte_is_rejected(kms: KeyManagementService, database: Database) -> None:
    key_id = await new_key(kms, database)
    async with database.sessionmaker() as session:
        sealed = await kms.encrypt(
            session=session, caller=ALICE, key_id=key_id, plaintext=b"secret", context=CTX
        )
        blob = base64.b64decode(sealed.ciphertext_blob)
        header = len(Envelope.from_bytes(blob).header())
        for position in range(len(blob)):
            tampered = bytearray(blob)
            tampered[position] ^= 0x01
            text = base64.b64encode(bytes(tampered)).decode()
            # A flipped header byte may still parse, naming a key that does not exist (404);
            # anything else fails as invalid.
            expected = (NotFound, InvalidCiphertext) if position < header else (InvalidCiphertext,)
            with pytest.raises(expected):
                await kms.decrypt(session=session, caller=ALICE, ciphertext_blob=text, context=CTX)
        for broken in ["", "not base64!", base64.b64encode(blob[:20]).decode()]:
            with pytest.raises(InvalidCiphertext):
                await kms.decrypt(session=session, caller=ALICE, ciphertext_blob=broken, context=CTX)


async def test_rotation_keeps_old_versions_decrypting_and_reencrypt_upgrades(
    kms: KeyManagementService, database: Database
) -> None:
    key_id = await new_key(kms, database)
    async with database.sessionmaker() as session:
        old = await kms.encrypt(
            session=session, caller=ALICE, key_id=key_id, plaintext=b"v1 data", context=CTX
        )
        key = await kms.rotate_key(session=session, caller=ALICE, key_id=key_id)
        assert key.primary_version == 2
        new = await kms.encrypt(
            session=session, caller=ALICE, key_id=key_id, plaintext=b"v2 data", context=CTX
        )
        assert new.key_version == 2
        assert (
            await kms.decrypt(session=session, caller=ALICE, ciphertext_blob=old.ciphertext_blob, context=CTX)
        ).plaintext == b"v1 data"
        upgraded = await kms.re_encrypt(
            session=session, caller=ALICE, ciphertext_blob=old.ciphertext_blob, source_context=CTX
        )
        assert (upgraded.key_id, upgraded.key_version) == (key_id, 2)
        assert (
            await kms.decrypt(
                session=session, caller=ALICE, ciphertext_blob=upgraded.ciphertext_blob, context=CTX
            )
        ).plaintext == b"v1 data"


async def test_reencrypt_to_another_key_and_context(kms: KeyManagementService, database: Database) -> None:
    first, second = await new_key(kms, database, "a"), await new_key(kms, database, "b")
    bobs = await new_key(kms, database, "a", caller=BOB)
    async with database.sessionmaker() as session:
        sealed = await kms.encrypt(
            session=session, caller=ALICE, key_id=first, plaintext=b"moving", context=CTX
        )
        moved = await kms.re_encrypt(
            session=session,
            caller=ALICE,
            ciphertext_blob=sealed.ciphertext_blob,
            source_context=CTX,
            destination_key_id=second,
            destination_context={"purpose": "archive"},
        )
        assert moved.key_id == second
        opened = await kms.decrypt(
            session=session,
            caller=ALICE,
            ciphertext_blob=moved.ciphertext_blob,
            context={"purpose": "archive"},
        )
        assert opened.plaintext == b"moving"
        with pytest.raises(NotFound):
            await kms.re_encrypt(
                session=session,
                caller=ALICE,
                ciphertext_blob=sealed.ciphertext_blob,
                source_context=CTX,
                destination_key_id=bobs,
            )


async def test_disabled_keys_refuse_until_enabled(kms: KeyManagementService, database: Database) -> None:
    key_id = await new_key(kms, database)
    async with database.sessionmaker() as session:
        sealed = await kms.encrypt(session=session, caller=ALICE, key_id=key_id, plaintext=b"x", context={})
        await kms.set_state(session=session, caller=ALICE, key_id=key_id, state="disabled")
        with pytest.raises(KeyDisabled):
            await kms.decrypt(
                session=session, caller=ALICE, ciphertext_blob=sealed.ciphertext_blob, context={}
            )
        with pytest.raises(KeyDisabled):
            await kms.encrypt(session=session, caller=ALICE, key_id=key_id, plaintext=b"x", context={})
        await kms.set_state(session=session, caller=ALICE, key_id=key_id, state="enabled")
        assert (
            await kms.decrypt(
                session=session, caller=ALICE, ciphertext_blob=sealed.ciphertext_blob, context={}
            )
        ).plaintext == b"x"


async def test_bad_requests_name_the_problem(kms: KeyManagementService, database: Database) -> None:
    key_id = await new_key(kms, database)
    async with database.sessionmaker() as session:
        with pytest.raises(BadRequest, match="at most 4096"):
            await kms.encrypt(session=session, caller=ALICE, key_id=key_id, plaintext=b"x" * 4097, context={})
        with pytest.raises(BadRequest, match="string values"):
            await kms.encrypt(session=session, caller=ALICE, key_id=key_id, plaintext=b"x", context={"n": 1})  # type: ignore[dict-item]
        with pytest.raises(BadRequest, match="key spec"):
            await kms.generate_data_key(
                session=session, caller=ALICE, key_id=key_id, context={}, key_spec="AES_256"
            )
    with pytest.raises(Conflict, match="alias"):
        await new_key(kms, database)


async def test_every_use_is_audited_including_failures(
    kms: KeyManagementService, database: Database, audit: MemoryAuditSink
) -> None:
    key_id = await new_key(kms, database)
    async with database.sessionmaker() as session:
        sealed = await kms.encrypt(session=session, caller=ALICE, key_id=key_id, plaintext=b"x", context=CTX)
        with pytest.raises(InvalidCiphertext):
            await kms.decrypt(
                session=session, caller=ALICE, ciphertext_blob=sealed.ciphertext_blob, context={}
            )
    actions = [(e.action, e.result, e.tenant_id) for e in audit.events]
    assert actions == [
        ("kms.CreateKey", 200, "ten_alice"),
        ("kms.Encrypt", 200, "ten_alice"),
        ("kms.Decrypt", 400, "ten_alice"),
    ]
    decrypt = audit.events[-1]
    assert decrypt.extra["category"] == "kms" and decrypt.extra["key_id"] == key_id
    assert decrypt.extra["error"] == "invalid_ciphertext" and "secret" not in str(decrypt.extra)


async def test_material_is_sealed_under_the_root_key(kms: KeyManagementService, database: Database) -> None:
    key_id = await new_key(kms, database)
    other_root = KeyManagementService(root_key=RootKey(bytes(32)), audit=MemoryAuditSink())
    async with database.sessionmaker() as session:
        with pytest.raises(SealError, match="does not open"):
            await other_root.encrypt(session=session, caller=ALICE, key_id=key_id, plaintext=b"x", context={})


@pytest.mark.parametrize(
    ("text", "message"),
    [("00" * 31, "32 bytes"), ("zz" * 32, "32 bytes"), (base64.b64encode(bytes(16)).decode(), "32 bytes")],
)
def test_root_key_text_must_be_32_bytes(text: str, message: str) -> None:
    with pytest.raises(RootKeyError, match=message):
        RootKey.from_text(text)


def test_root_key_parses_hex_and_base64() -> None:
    material = bytes(range(32))
    assert (
        RootKey.from_text(material.hex()).fingerprint
        == RootKey.from_text(base64.b64encode(material).decode()).fingerprint
    )
