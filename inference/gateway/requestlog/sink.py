"""The background writer of request logs: the request path only enqueues.

:meth:`RequestLogSink.submit` puts the raw record on a bounded in-memory queue and returns at
once. A background task takes what is queued (up to ``batch_size`` records at a time, waiting
at most ``linger_s`` after the first for more to come, so that a busy gateway commits a few
batches a second rather than one per request), masks
and bounds it (:mod:`.redaction`: on the event loop one record at a time, a record with much text
in a worker thread) and inserts the batch in one transaction (one multi-row insert of plain values,
not an ORM object per row).

Back-pressure: when the queue is full the record is **dropped**, counted in
``stic_inference_request_log_dropped_total{reason="queue_full"}`` and reported by a warning at
most every ``warn_every_s`` seconds; records submitted after :meth:`aclose` began count under
``reason="closed"``. A batch the database refuses twice is counted in
``stic_inference_request_log_write_errors_total`` and logged. Serving never waits for the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from prometheus_client import Counter
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inference.gateway.requestlog.models import InferenceRequestLog
from inference.gateway.requestlog.record import RequestRecord
from inference.gateway.requestlog.redaction import LogBounds, redact
from services.kernel.bulk import insert_rows
from services.kernel.db import new_id

log = logging.getLogger("stic.inference.requestlog")

DROPPED = Counter(
    "stic_inference_request_log_dropped_total",
    "Request-log records dropped before storage (queue full, or submitted after shutdown began).",
    ["reason"],
)
WRITTEN = Counter("stic_inference_request_log_written_total", "Request-log records stored.")
WRITE_ERRORS = Counter(
    "stic_inference_request_log_write_errors_total", "Request-log records lost because a batch insert failed."
)

_STOP = object()
_TABLE = cast(Table, InferenceRequestLog.__table__)
INLINE_TEXT_CHARS = 4096


class RequestLogSink:
    """Stores :class:`RequestRecord` objects in the background, masked, on ``engine``.

    ``secret_key`` derives each tenant's masking salt (``Settings.secret_key``). ``retry_delay_s``
    is the pause before the one retry of a failed batch. The writer keeps one connection across
    batches (checking one out of the pool per batch cost more than storing 20 rows); a batch that
    fails drops it, and the retry opens a fresh one.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        secret_key: str,
        queue_size: int = 10_000,
        batch_size: int = 200,
        linger_s: float = 0.1,
        bounds: LogBounds = LogBounds(),
        warn_every_s: float = 10.0,
        retry_delay_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_size < 1 or batch_size < 1:
            raise ValueError("queue_size and batch_size must be positive")
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._secret_key = secret_key
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._bounds = bounds
        self._warn_every_s = warn_every_s
        self._retry_delay_s = retry_delay_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._dropped_since_warning = 0
        self._last_warning: float | None = None

    # --- request path ---------------------------------------------------------------------------

    def submit(self, record: RequestRecord) -> None:
        """Queue ``record`` for storage; never blocks, never raises (drops and counts when full)."""
        if self._closing:
            DROPPED.labels(reason="closed").inc()
            return
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            DROPPED.labels(reason="queue_full").inc()
            self._warn_dropped()

    def _warn_dropped(self) -> None:
        self._dropped_since_warning += 1
        now = self._clock()
        if self._last_warning is None or now - self._last_warning >= self._warn_every_s:
            log.warning(
                "request-log queue full: records dropped",
                extra={"dropped": self._dropped_since_warning, "queue_size": self._queue.maxsize},
            )
            self._last_warning = now
            self._dropped_since_warning = 0

    @property
    def pending(self) -> int:
        """Records queued and not yet stored."""
        return self._queue.qsize()

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the background writer (idempotent)."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="request-log-writer")

    async def flush(self) -> None:
        """Wait until everything submitted so far is stored (or counted as lost)."""
        await self.start()
        await self._queue.join()

    async def aclose(self, *, timeout_s: float = 30.0) -> None:
        """Refuse new records, store every queued one, stop the writer."""
        await self.start()
        self._closing = True
        task = self._task
        assert task is not None
        try:
            async with asyncio.timeout(timeout_s):
                await self._queue.put(_STOP)
                await task
        except TimeoutError:
            task.cancel()
            log.error("request-log writer did not finish in time", extra={"pending": self.pending})
        finally:
            self._task = None
            await self._release_connection()

    # --- writer ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self._linger_s > 0 and batch[0] is not _STOP and self._queue.qsize() < self._batch_size:
                await asyncio.sleep(self._linger_s)
            while len(batch) < self._batch_size:
                try:
                    batch.append(self._queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            records = [item for item in batch if isinstance(item, RequestRecord)]
            try:
                if records:
                    await self._write(records)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if any(item is _STOP for item in batch):
                return

    async def _rows(self, records: list[RequestRecord]) -> list[dict[str, Any]]:
        """Masked rows; small records on the event loop (yielding between them), large ones in a thread.

        A worker thread does not run Python beside the loop (one GIL): it takes the interpreter for a
        switch interval (5 ms) at a time, which stalls every request in flight. So only a record
        with more than :data:`INLINE_TEXT_CHARS` characters of text is masked there.
        """
        rows = []
        for record in records:
            body_chars = _text_chars(record.request_body, limit=INLINE_TEXT_CHARS)
            if len(record.response_text or "") + body_chars > INLINE_TEXT_CHARS:
                rows.append(await asyncio.to_thread(self._row, record))
            else:
                rows.append(self._row(record, body_chars=body_chars))
                await asyncio.sleep(0)
        return rows

    def _row(self, record: RequestRecord, *, body_chars: int | None = None) -> dict[str, Any]:
        content = redact(
            request_body=record.request_body,
            response_text=record.response_text,
            tenant_id=record.tenant_id,
            secret_key=self._secret_key,
            bounds=self._bounds,
            body_chars=body_chars,
        )
        return {
            "id": new_id(InferenceRequestLog.id_prefix),
            "tenant_id": record.tenant_id,
            "request_id": record.request_id,
            "project_id": record.project_id,
            "principal_id": record.principal_id,
            "key_id": record.key_id,
            "model": record.model[:256],
            "service_id": record.service_id,
            "route_id": record.route_id,
            "variant": record.variant,
            "replica_id": record.replica_id,
            "operation": record.operation,
            "stream": record.stream,
            "status_code": record.status_code,
            "error_type": None if record.error_type is None else record.error_type[:64],
            "latency_ms": float(record.latency_ms),
            "ttft_ms": None if record.ttft_ms is None else float(record.ttft_ms),
            "prompt_tokens": int(record.prompt_tokens),
            "completion_tokens": int(record.completion_tokens),
            "request_body": content.request_body,
            "response_text": content.response_text,
            "truncated": content.truncated,
            "created_at": _utc(record.created_at),
        }

    async def _write(self, records: list[RequestRecord]) -> None:
        try:
            rows = await self._rows(records)
        except Exception:
            log.exception("request-log records could not be masked; dropped", extra={"count": len(records)})
            WRITE_ERRORS.inc(len(records))
            return
        for attempt in (1, 2):
            try:
                await self._insert(rows)
            except Exception:
                await self._release_connection()
                if attempt == 2:
                    log.exception("request-log batch insert failed; dropped", extra={"count": len(rows)})
                    WRITE_ERRORS.inc(len(rows))
                    return
                await asyncio.sleep(self._retry_delay_s)
            else:
                WRITTEN.inc(len(rows))
                return

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        # one executemany of plain values: no ORM unit of work, and on SQLite no per-row parameter
        # machinery either (services.kernel.bulk)
        if self._connection is None:
            self._connection = await self._engine.connect()
        await insert_rows(self._connection, _TABLE, rows)
        await self._connection.commit()

    async def _release_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


def _text_chars(value: Any, *, limit: int) -> int:
    """Characters in the strings of a JSON-like value, counted until they pass ``limit``."""
    if isinstance(value, str):
        return len(value)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    total = 0
    for item in items:
        total += _text_chars(item, limit=limit - total)
        if total > limit:
            break
    return total


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (SQLite stores wall time); a naive time is taken as UTC, not failing the batch."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
