"""The append path's fast paths produce exactly what the plain definitions produce.

Leaf bytes, leaf/node hashes, canonical JSON, SQLite time text; and the sequencer's batching
(double buffering) and kept connection behave as documented.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from security.auditlog import merkle
from security.auditlog.bulk import _sqlite_rows
from security.auditlog.canonical import NonCanonicalValue, canonical_json
from security.auditlog.config import AuditSettings
from security.auditlog.log import SPLIT_MIN, AuditLog
from security.auditlog.records import AuditRecord, leaf_entries, leaf_entry
from security.crypto import sm3_digest
from services.kernel.db import Base, Database

from .conftest import BASE_TIME, audit_tables, build_record, make_config

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(alphabet=st.characters(codec="utf-8")),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=st.characters(codec="utf-8")), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_canonical_json_is_sorted_compact_utf8_json(value: Any) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": {"b": [1, 2.5]}}, "$.a.b[1]: floats are not allowed"),
        ({"a": [{"k": 2**60}]}, "$.a[0].k: integer 1152921504606846976 outside"),
        ({"a": {3: "x"}}, "$.a: object key 3 is not a string"),
        ({"s": {1, 2}}, "$.s: set is not a JSON type"),
    ],
)
def test_non_canonical_values_are_named_by_path(value: Any, message: str) -> None:
    with pytest.raises(NonCanonicalValue) as caught:
        canonical_json(value)
    assert str(caught.value).startswith(message)


def test_batch_leaf_entries_are_byte_identical_to_single_entries() -> None:
    records = [
        build_record(0),
        build_record(1, details={"nested": {"z": [1, None, True], "a": '\u2028\x01"\\'}, "中": "文"}),
        build_record(2, tenant_id=None, principal_id=None, request_id="r-1", result=None, resource=""),
        AuditRecord(
            category="tool_call",
            action="call search",
            service="agents",
            tool="web.search",
            decision="review",
            time=BASE_TIME.astimezone(timezone(timedelta(hours=8))),
            details={"big": 2**53 - 1, "neg": -(2**53 - 1)},
        ),
    ]
    at = "2026-01-01T00:00:00.000001+00:00"
    batch = leaf_entries(first_index=41, integrated_at=at, records=records)
    assert batch == [
        leaf_entry(index=41 + i, integrated_at=at, record=record) for i, record in enumerate(records)
    ]
    assert all(json.loads(entry)["index"] == 41 + i for i, entry in enumerate(batch))


@pytest.mark.parametrize("size", [0, 1, 31, 32, 33, 64, 65, 1000, 5000])
def test_leaf_and_node_hashes_equal_sm3_of_the_prefixed_bytes(size: int) -> None:
    data = os.urandom(size)
    assert merkle.leaf_hash(data) == sm3_digest(b"\x00" + data)
    left, right = os.urandom(32), os.urandom(32)
    assert merkle.node_hash(left, right) == sm3_digest(b"\x01" + left + right)
    # The seeded context is copied, never consumed: a second call gives the same digest.
    assert merkle.leaf_hash(data) == merkle.leaf_hash(data)


def test_sqlite_time_text_matches_sqlalchemys_storage_format() -> None:
    times = [
        datetime(2026, 3, 4, 5, 6, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=UTC),
        datetime(2026, 3, 4, 13, 6, 7, 123456, tzinfo=timezone(timedelta(hours=8))),
    ]
    rows = [(i, b"h", b"e", times[0], t, "c", "a", "s", None, None, None, None) for i, t in enumerate(times)]
    out = _sqlite_rows(rows)
    expected = [t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") for t in times]
    assert [row[4] for row in out] == expected
    assert {row[3] for row in out} == {"2026-03-04 05:06:07.000000"}
    assert [row[:3] + row[5:] for row in out] == [row[:3] + row[5:] for row in rows]


async def test_an_idle_writer_splits_a_backlog_in_two(database: Database) -> None:
    """Double buffering: the first batch of a backlog is half of it; later batches follow."""
    ticks = itertools.count()
    log = AuditLog(
        database=database,
        signer=None,
        # A long wait lets the whole backlog arrive before the first batch is taken.
        config=make_config(batch_wait=0.2),
        clock=lambda: BASE_TIME + timedelta(seconds=next(ticks)),
    )
    await log.start()
    backlog = 4 * SPLIT_MIN
    appended = await log.append_many([build_record(i) for i in range(backlog)])
    await log.close()
    assert [a.index for a in appended] == list(range(backlog))
    async with database.sessionmaker() as session:
        rows = await session.execute(
            text("SELECT integrated_at, count(*) FROM audit_log_entries GROUP BY integrated_at ORDER BY 1")
        )
        sizes = [int(count) for _, count in rows]
    assert sizes[0] == backlog // 2
    assert sum(sizes) == backlog and len(sizes) >= 2


async def test_under_load_batches_start_a_busy_interval_apart(database: Database) -> None:
    """Several callers at once: the writer takes a batch at most every ``busy_batch_interval``."""
    interval = 0.05
    taken_at: list[float] = []

    def clock() -> datetime:
        taken_at.append(time.monotonic())  # the sequencer reads its clock once per batch
        return BASE_TIME + timedelta(seconds=len(taken_at))

    log = AuditLog(
        database=database,
        signer=None,
        config=make_config(batch_wait=0.001, busy_batch_interval=interval),
        clock=clock,
    )
    await log.start()

    async def producer(first: int) -> None:
        for i in range(first, first + 12):
            await log.append(build_record(i))

    await asyncio.gather(*(producer(p * 100) for p in range(8)))
    await log.close()
    async with database.sessionmaker() as session:
        rows = await session.execute(
            text("SELECT integrated_at, count(*) FROM audit_log_entries GROUP BY integrated_at ORDER BY 1")
        )
        sizes = [int(count) for _, count in rows]
    assert sum(sizes) == 96 and len(sizes) == len(taken_at)
    gaps = [b - a for a, b, size in zip(taken_at, taken_at[1:], sizes, strict=False) if size > 1]
    assert gaps, f"no batch held more than one record: {sizes}"
    assert min(gaps) >= interval - 0.001, (sizes, gaps)


async def test_a_lone_caller_is_not_held_by_the_busy_interval(database: Database) -> None:
    """One record at a time: each batch waits ``batch_wait`` only, not the (here huge) busy interval."""
    log = AuditLog(
        database=database, signer=None, config=make_config(batch_wait=0.001, busy_batch_interval=60.0)
    )
    await log.start()
    try:
        for i in range(5):
            appended = await asyncio.wait_for(log.append(build_record(i)), timeout=10.0)
            assert appended.index == i
    finally:
        await log.close()


async def test_the_writer_survives_its_kept_connection_being_killed(postgres_database: str) -> None:
    """A PostgreSQL restart or idle kill: the next batch retries once on a fresh connection."""
    database = Database(postgres_database)
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all, tables=audit_tables())
        await conn.run_sync(Base.metadata.create_all, tables=audit_tables())
    log = AuditLog(database=database, signer=None, config=make_config())
    await log.start()
    try:
        await log.append_many([build_record(i) for i in range(3)])
        async with database.engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert killed >= 1  # the writer's kept connection was among them
        appended = await asyncio.wait_for(log.append(build_record(3)), timeout=30)
        assert appended.index == 3
    finally:
        await log.close()
        await database.dispose()


def test_the_batching_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STIC_AUDIT_BATCH_WAIT_MS", "3")
    monkeypatch.setenv("STIC_AUDIT_BUSY_BATCH_INTERVAL_MS", "25")
    config = AuditSettings().log_config()
    assert config.batch_wait == pytest.approx(0.003)
    assert config.busy_batch_interval == pytest.approx(0.025)
    assert AuditSettings(busy_batch_interval_ms=0).log_config().busy_batch_interval == 0
    with pytest.raises(ValueError, match="busy_batch_interval"):
        make_config(busy_batch_interval=-1.0)
