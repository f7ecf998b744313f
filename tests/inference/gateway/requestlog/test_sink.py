"""The background writer: masked rows in the database, back-pressure, flush on close, write errors."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from inference.gateway.requestlog import InferenceRequestLog, LogBounds, RequestLogSink
from inference.gateway.requestlog.sink import DROPPED, WRITE_ERRORS, WRITTEN
from services.kernel.db import Database
from tests.conftest import TEST_SECRET
from tests.inference.gateway.requestlog.conftest import T0, make_sink, record
from tests.services.builders import unique

CHINA_ID = "11010519491231002X"
MOBILE = "13812345678"
CARD = "4111111111111111"
EMAIL = "li.si@example.org"


async def _rows(app: FastAPI, tenant_id: str) -> list[InferenceRequestLog]:
    async with app.state.database.sessionmaker() as session:
        query = (
            select(InferenceRequestLog)
            .where(InferenceRequestLog.tenant_id == tenant_id)
            .order_by(InferenceRequestLog.created_at)
        )
        return list((await session.execute(query)).scalars())


async def test_stored_rows_are_masked(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, _ = logs_app
    tenant_id = unique("ten")
    sink = make_sink(app)
    await sink.start()
    body = {
        "model": "tiny-chat",
        "messages": [{"role": "user", "content": f"ID {CHINA_ID}; phone {MOBILE}; card {CARD}; {EMAIL}"}],
        "user": EMAIL,
    }
    sink.submit(
        record(
            tenant_id,
            1,
            request_body=body,
            response_text=f"noted {MOBILE} and {EMAIL}",
            service_id="svc_a",
            stream=True,
        )
    )
    await sink.aclose()

    [row] = await _rows(app, tenant_id)
    stored = json.dumps(row.request_body, ensure_ascii=False) + (row.response_text or "")
    for raw in (CHINA_ID, MOBILE, CARD, EMAIL):
        assert raw not in stored, raw
    assert row.request_body["messages"][0]["content"] == (
        "ID 110***********002X; phone 138****5678; card 411111******1111; l***@example.org"
    )
    assert row.response_text == "noted 138****5678 and l***@example.org"
    assert (row.service_id, row.stream, row.status_code, row.prompt_tokens, row.completion_tokens) == (
        "svc_a",
        True,
        200,
        5,
        7,
    )
    assert row.id.startswith("rlog_") and row.truncated is False


async def test_close_flushes_everything_submitted_before(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, _ = logs_app
    tenant_id = unique("ten")
    sink = make_sink(app, batch_size=7)
    written = WRITTEN._value.get()
    for n in range(50):  # queued before the writer even starts
        sink.submit(record(tenant_id, n))
    assert sink.pending == 50
    await sink.start()
    await sink.aclose()
    rows = await _rows(app, tenant_id)
    assert [row.request_id for row in rows] == [f"req-{n}" for n in range(50)]
    assert WRITTEN._value.get() - written == 50
    closed = DROPPED.labels(reason="closed")._value.get()
    sink.submit(record(tenant_id, 99))
    assert DROPPED.labels(reason="closed")._value.get() == closed + 1


async def test_full_queue_drops_and_counts_without_blocking(
    logs_app: tuple[FastAPI, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = logs_app
    tenant_id = unique("ten")
    sink = make_sink(app, queue_size=3)
    dropped = DROPPED.labels(reason="queue_full")._value.get()
    for n in range(5):
        sink.submit(record(tenant_id, n))  # no writer running: the queue fills up
    assert DROPPED.labels(reason="queue_full")._value.get() == dropped + 2
    assert "request-log queue full" in caplog.text
    await sink.aclose()
    assert [row.request_id for row in await _rows(app, tenant_id)] == ["req-0", "req-1", "req-2"]


async def test_flush_waits_for_the_writer(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, _ = logs_app
    tenant_id = unique("ten")
    sink = make_sink(app, bounds=LogBounds(max_response_chars=10))
    await sink.start()
    sink.submit(record(tenant_id, 0, response_text="r" * 100))
    await sink.flush()
    [row] = await _rows(app, tenant_id)
    assert row.truncated is True and row.response_text is not None and row.response_text.startswith("r" * 10)
    await sink.aclose()


async def test_a_failed_batch_is_counted_and_the_writer_goes_on(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'no-tables.db'}")  # never migrated
    sink = RequestLogSink(database.engine, secret_key=TEST_SECRET, retry_delay_s=0.0)
    errors = WRITE_ERRORS._value.get()
    await sink.start()
    sink.submit(record("ten_x", 0))
    sink.submit(record("ten_x", 1))
    await sink.flush()
    sink.submit(record("ten_x", 2))
    await sink.aclose()
    assert WRITE_ERRORS._value.get() == errors + 3
    await database.dispose()


async def test_times_are_stored_in_utc(logs_app: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, _ = logs_app
    tenant_id = unique("ten")
    sink = make_sink(app)
    beijing = timezone(timedelta(hours=8))
    sink.submit(record(tenant_id, 0, created_at=T0.astimezone(beijing)))
    sink.submit(record(tenant_id, 1, created_at=(T0 + timedelta(seconds=1)).replace(tzinfo=None)))
    await sink.aclose()
    assert [row.created_at for row in await _rows(app, tenant_id)] == [T0, T0 + timedelta(seconds=1)]
