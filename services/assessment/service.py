"""Assessment runs over HTTP: start (in the background), store, and read back in any format.

Runs are platform-level: only platform administrators start or read them. The probes of a
self-assessment reach this very app through ``httpx.ASGITransport`` — the same public API a
remote deployment offers — using the caller's own key.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import fractions
import functools
import json
import logging
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.assessment.catalogue import load_catalogue
from services.assessment.models import AssessmentRunRow
from services.assessment.report import render_html, render_json, render_oscal
from services.assessment.runner import run_assessment
from services.kernel.auth import Principal
from services.kernel.db import Database, utcnow
from services.kernel.errors import Conflict, Forbidden, NotFound
from services.kernel.pagination import PageParams, paginate

log = logging.getLogger("stic.assessment")
SELF_TARGET = "self (in-process)"


def require_platform_admin(principal: Principal) -> None:
    """Assessment runs act on the whole platform: platform administrators only."""
    if not principal.is_platform_admin:
        raise Forbidden("only platform administrators can run or read assessments")


def _json_safe(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, fractions.Fraction):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


@functools.lru_cache(maxsize=1)
def catalogue_document() -> str:
    """The catalogue as JSON text: chapters, clauses, performance rows, levels, grading, ambiguities."""
    return json.dumps(dataclasses.asdict(load_catalogue()), default=_json_safe, ensure_ascii=False)


async def start_run(
    *, session: AsyncSession, principal: Principal, token: str, app: FastAPI, target_url: str | None
) -> AssessmentRunRow:
    """Record a new run and start it in the background; returns the row (status ``running``)."""
    require_platform_admin(principal)
    tasks: set[asyncio.Task[None]] = app.state.assessment_tasks
    if any(not task.done() for task in tasks):
        raise Conflict("an assessment is already running; wait for it to finish")
    row = AssessmentRunRow(target=target_url or SELF_TARGET, requested_by=principal.id)
    session.add(row)
    await session.commit()
    task = asyncio.create_task(_execute(app=app, run_id=row.id, token=token, target_url=target_url))
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return row


async def _execute(*, app: FastAPI, run_id: str, token: str, target_url: str | None) -> None:
    database: Database = app.state.database
    settings = app.state.settings
    try:
        if target_url is None:
            transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://stic.self", timeout=60)
        else:
            client = httpx.AsyncClient(base_url=target_url, timeout=60)
        async with client:
            run = await run_assessment(
                client=client,
                admin_key=token,
                attestations=settings.assessment_attestations,
                results_dir=settings.assessment_results_dir,
            )
        values: dict[str, Any] = {
            "status": "finished",
            "report_json": render_json(run),
            "report_oscal": render_oscal(run),
            "report_html": render_html(run),
            "level_strict": run.strict.level,
            "level_with_simulated": run.with_simulated.level,
        }
    except Exception as exc:
        log.exception("assessment run failed", extra={"run_id": run_id})
        values = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:2000]}
    values["finished_at"] = utcnow()
    async with database.sessionmaker.begin() as session:
        await session.execute(update(AssessmentRunRow).where(AssessmentRunRow.id == run_id).values(**values))


async def get_run(*, session: AsyncSession, principal: Principal, run_id: str) -> AssessmentRunRow:
    """One run, or NotFound."""
    require_platform_admin(principal)
    row = await session.get(AssessmentRunRow, run_id)
    if row is None:
        raise NotFound.of("assessment run", run_id)
    return row


async def list_runs(
    *, session: AsyncSession, principal: Principal, page: PageParams
) -> tuple[list[AssessmentRunRow], int]:
    """Runs, newest first."""
    require_platform_admin(principal)
    query = select(AssessmentRunRow).order_by(AssessmentRunRow.created_at.desc(), AssessmentRunRow.id)
    return await paginate(session, query, page)


async def fail_interrupted_runs(app: FastAPI) -> None:
    """On start-up: runs left ``running`` by a previous process can never finish; mark them failed."""
    app.state.assessment_tasks = set()
    async with app.state.database.sessionmaker.begin() as session:
        await session.execute(
            update(AssessmentRunRow)
            .where(AssessmentRunRow.status == "running")
            .values(
                status="failed",
                error="interrupted: the server restarted during the run",
                finished_at=utcnow(),
            )
        )


SHUTDOWN_GRACE_S = 15.0


async def cancel_running(app: FastAPI, *, grace_s: float = SHUTDOWN_GRACE_S) -> None:
    """On shutdown: cancel a run in progress and wait (up to ``grace_s``) until it has unwound.

    The run's probes are requests into this app with database sessions open; the database is
    closed after the shutdown hooks, and a session still closing then waited for ever on a
    connection whose worker had stopped (a hung shutdown). The run is marked failed on the next
    start.
    """
    running = [task for task in app.state.assessment_tasks if not task.done()]
    for task in running:
        task.cancel()
    if running:
        _done, pending = await asyncio.wait(running, timeout=grace_s)
        if pending:
            log.warning("assessment run still unwinding at shutdown", extra={"tasks": len(pending)})
