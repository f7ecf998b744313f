"""The sequencer on SQLite and PostgreSQL: durable batched appends, proofs, checkpoints, triggers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from security.auditlog import merkle, store
from security.auditlog.bulk import AuditWriteError
from security.auditlog.checkpoint import open_checkpoint
from security.auditlog.log import AuditLog, AuditLogClosed
from security.auditlog.models import AuditLogEntry
from security.auditlog.records import AuditRecord
from security.auditlog.signing import SM2NoteSigner
from security.auditlog.sink import MerkleAuditSink
from services.kernel.audit import AuditEvent
from services.kernel.db import Database

from .conftest import BASE_TIME, make_config

MakeRecord = Callable[..., AuditRecord]


async def all_leaf_hashes(database: Database) -> list[bytes]:
    async with database.sessionmaker() as session:
        rows = await session.execute(text("SELECT leaf_hash FROM audit_log_entries ORDER BY idx"))
        return [bytes(r[0]) for r in rows]


async def test_concurrent_appends_are_dense_batched_and_match_the_rfc_root(
    audit_log: AuditLog, database: Database, make_record: MakeRecord
) -> None:
    results = await audit_log.append_many([make_record(i) for i in range(700)])
    assert sorted(r.index for r in results) == list(range(700))
    hashes = await all_leaf_hashes(database)
    assert [r.leaf_hash for r in sorted(results, key=lambda r: r.index)] == hashes
    assert audit_log.root == merkle.root_of(hashes)
    async with database.sessionmaker() as session:
        nodes = (await session.execute(text("SELECT level, idx FROM audit_log_nodes ORDER BY idx"))).all()
    assert [tuple(n) for n in nodes] == [(8, 0), (8, 1)]


async def test_restart_continues_the_same_tree(
    database: Database, signer: SM2NoteSigner, make_record: MakeRecord
) -> None:
    first = AuditLog(database=database, signer=signer, config=make_config())
    await first.start()
    await first.append_many([make_record(i) for i in range(300)])
    root = first.root
    await first.close()
    second = AuditLog(database=database, signer=signer, config=make_config())
    await second.start()
    assert (second.size, second.root) == (300, root)
    appended = await second.append(make_record(300))
    assert appended.index == 300
    await second.close()
    assert second.root == merkle.root_of(await all_leaf_hashes(database))


async def test_proofs_from_the_store_verify_against_signed_checkpoints(
    audit_log: AuditLog, database: Database, signer: SM2NoteSigner, make_record: MakeRecord
) -> None:
    for start in range(0, 613, 100):
        await audit_log.append_many([make_record(i) for i in range(start, min(start + 100, 613))])
    latest = await audit_log.checkpoint()
    async with database.sessionmaker() as session:
        sizes = [c.size for c in await store.checkpoints(session)]
        assert sizes[:6] == [100, 200, 300, 400, 500, 600] and sizes[-1] == 613
        row = await store.latest_checkpoint(session)
        assert row is not None
        signed = open_checkpoint(row.note, signer.verifier, origin="stic.audit/v1")
        assert signed == latest
        for index in (0, 1, 255, 256, 300, 511, 612):
            entry = await store.get_entry(session, index=index)
            assert entry is not None
            proof = await store.inclusion_proof(session, index=index, size=613)
            assert merkle.verify_inclusion(
                leaf=entry.leaf_hash, index=index, size=613, proof=proof, root=signed.root
            )
        old = await store.checkpoint_at(session, size=300)
        assert old is not None
        proof = await store.consistency_proof(session, old_size=300, new_size=613)
        assert merkle.verify_consistency(
            old_size=300, new_size=613, old_root=old.root_hash, new_root=signed.root, proof=proof
        )


async def test_time_based_checkpoint_is_signed_without_new_appends(
    database: Database, signer: SM2NoteSigner, make_record: MakeRecord
) -> None:
    log = AuditLog(
        database=database, signer=signer, config=make_config(checkpoint_every=10**6, checkpoint_interval=0.05)
    )
    await log.start()
    await log.append(make_record(0))
    for _ in range(100):
        async with database.sessionmaker() as session:
            if await store.latest_checkpoint(session) is not None:
                break
        await asyncio.sleep(0.02)
    async with database.sessionmaker() as session:
        latest = await store.latest_checkpoint(session)
    await log.close()
    assert latest is not None and latest.size == 1


async def test_a_failed_batch_fails_its_callers_and_the_log_recovers(
    audit_log: AuditLog, database: Database, make_record: MakeRecord
) -> None:
    await audit_log.append_many([make_record(i) for i in range(5)])
    # Another writer takes index 5 behind the sequencer's back.
    async with database.sessionmaker.begin() as session:
        session.add(
            AuditLogEntry(
                idx=5,
                leaf_hash=b"\0" * 32,
                entry=b"{}",
                integrated_at=BASE_TIME,
                event_time=BASE_TIME,
                category="request",
                action="x",
                service="y",
            )
        )
    with pytest.raises(AuditWriteError, match="not written"):
        await audit_log.append(make_record(5))
    recovered = await audit_log.append(make_record(6))
    assert recovered.index == 6


async def test_append_after_close_is_refused(audit_log: AuditLog, make_record: MakeRecord) -> None:
    await audit_log.close()
    with pytest.raises(AuditLogClosed):
        await audit_log.append(make_record(0))


@pytest.mark.parametrize(
    ("table", "column"),
    [("audit_log_entries", "idx"), ("audit_log_checkpoints", "size"), ("audit_log_nodes", "hash")],
)
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}"])
async def test_triggers_make_every_table_append_only(
    audit_log: AuditLog, database: Database, make_record: MakeRecord, table: str, column: str, statement: str
) -> None:
    await audit_log.append_many([make_record(i) for i in range(300)])
    await audit_log.checkpoint()
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.engine.begin() as conn:
            await conn.execute(text(statement.format(t=table, c=column)))


async def test_truncate_is_rejected_on_postgresql(audit_log: AuditLog, database: Database) -> None:
    if database.is_sqlite:
        return  # SQLite has no TRUNCATE statement (DELETE is covered above).
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.engine.begin() as conn:
            await conn.execute(text("TRUNCATE audit_log_entries"))


async def test_sink_records_kernel_events_with_their_category(
    audit_log: AuditLog, database: Database
) -> None:
    sink = MerkleAuditSink(audit_log)
    event = AuditEvent(
        action="GET /v1/models/{id}/download",
        resource="/v1/models/m1/download",
        result=200,
        principal_id="u1",
        tenant_id="t1",
        request_id="r1",
        service="models",
        extra={"category": "model_download", "bytes": 1024},
    )
    await sink.record(event)
    async with database.sessionmaker() as session:
        (entry,) = await store.query_entries(session, tenant_id="t1", category="model_download")
    assert entry.action == "GET /v1/models/{id}/download"
    assert b'"bytes":1024' in entry.entry and b'"category":"model_download"' in entry.entry


async def test_queries_are_scoped_and_paginated(
    audit_log: AuditLog, database: Database, make_record: MakeRecord
) -> None:
    await audit_log.append_many([make_record(i) for i in range(30)])
    await audit_log.append(
        make_record(
            30, category="tool_call", tool="web.search", decision="deny", details={"reason": "blocked"}
        )
    )
    async with database.sessionmaker() as session:
        page1 = await store.query_entries(session, tenant_id="t1", limit=4)
        page2 = await store.query_entries(session, tenant_id="t1", limit=4, after_index=page1[-1].idx)
        tools = await store.query_entries(session, tenant_id=None, tool="web.search", decision="deny")
    assert [e.idx for e in page1] == [1, 4, 7, 10]
    assert [e.idx for e in page2] == [13, 16, 19, 22]
    assert [(e.idx, e.tenant_id) for e in tools] == [(30, "t0")]


def test_kernel_events_with_non_json_extras_are_kept_not_dropped() -> None:
    event = AuditEvent(
        action="POST /v1/jobs",
        resource="/v1/jobs",
        result=201,
        principal_id=None,
        tenant_id=None,
        request_id=None,
        service="scheduler",
        extra={"duration_ms": 1.5, "gpus": (1, 2), "huge": 2**60, "when": BASE_TIME},
    )
    details = AuditRecord.from_event(event).details
    assert details == {"duration_ms": "1.5", "gpus": [1, 2], "huge": str(2**60), "when": str(BASE_TIME)}
