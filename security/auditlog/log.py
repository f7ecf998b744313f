"""The sequencer: durable, batched appends to the Merkle audit log, and periodic checkpoints.

One :class:`AuditLog` per log database is the only writer (like Trillian's sequencer or a
Tessera personality). Callers ``await append(record)``; a single background task collects
records for up to ``batch_wait`` seconds or ``batch_max`` records, assigns consecutive
indexes, hashes the leaves, and writes leaves and completed tile nodes in one transaction
(``COPY`` on PostgreSQL, ``executemany`` on SQLite) on a connection it keeps across batches.
Only after the commit does it advance the in-memory compact tree (the frontier, O(log n)
hashes) and resolve the callers' futures, so a returned :class:`Appended` is durable. On
SQLite the writer's connection uses ``PRAGMA synchronous=FULL`` (fsync at every commit)
unless told otherwise.

Each batch costs a fixed share of CPU (driver round trips, an fsync, waking the writer: ~0.3 ms on
a fast core, ~0.7 ms on a slow one), so under load — when the last batch held more than one record
— a new batch starts no sooner than ``busy_batch_interval`` (25 ms) after the previous one: at
1,000 audited requests a second that is ~40 batches of ~25 records instead of ~400 of two or
three. A caller that awaits its record under load may wait that long; the kernel's audit hook
awaits it only after the response is sent. A lone caller still waits only ``batch_wait``.

Throughput comes from keeping the event loop and the database busy at the same time: batch
k+1 is hashed while batch k is written, and an idle writer facing a large backlog writes it
in two halves (see :meth:`AuditLog._take`), since callers that await their appends only
produce their next records once the batch holding their last one is committed.

A checkpoint is signed after ``checkpoint_every`` new leaves, or ``checkpoint_interval``
seconds after the last one if the tree grew, and on :meth:`close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from security.auditlog import merkle, store
from security.auditlog.bulk import prepare_writer_connection, write_batch
from security.auditlog.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from security.auditlog.models import AuditLogCheckpoint
from security.auditlog.records import AuditRecord, leaf_entries
from services.kernel.db import Database, utcnow

log = logging.getLogger("stic.auditlog")


class AuditLogClosed(RuntimeError):
    """``append`` was called on a log that is not started or already closed."""


@dataclass(frozen=True, slots=True)
class Appended:
    """Where a record landed: its leaf index and leaf hash (durable once returned)."""

    index: int
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class LogConfig:
    """Tunables of the sequencer; see the module docstring."""

    origin: str = "stic.audit/v1"
    batch_max: int = 2000
    batch_wait: float = 0.002
    busy_batch_interval: float = 0.025
    checkpoint_every: int = 10_000
    checkpoint_interval: float = 60.0
    sqlite_synchronous_full: bool = True

    def __post_init__(self) -> None:
        if self.batch_max < 1:
            raise ValueError("batch_max must be >= 1")
        if self.batch_wait < 0 or self.busy_batch_interval < 0:
            raise ValueError("batch_wait and busy_batch_interval must be >= 0")
        if self.checkpoint_every < 1 or self.checkpoint_interval <= 0:
            raise ValueError("checkpoint_every must be >= 1 and checkpoint_interval > 0")


_Pending = tuple[AuditRecord, "asyncio.Future[Appended]"]

SPLIT_MIN = 64
"""An idle writer splits a backlog of at least twice this many records (see ``AuditLog._take``)."""


@dataclass(slots=True)
class _Prepared:
    """A sequenced batch ready to write; ``tree`` is the tree once it is committed."""

    pending: list[_Pending]
    tree: merkle.CompactTree
    entries: list[tuple[object, ...]]
    nodes: list[tuple[int, int, bytes]]
    results: list[Appended]


class AuditLog:
    """Single-writer Merkle audit log over a :class:`Database` (see module docstring)."""

    def __init__(
        self,
        *,
        database: Database,
        signer: NoteSigner | None,
        config: LogConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._database = database
        self._signer = signer
        self.config = config or LogConfig()
        self._clock = clock
        # A plain deque and two events instead of an asyncio.Queue: append is on every caller's
        # path, and Queue.put/get/task_done cost several microseconds per record.
        self._pending: deque[_Pending] = deque()
        self._arrived = asyncio.Event()  # set whenever _pending may be non-empty
        self._unfinished = 0  # appended but not yet resolved
        self._drained = asyncio.Event()  # set whenever _unfinished is 0
        self._drained.set()
        self._tree = merkle.CompactTree()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._checkpointed_size = 0
        self._checkpointed_at = time.monotonic()
        self._write_lock = asyncio.Lock()
        self._conn: AsyncConnection | None = None  # the writer's kept connection (see _commit)
        self._writing: asyncio.Task[bool] | None = None  # the batch being committed, if any
        self._last_batch_at = 0.0  # monotonic time the last batch was taken
        self._last_batch_size = 0

    @property
    def size(self) -> int:
        """Number of durable leaves."""
        return self._tree.size

    @property
    def root(self) -> bytes:
        """Root hash of the durable tree."""
        return self._tree.root()

    @property
    def signer(self) -> NoteSigner | None:
        """The checkpoint signer (None: no checkpoints are signed)."""
        return self._signer

    async def start(self) -> None:
        """Load the committed tree and start the writer task (idempotent)."""
        if self._task is not None:
            return
        await self._resync()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="stic-auditlog-writer")

    async def close(self) -> None:
        """Flush queued records, sign a final checkpoint if the tree grew, stop the writer."""
        if self._task is None:
            return
        self._closing = True
        while self._unfinished:
            await self._drained.wait()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        await self._release_connection()
        if self._signer is not None and self._tree.size > self._checkpointed_size:
            await self.checkpoint()

    async def append(self, record: AuditRecord) -> Appended:
        """Queue ``record`` and wait until it is committed; raises if the write failed."""
        if self._task is None or self._closing:
            raise AuditLogClosed("audit log is not running")
        future: asyncio.Future[Appended] = asyncio.get_running_loop().create_future()
        self._pending.append((record, future))
        if not self._unfinished:
            self._drained.clear()
        self._unfinished += 1
        self._arrived.set()
        return await future

    async def append_many(self, records: Sequence[AuditRecord]) -> list[Appended]:
        """Append several records concurrently (they may share batches); results in order."""
        return list(await asyncio.gather(*(self.append(r) for r in records)))

    async def checkpoint(self) -> Checkpoint:
        """Sign and store a checkpoint of the current durable tree now; returns it.

        Returns the existing checkpoint unchanged when one already covers this size.
        """
        if self._signer is None:
            raise RuntimeError("this audit log has no checkpoint signer")
        async with self._write_lock:
            size, root = self._tree.size, self._tree.root()
            async with self._database.sessionmaker() as session:
                existing = await store.checkpoint_at(session, size=size)
                if existing is not None:
                    return Checkpoint(
                        origin=self.config.origin, size=size, root=existing.root_hash, time=existing.signed_at
                    )
                checkpoint = Checkpoint(origin=self.config.origin, size=size, root=root, time=self._clock())
                session.add(
                    AuditLogCheckpoint(
                        size=size,
                        root_hash=root,
                        signed_at=checkpoint.time,
                        key_name=self._signer.name,
                        key_fingerprint=self._signer.fingerprint,
                        note=sign_checkpoint(checkpoint, self._signer),
                    )
                )
                await session.commit()
            self._checkpointed_size = size
            self._checkpointed_at = time.monotonic()
            return checkpoint

    async def _resync(self) -> None:
        async with self._database.sessionmaker() as session:
            self._tree = await store.load_tree(session)
            latest = await store.latest_checkpoint(session)
        self._checkpointed_size = latest.size if latest is not None else 0
        self._checkpointed_at = time.monotonic()

    async def _next_batch(self) -> list[_Pending] | None:
        timeout = None
        if self._signer is not None:
            # Wake up to sign a time-based checkpoint even when no record arrives.
            timeout = max(0.0, self.config.checkpoint_interval - (time.monotonic() - self._checkpointed_at))
        if not self._pending:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return None
        if len(self._pending) < self.config.batch_max:
            wait = self._linger()
            if wait > 0:
                await asyncio.sleep(wait)
        batch = self._take(split=self._writing is None or self._writing.done())
        self._last_batch_at = time.monotonic()
        self._last_batch_size = len(batch)
        return batch

    def _linger(self) -> float:
        """Seconds to wait for more records before taking a batch (see the module docstring)."""
        wait = self.config.batch_wait
        if self._last_batch_size > 1 or len(self._pending) > 1:
            since_last = time.monotonic() - self._last_batch_at
            wait = max(wait, self.config.busy_batch_interval - since_last)
        return wait

    def _take(self, *, split: bool) -> list[_Pending]:
        """Up to ``batch_max`` waiting records; only half of them when ``split`` and there are many.

        Splitting is double buffering: callers await their own appends, so with an idle writer a
        whole backlog in one batch would leave the next batch empty until that write commits.
        Written in two halves, the second half is hashed and its callers' next records are built
        while the first half is being committed.
        """
        pending = self._pending
        take = min(len(pending), self.config.batch_max)
        if split and take >= 2 * SPLIT_MIN:
            take = (take + 1) // 2
        return [pending.popleft() for _ in range(take)]

    def _finished(self, count: int) -> None:
        self._unfinished -= count
        if not self._unfinished:
            self._drained.set()

    async def _run(self) -> None:
        # Two-stage pipeline: while batch k is being written, batch k+1 is collected and hashed
        # on a speculative copy of the tree; writes themselves stay strictly sequential.
        speculative = self._tree.copy()
        try:
            while True:
                batch = await self._next_batch()
                prepared = self._prepare(batch, speculative) if batch is not None else None
                if self._writing is not None:
                    succeeded = await self._writing
                    self._writing = None
                    if not succeeded:
                        await self._resync_quietly()
                        speculative = self._tree.copy()
                        if prepared is not None:
                            prepared = self._prepare(prepared.pending, speculative)
                if prepared is not None:
                    self._writing = asyncio.create_task(self._write(prepared))
                elif self._checkpoint_due():
                    # Timer wake-up; takes the write lock, so it signs the tree as of the last commit.
                    await self._checkpoint_quietly()
        finally:
            if self._writing is not None and not self._writing.done():
                await asyncio.shield(self._writing)
            self._writing = None

    async def _resync_quietly(self) -> None:
        """Reload the committed tree after a failed write; on failure keep the in-memory one
        (it only ever advances on commit, so it is still a committed state)."""
        try:
            await self._resync()
        except Exception:
            log.exception("reloading the audit tree failed; continuing with the last committed state")

    async def _checkpoint_quietly(self) -> None:
        try:
            await self.checkpoint()
        except Exception:
            log.exception("signing an audit checkpoint failed")

    def _checkpoint_due(self) -> bool:
        if self._signer is None or self._tree.size == self._checkpointed_size:
            return False
        grown = self._tree.size - self._checkpointed_size
        elapsed = time.monotonic() - self._checkpointed_at
        return grown >= self.config.checkpoint_every or elapsed >= self.config.checkpoint_interval

    async def _commit(self, prepared: _Prepared) -> None:
        """Write one batch on the writer's own connection, kept across batches.

        Checking a connection out of the pool per batch costs a pre-ping and a reset-on-return
        (two round trips on PostgreSQL). A kept connection can go stale (server restart), so a
        batch that fails on a reused connection is retried once on a fresh one; a second failure
        (say, an index taken by another writer) is the batch's failure.
        """
        reused = self._conn is not None
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = await self._database.engine.connect()
                    await prepare_writer_connection(
                        self._conn, sqlite_fsync=self.config.sqlite_synchronous_full
                    )
                await write_batch(self._conn, entries=prepared.entries, nodes=prepared.nodes)
                return
            except Exception:
                await self._release_connection()
                if attempt == 2 or not reused:
                    raise
                log.warning("audit batch failed on a kept connection; retrying once on a fresh one")

    async def _release_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    def _prepare(self, pending: list[_Pending], tree: merkle.CompactTree) -> _Prepared:
        """Sequence ``pending`` onto ``tree`` (mutated); nothing is written yet."""
        integrated_at = self._clock()
        records = [record for record, _future in pending]
        first = tree.size
        blobs = leaf_entries(first_index=first, integrated_at=integrated_at.isoformat(), records=records)
        leaf_hash, append, stored = merkle.leaf_hash, tree.append, store.is_stored_level
        entries: list[tuple[object, ...]] = []
        nodes: list[tuple[int, int, bytes]] = []
        results: list[Appended] = []
        for index, record, entry in zip(range(first, first + len(records)), records, blobs, strict=True):
            digest = leaf_hash(entry)
            for completed in append(digest):
                if stored(completed[0]):
                    nodes.append(completed)
            entries.append(
                (
                    index,
                    digest,
                    entry,
                    integrated_at,
                    record.time,
                    record.category,
                    record.action,
                    record.service,
                    record.tenant_id,
                    record.principal_id,
                    record.tool,
                    record.decision,
                )
            )
            results.append(Appended(index=index, leaf_hash=digest))
        return _Prepared(pending=pending, tree=tree.copy(), entries=entries, nodes=nodes, results=results)

    async def _write(self, prepared: _Prepared) -> bool:
        """Commit ``prepared``; resolve or fail its callers. True on success."""
        try:
            async with self._write_lock:
                await self._commit(prepared)
                self._tree = prepared.tree
        except Exception as exc:
            log.exception("audit batch of %d records failed", len(prepared.pending))
            for _record, future in prepared.pending:
                if not future.done():
                    future.set_exception(exc)
            self._finished(len(prepared.pending))
            return False
        for (_record, future), result in zip(prepared.pending, prepared.results, strict=True):
            if not future.done():
                future.set_result(result)
        self._finished(len(prepared.pending))
        if self._checkpoint_due():
            await self._checkpoint_quietly()
        return True
