"""``verify`` detects every kind of tampering and names the first bad entry (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from security.auditlog import merkle
from security.auditlog.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from security.auditlog.log import AuditLog
from security.auditlog.models import APPEND_ONLY_TABLES, AuditLogCheckpoint, AuditLogEntry
from security.auditlog.records import AuditRecord, leaf_entry
from security.auditlog.signing import SM2NoteSigner
from security.auditlog.verify import VerifyReport, verify_log
from services.kernel.db import Database

from .conftest import make_config

SIZE = 350
ORIGIN = "stic.audit/v1"


@pytest.fixture
async def log_db(
    database: Database, signer: SM2NoteSigner, make_record: Callable[..., AuditRecord]
) -> AsyncIterator[Database]:
    """A log of 350 entries, checkpoints at 100, 200, 300, 350, with the append-only triggers lifted
    (the attacker in these tests controls the database)."""
    log = AuditLog(database=database, signer=signer, config=make_config())
    await log.start()
    for start in range(0, SIZE, 50):
        await log.append_many([make_record(i) for i in range(start, start + 50)])
    await log.checkpoint()
    await log.close()
    async with database.engine.begin() as conn:
        await lift_triggers(conn)
    yield database


async def lift_triggers(conn: AsyncConnection) -> None:
    for table in APPEND_ONLY_TABLES:
        if conn.dialect.name == "sqlite":
            for suffix in ("no_update", "no_delete"):
                await conn.execute(text(f"DROP TRIGGER {table}_{suffix}"))
        else:
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


async def run_verify(
    database: Database, signer: SM2NoteSigner, trusted: list[Checkpoint] | None = None
) -> VerifyReport:
    async with database.sessionmaker() as session:
        return await verify_log(
            session, verifier=signer.verifier, origin=ORIGIN, trusted_checkpoints=trusted or []
        )


async def read(database: Database, column: str, index: int) -> bytes:
    async with database.engine.connect() as conn:
        return bytes(
            (
                await conn.execute(
                    text(f"SELECT {column} FROM audit_log_entries WHERE idx = :i"), {"i": index}
                )
            ).scalar_one()
        )


async def write(database: Database, column: str, index: int, value: bytes) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(
            text(f"UPDATE audit_log_entries SET {column} = :v WHERE idx = :i"), {"v": value, "i": index}
        )


async def shift_from(database: Database, index: int, by: int) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(
            text("UPDATE audit_log_entries SET idx = idx + 1000000 WHERE idx >= :i"), {"i": index}
        )
        await conn.execute(
            text("UPDATE audit_log_entries SET idx = idx - 1000000 + :b WHERE idx >= 1000000"), {"b": by}
        )


FORGED_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def forged_row(index: int) -> AuditLogEntry:
    """A perfectly self-consistent entry an attacker could craft without the signing key."""
    record = AuditRecord(
        category="data_access", action="GET /v1/datasets/d9", service="data", tenant_id="t1", time=FORGED_TIME
    )
    entry = leaf_entry(index=index, integrated_at=FORGED_TIME.isoformat(), record=record)
    return AuditLogEntry(
        idx=index,
        leaf_hash=merkle.leaf_hash(entry),
        entry=entry,
        integrated_at=FORGED_TIME,
        event_time=FORGED_TIME,
        category=record.category,
        action=record.action,
        service=record.service,
        tenant_id=record.tenant_id,
    )


async def test_an_untouched_log_verifies(log_db: Database, signer: SM2NoteSigner) -> None:
    report = await run_verify(log_db, signer)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints, report.unsigned_entries) == (SIZE, 4, 0)


async def test_every_single_byte_change_names_its_entry(log_db: Database, signer: SM2NoteSigner) -> None:
    rng = random.Random(20260101)
    cases = [("entry", rng.randrange(SIZE)) for _ in range(10)] + [
        ("leaf_hash", rng.randrange(SIZE)) for _ in range(5)
    ]
    for column, index in cases:
        original = await read(log_db, column, index)
        position = rng.randrange(len(original))
        changed = bytearray(original)
        changed[position] ^= rng.randrange(1, 256)
        await write(log_db, column, index, bytes(changed))
        report = await run_verify(log_db, signer)
        first = report.first_bad
        assert first is not None and first.index == index, (column, index, position, report.problems)
        assert first.kind in {"leaf_hash_mismatch", "not_canonical", "index_mismatch", "projection_mismatch"}
        await write(log_db, column, index, original)
    assert (await run_verify(log_db, signer)).ok


async def test_a_deleted_entry_is_named(log_db: Database, signer: SM2NoteSigner) -> None:
    async with log_db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log_entries WHERE idx = 123"))
    first = (await run_verify(log_db, signer)).first_bad
    assert first is not None and (first.index, first.kind) == (123, "missing_entry")


async def test_a_truncated_tail_is_caught_by_the_checkpoint(log_db: Database, signer: SM2NoteSigner) -> None:
    async with log_db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM audit_log_entries WHERE idx >= 345"))
    first = (await run_verify(log_db, signer)).first_bad
    assert first is not None and (first.index, first.kind) == (345, "missing_entry")
    assert "[345, 350)" in first.message


async def test_an_inserted_entry_is_detected_where_the_log_shifts(
    log_db: Database, signer: SM2NoteSigner
) -> None:
    await shift_from(log_db, 150, 1)
    async with log_db.sessionmaker.begin() as session:
        session.add(forged_row(150))
    report = await run_verify(log_db, signer)
    first = report.first_bad
    assert first is not None and (first.index, first.kind) == (151, "index_mismatch")
    assert "says index 150" in first.message


async def test_reordered_entries_are_named(log_db: Database, signer: SM2NoteSigner) -> None:
    a, b = await read(log_db, "entry", 200), await read(log_db, "entry", 201)
    ha, hb = await read(log_db, "leaf_hash", 200), await read(log_db, "leaf_hash", 201)
    await write(log_db, "entry", 200, b)
    await write(log_db, "leaf_hash", 200, hb)
    await write(log_db, "entry", 201, a)
    await write(log_db, "leaf_hash", 201, ha)
    first = (await run_verify(log_db, signer)).first_bad
    assert first is not None and (first.index, first.kind) == (200, "index_mismatch")


async def test_a_rehashed_rewrite_is_localised_by_the_signed_roots(
    log_db: Database, signer: SM2NoteSigner
) -> None:
    original = await read(log_db, "entry", 170)
    rewritten = original.replace(b'"result":201', b'"result":403')
    assert rewritten != original
    await write(log_db, "entry", 170, rewritten)
    await write(log_db, "leaf_hash", 170, merkle.leaf_hash(rewritten))
    report = await run_verify(log_db, signer)
    kinds = {p.kind for p in report.problems}
    assert {"root_mismatch", "tile_mismatch"} <= kinds
    first = report.first_bad
    assert first is not None and (first.index, first.end, first.kind) == (100, 200, "root_mismatch")


async def test_a_bad_checkpoint_signature_is_reported(log_db: Database, signer: SM2NoteSigner) -> None:
    async with log_db.engine.begin() as conn:
        note = (
            await conn.execute(text("SELECT note FROM audit_log_checkpoints WHERE size = 200"))
        ).scalar_one()
        body, signature_line = note.rsplit("\n\n", 1)
        name_part, blob = signature_line.rstrip("\n").rsplit(" ", 1)
        flipped = blob[:10] + ("A" if blob[10] != "A" else "B") + blob[11:]
        await conn.execute(
            text("UPDATE audit_log_checkpoints SET note = :n WHERE size = 200"),
            {"n": f"{body}\n\n{name_part} {flipped}\n"},
        )
    report = await run_verify(log_db, signer)
    assert [p.kind for p in report.problems] == ["bad_checkpoint"]
    assert "size 200" in report.problems[0].message


async def test_a_validly_signed_fork_is_inconsistent(log_db: Database, signer: SM2NoteSigner) -> None:
    fork = Checkpoint(
        origin=ORIGIN, size=250, root=merkle.leaf_hash(b"fork"), time=datetime(2026, 6, 1, tzinfo=UTC)
    )
    async with log_db.sessionmaker.begin() as session:
        latest = await session.get(AuditLogCheckpoint, 300)
        assert latest is not None
        fork = Checkpoint(origin=ORIGIN, size=250, root=fork.root, time=latest.signed_at)
        session.add(
            AuditLogCheckpoint(
                size=250,
                root_hash=fork.root,
                signed_at=fork.time,
                key_name=signer.name,
                key_fingerprint=signer.fingerprint,
                note=sign_checkpoint(fork, signer),
            )
        )
    report = await run_verify(log_db, signer)
    kinds = [p.kind for p in report.problems]
    assert "root_mismatch" in kinds and "inconsistent" in kinds


async def test_a_trusted_checkpoint_from_another_history_fails(
    log_db: Database, signer: SM2NoteSigner
) -> None:
    other = Checkpoint(origin=ORIGIN, size=120, root=merkle.leaf_hash(b"x"), time=datetime.now(UTC))
    trusted = open_checkpoint(sign_checkpoint(other, signer), signer.verifier, origin=ORIGIN)
    report = await run_verify(log_db, signer, trusted=[trusted])
    first = report.first_bad
    assert first is not None and first.kind == "root_mismatch" and "trusted checkpoint" in first.message


async def test_a_matching_trusted_checkpoint_passes(log_db: Database, signer: SM2NoteSigner) -> None:
    async with log_db.engine.connect() as conn:
        note = (
            await conn.execute(text("SELECT note FROM audit_log_checkpoints WHERE size = 300"))
        ).scalar_one()
    trusted = open_checkpoint(note, signer.verifier, origin=ORIGIN)
    report = await run_verify(log_db, signer, trusted=[trusted])
    assert report.ok and report.trusted_checkpoint_size == 300


async def test_a_wrong_public_key_fails_every_checkpoint(log_db: Database) -> None:
    stranger = SM2NoteSigner.generate(name="stic-audit")
    report = await run_verify(log_db, stranger)
    assert [p.kind for p in report.problems] == ["bad_checkpoint"] * 4
