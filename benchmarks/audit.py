"""``stic bench audit``: durable Merkle audit-log appends per second, and proof verification rates.

Method (printed with every figure):

- *appends*: ``events`` records appended by ``producers`` concurrent callers (each awaits its
  own durable append, as request handlers do) to a fresh :class:`security.auditlog.log.AuditLog`
  on a scratch database — a temporary SQLite file (``synchronous=FULL``: fsync per commit) and
  a scratch PostgreSQL database created and dropped on each given server. Checkpoints are signed
  with SM2 every 10,000 entries, as in production. Wall time from first submit to last commit.
- *baseline*, side by side on the same database: the kernel's plain ``DatabaseAuditSink``
  (one transaction per event, no hashing) with the same producers, on ``baseline_events``.
  The ratio ``merkle / plain`` is the figure to compare across machines.
- *proofs*: RFC 9162 inclusion and consistency proofs for random indexes/sizes of a tree of
  ``events`` leaves, verified in a loop (pure CPU, one core); and inclusion proofs generated from
  the database (reads of leaves and stored tile nodes) per second.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from security.auditlog import merkle, store
from security.auditlog.log import AuditLog, LogConfig
from security.auditlog.records import AuditRecord
from services.kernel.audit import AuditEvent, AuditEventRow, DatabaseAuditSink
from services.kernel.db import Base, Database

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

Result = dict[str, Any]


def _environment(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        # Other work on the machine: the wall-clock rates scale with the CPU share left to us.
        "load_average_1m": round(os.getloadavg()[0], 2),
        **extra,
    }


def _record(i: int) -> AuditRecord:
    return AuditRecord(
        category="resource_request",
        action="POST /v1/jobs",
        service="bench",
        resource=f"/v1/jobs/job_{i:08d}",
        result=201,
        tenant_id=f"ten_{i % 16:04d}",
        principal_id=f"usr_{i % 97:04d}",
        request_id=uuid.uuid4().hex,
        details={"gpus": i % 8, "queue": "default"},
    )


def _event(i: int) -> AuditEvent:
    r = _record(i)
    return AuditEvent(
        action=r.action,
        resource=r.resource,
        result=201,
        principal_id=r.principal_id,
        tenant_id=r.tenant_id,
        request_id=r.request_id,
        service=r.service,
        extra=r.details,
    )


async def _producers(total: int, producers: int, call: Callable[[int], Any]) -> float:
    counter = iter(range(total))

    async def worker() -> None:
        for i in counter:
            await call(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(producers, total))))
    return time.perf_counter() - start


def _signer() -> Any:
    from security.auditlog.signing import SM2NoteSigner

    return SM2NoteSigner.generate(name="bench.stic")


async def _append_run(url: str, *, events: int, producers: int, baseline_events: int) -> dict[str, float]:
    database = Database(url)
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(
                Base.metadata.create_all,
                tables=[*_audit_tables(), Base.metadata.tables[AuditEventRow.__tablename__]],
            )
        audit_log = AuditLog(database=database, signer=_signer(), config=LogConfig(origin="bench.stic/audit"))
        await audit_log.start()
        cpu_start = time.process_time()
        merkle_seconds = await _producers(events, producers, lambda i: audit_log.append(_record(i)))
        merkle_cpu = time.process_time() - cpu_start
        await audit_log.close()
        sink = DatabaseAuditSink(database)
        plain_seconds = await _producers(baseline_events, producers, lambda i: sink.record(_event(i)))
        async with database.sessionmaker() as session:
            start = time.perf_counter()
            size = audit_log.size
            rng = random.Random(7)
            generated = 0
            while time.perf_counter() - start < 1.0:
                await store.inclusion_proof(session, index=rng.randrange(size), size=size)
                generated += 1
            proof_seconds = time.perf_counter() - start
        return {
            "merkle_per_s": events / merkle_seconds,
            "merkle_per_cpu_s": events / max(merkle_cpu, 1e-9),
            "plain_per_s": baseline_events / plain_seconds,
            "proofs_from_db_per_s": generated / proof_seconds,
        }
    finally:
        await database.dispose()


def _audit_tables() -> list[Any]:
    return [t for t in Base.metadata.sorted_tables if t.name.startswith("audit_log_")]


async def _postgres_scratch(server_url: str) -> tuple[str, Callable[[], Any]]:
    """Create a scratch database on ``server_url``'s server; return its URL and a dropper."""
    url = make_url(server_url)
    name = f"stic_bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))

    async def drop() -> None:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def _proof_rates(size: int) -> dict[str, float]:
    tree_leaves = [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(size)]
    nodes: dict[merkle.Subtree, bytes] = {}
    row, level = tree_leaves, 0
    while row:
        nodes.update({(level, i): h for i, h in enumerate(row)})
        row = [merkle.node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level += 1
    root = merkle.root_of(tree_leaves)
    rng = random.Random(1)
    inclusion = []
    for _ in range(500):
        index = rng.randrange(size)
        inclusion.append((index, merkle.assemble_proof(merkle.inclusion_proof_ranges(index, size), nodes)))
    consistency = []
    for _ in range(200):
        old = rng.randrange(1, size)
        proof = merkle.assemble_proof(merkle.consistency_proof_ranges(old, size), nodes)
        consistency.append((old, merkle.root_of(tree_leaves[:old]), proof))
    rates = {}
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < 1.0:
        for index, proof in inclusion:
            assert merkle.verify_inclusion(
                leaf=tree_leaves[index], index=index, size=size, proof=proof, root=root
            )
        count += len(inclusion)
    rates["inclusion"] = count / (time.perf_counter() - start)
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < 1.0:
        for old, old_root, proof in consistency:
            assert merkle.verify_consistency(
                old_size=old, new_size=size, old_root=old_root, new_root=root, proof=proof
            )
        count += len(consistency)
    rates["consistency"] = count / (time.perf_counter() - start)
    return rates


async def _postgres_version(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return str(await conn.scalar(text("SHOW server_version")))
    finally:
        await engine.dispose()


async def run_benchmark(
    *, events: int, producers: int, baseline_events: int, database_urls: list[str]
) -> list[Result]:
    """Run every measurement; return the result rows (unreachable servers give a row saying so)."""
    results: list[Result] = []
    method = (
        f"{events} records, {producers} concurrent callers each awaiting a durable append; "
        "one transaction per batch (COPY on PostgreSQL, executemany on SQLite) on the writer's kept "
        "connection, backlog split in two for double buffering; SM2 checkpoint every 10,000; wall clock"
    )
    baseline_method = (
        f"kernel DatabaseAuditSink, one transaction per event, {baseline_events} events, same callers"
    )
    for url in database_urls:
        backend = make_url(url).get_backend_name()
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                scratch = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
                rates = await _append_run(
                    scratch, events=events, producers=producers, baseline_events=baseline_events
                )
            env = _environment({"database": f"SQLite {sqlite3.sqlite_version}", "synchronous": "FULL"})
        else:
            try:
                version = await _postgres_version(url)
                scratch, drop = await _postgres_scratch(url)
            except (OSError, Exception) as exc:
                results.append(
                    {
                        "metric": f"audit_append_durable_{backend}",
                        "value": None,
                        "unit": "events/s",
                        "method": f"unreachable: {type(exc).__name__}: {exc}",
                        "environment": _environment({"database": make_url(url).render_as_string()}),
                    }
                )
                continue
            try:
                rates = await _append_run(
                    scratch, events=events, producers=producers, baseline_events=baseline_events
                )
            finally:
                await drop()
            env = _environment({"database": f"PostgreSQL {version}", "synchronous_commit": "server default"})
        name = "sqlite" if backend == "sqlite" else "postgresql"
        results += [
            {
                "metric": f"audit_append_durable_{name}",
                "value": round(rates["merkle_per_s"]),
                "unit": "events/s",
                "method": method,
                "environment": env,
            },
            {
                "metric": f"audit_append_durable_per_cpu_second_{name}",
                "value": round(rates["merkle_per_cpu_s"]),
                "unit": "events/CPU-s",
                "method": "same run: events divided by this process's CPU time (all threads; the "
                "PostgreSQL server's CPU is not counted); what one free core would sustain, less "
                "sensitive than wall clock to other load on the machine",
                "environment": env,
            },
            {
                "metric": f"audit_append_plain_sink_{name}",
                "value": round(rates["plain_per_s"]),
                "unit": "events/s",
                "method": baseline_method,
                "environment": env,
            },
            {
                "metric": f"audit_append_ratio_vs_plain_sink_{name}",
                "value": round(rates["merkle_per_s"] / rates["plain_per_s"], 2),
                "unit": "ratio",
                "method": "merkle appends/s divided by plain-sink appends/s, same run",
                "environment": env,
            },
            {
                "metric": f"audit_inclusion_proofs_from_db_{name}",
                "value": round(rates["proofs_from_db_per_s"]),
                "unit": "proofs/s",
                "method": f"inclusion proof generated from stored leaves/tiles, tree of {events}",
                "environment": env,
            },
        ]
    cpu = _proof_rates(events)
    env = _environment({"hash": "SM3 via cryptography/OpenSSL"})
    results += [
        {
            "metric": "audit_inclusion_proof_verify",
            "value": round(cpu["inclusion"]),
            "unit": "proofs/s",
            "method": f"RFC 9162 §2.1.3.2 on random leaves of a {events}-leaf tree, one core",
            "environment": env,
        },
        {
            "metric": "audit_consistency_proof_verify",
            "value": round(cpu["consistency"]),
            "unit": "proofs/s",
            "method": f"RFC 9162 §2.1.4.2 from random old sizes to {events}, one core",
            "environment": env,
        },
    ]
    return results


def command(
    format: Annotated[str, typer.Option("--format", help="json (one object on stdout) or table")] = "json",
    events: Annotated[int, typer.Option(min=1000, help="records appended per database")] = 50_000,
    database_url: Annotated[
        list[str] | None,
        typer.Option(help="databases to measure (repeatable); PostgreSQL gets a scratch database"),
    ] = None,
    producers: Annotated[int, typer.Option(min=1, help="concurrent appending callers")] = 1000,
    baseline_events: Annotated[int, typer.Option(min=100, help="events for the plain-sink baseline")] = 5000,
) -> None:
    """Measure durable audit appends/s (SQLite, PostgreSQL) and proof verification rates."""
    if format not in ("json", "table"):
        raise typer.BadParameter("format must be 'json' or 'table'", param_hint="--format")
    urls = database_url or ["sqlite+aiosqlite://", DEFAULT_POSTGRES_URL]
    console = Console(stderr=True)
    with console.status("benchmarking the audit log..."):
        results = asyncio.run(
            run_benchmark(
                events=events, producers=producers, baseline_events=baseline_events, database_urls=urls
            )
        )
    if format == "json":
        sys.stdout.write(json.dumps({"benchmark": "audit", "results": results}, ensure_ascii=False) + "\n")
        return
    table = Table("metric", "value", "unit", "method")
    for row in results:
        table.add_row(row["metric"], str(row["value"]), row["unit"], row["method"])
    Console().print(table)
