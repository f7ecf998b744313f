"""Content checks: one text (:func:`check`) or a streamed output (:class:`SafetyStream`).

A check runs the tenant's active pack (or a named stored version) through
:func:`security.safety.engine.check`; a ``review`` decision queues a review item; every
decision is audited with :meth:`~security.safety.engine.Decision.audit_record` (SM3 of the
text, never the text). Checking needs ``inference:use``: it is the safety stage of the
platform's generative pipeline.

In-process use (the inference gateway)::

    stream = await open_stream(session=s, runtime=rt, principal=p, tenant_id=t)
    for chunk in upstream:
        step = stream.feed(chunk)
        forward(step.text)
        if step.stopped:
            break
    else:
        forward(stream.finish().text)
    decision = await close_stream(session=s, runtime=rt, principal=p, tenant_id=t, stream=stream,
                                  request_id=rid)

``feed`` holds back the sliding window the pack needs (a term split across chunks is still
caught) and stops the stream on a refuse/review match; ``close_stream`` audits the outcome
and queues the review item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession

from security.crypto.sm3 import sm3_hex
from security.safety import engine
from security.safety.engine import Decision, Match, StreamChecker, StreamStep
from security.safety.rules import Action, Direction
from services.kernel.auth import Principal
from services.safety import auditing, reviews, schemas
from services.safety.runtime import LoadedPack, SafetyRuntime
from services.safety.service import require_tenant, resolve

PERMISSION = "inference:use"
INLINE_CHARS = 4096  # longer texts (~10 ms and up) are checked in a worker thread


def _match_out(match: Match) -> schemas.MatchOut:
    return schemas.MatchOut.model_validate(match.as_dict())


def decision_out(
    decision: Decision, *, loaded: LoadedPack, text: str, review_item_id: str | None, semantic: bool
) -> schemas.DecisionOut:
    """Response form of a decision on ``text``."""
    return schemas.DecisionOut(
        action=decision.action.value,
        category=decision.category,
        categories=sorted(decision.categories),
        matches=[_match_out(match) for match in decision.matches],
        exempted=[_match_out(match) for match in decision.exempted],
        masked_text=decision.masked_text,
        message=decision.message,
        direction=decision.direction.value,
        pack=schemas.PackRef(
            pack_version_id=loaded.version_id,
            id=decision.pack_id,
            version=decision.pack_version,
            scope=loaded.scope,
        ),
        semantic=semantic,
        text_sm3=sm3_hex(text.encode()),
        review_item_id=review_item_id,
        latency_ms=round(decision.latency_ms, 4),
    )


async def _settle(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    loaded: LoadedPack,
    text: str,
    decision: Decision,
    request_id: str | None,
    action: str,
    semantic: bool,
) -> schemas.DecisionOut:
    """Queue a review decision, audit the decision, and build the response."""
    review_item_id: str | None = None
    if decision.action is Action.REVIEW:
        item = await reviews.submit(
            session=session,
            runtime=runtime,
            principal=principal,
            tenant_id=tenant_id,
            text=text,
            decision=decision,
            request_id=request_id,
        )
        review_item_id = item.id
    await auditing.record(
        runtime.audit,
        action=action,
        resource=f"safety-pack:{loaded.version_id}",
        principal=principal,
        tenant_id=tenant_id,
        request_id=request_id,
        facts={
            "decision": decision.audit_record(text),
            "pack_version_id": loaded.version_id,
            "review_item_id": review_item_id,
            "semantic": semantic,
        },
    )
    return decision_out(decision, loaded=loaded, text=text, review_item_id=review_item_id, semantic=semantic)


async def check(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    check_in: schemas.CheckIn,
    request_id: str | None,
) -> schemas.DecisionOut:
    """Check one complete text and act on the decision (see the module docstring)."""
    await require_tenant(session, principal, tenant_id, PERMISSION)
    loaded = await resolve(session, runtime, tenant_id=tenant_id, version_id=check_in.pack_version_id)
    direction = Direction(check_in.direction)
    if loaded.semantic is not None or len(check_in.text) > INLINE_CHARS:  # keep the event loop free
        decision = await asyncio.to_thread(
            engine.check, check_in.text, pack=loaded.compiled, direction=direction, semantic=loaded.semantic
        )
    else:
        decision = engine.check(check_in.text, pack=loaded.compiled, direction=direction)
    return await _settle(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        loaded=loaded,
        text=check_in.text,
        decision=decision,
        request_id=request_id,
        action="safety.check",
        semantic=loaded.semantic is not None,
    )


async def check_with_pack(
    *,
    session_factory: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    loaded: LoadedPack,
    text: str,
    direction: Direction,
    request_id: str | None,
    audit_allowed: bool,
) -> schemas.DecisionOut:
    """Check ``text`` with an already resolved pack (the gateway's hot path; the caller authorised).

    A session is opened only when the decision needs one (a review item, or auditing); with
    ``audit_allowed`` false an ``allow`` decision is not audited (the request itself is, by the
    gateway's request log and audit hook), every other decision is.
    """
    if loaded.semantic is not None or len(text) > INLINE_CHARS:  # keep the event loop free
        decision = await asyncio.to_thread(
            engine.check, text, pack=loaded.compiled, direction=direction, semantic=loaded.semantic
        )
    else:
        decision = engine.check(text, pack=loaded.compiled, direction=direction)
    semantic = loaded.semantic is not None
    if decision.action is Action.ALLOW and not audit_allowed:
        return decision_out(decision, loaded=loaded, text=text, review_item_id=None, semantic=semantic)
    async with session_factory() as session:
        out = await _settle(
            session=session,
            runtime=runtime,
            principal=principal,
            tenant_id=tenant_id,
            loaded=loaded,
            text=text,
            decision=decision,
            request_id=request_id,
            action="safety.check",
            semantic=semantic,
        )
        await session.commit()
    return out


class SafetyStream:
    """A streamed output under check; wraps :class:`~security.safety.engine.StreamChecker`.

    ``feed``/``finish`` are synchronous and cheap (no I/O); the text fed so far is kept only
    to compute its SM3 and, for a review stop, the masked excerpt of the review item. ``step``:
    characters gathered between two checks (:class:`~security.safety.engine.StreamChecker`).
    """

    def __init__(self, loaded: LoadedPack, direction: Direction, step: int = 1) -> None:
        self.loaded = loaded
        self.step = step
        self._checker = StreamChecker(loaded.compiled, direction, step)
        self._fed: list[str] = []
        self.decision: Decision | None = None

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return "".join(self._fed)

    def feed(self, chunk: str) -> StreamStep:
        """Add ``chunk``; forward ``step.text``; stop when ``step.stopped``."""
        self._fed.append(chunk)
        step = self._checker.feed(chunk)
        if step.stopped:
            self.decision = step.decision
        return step

    def finish(self) -> StreamStep:
        """Release what was held back; sets the stream's overall decision."""
        step = self._checker.finish()
        self.decision = step.decision
        return step


async def open_stream(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    direction: Direction = Direction.OUTPUT,
    pack_version_id: str | None = None,
) -> SafetyStream:
    """Start checking a stream with the tenant's active pack (or a named stored version)."""
    await require_tenant(session, principal, tenant_id, PERMISSION)
    loaded = await resolve(session, runtime, tenant_id=tenant_id, version_id=pack_version_id)
    return SafetyStream(loaded, Direction(direction))


async def close_stream(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    stream: SafetyStream,
    request_id: str | None,
    audit_allowed: bool = True,
) -> schemas.DecisionOut | None:
    """Audit a stopped or finished stream and queue its review item; finishes it if still open.

    With ``audit_allowed`` false an ``allow`` outcome is not audited and ``None`` is returned.
    """
    if stream.decision is None:
        stream.finish()
    assert stream.decision is not None
    if stream.decision.action is Action.ALLOW and not audit_allowed:
        return None
    return await _settle(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        loaded=stream.loaded,
        text=stream.text,
        decision=stream.decision,
        request_id=request_id,
        action="safety.check.stream",
        semantic=False,  # the semantic stage needs the whole text: run check() on the finished output
    )


def _replay(stream: SafetyStream, chunks: list[str]) -> list[schemas.StreamStepOut]:
    """Feed ``chunks`` until the stream stops, else finish it; one step per call."""
    steps: list[schemas.StreamStepOut] = []
    for chunk in chunks:
        step = stream.feed(chunk)
        steps.append(schemas.StreamStepOut(text=step.text, stopped=step.stopped))
        if step.stopped:
            return steps
    step = stream.finish()
    steps.append(schemas.StreamStepOut(text=step.text, stopped=step.stopped))
    return steps


async def check_stream(
    *,
    session: AsyncSession,
    runtime: SafetyRuntime,
    principal: Principal,
    tenant_id: str,
    stream_in: schemas.StreamCheckIn,
    request_id: str | None,
) -> schemas.StreamCheckOut:
    """Replay ``stream_in.chunks`` through a :class:`SafetyStream`, as the gateway would."""
    stream = await open_stream(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        direction=Direction(stream_in.direction),
        pack_version_id=stream_in.pack_version_id,
    )
    steps = await asyncio.to_thread(_replay, stream, stream_in.chunks)
    decision = await close_stream(
        session=session,
        runtime=runtime,
        principal=principal,
        tenant_id=tenant_id,
        stream=stream,
        request_id=request_id,
    )
    assert decision is not None  # audit_allowed: every outcome is settled
    return schemas.StreamCheckOut(
        steps=steps,
        forwarded="".join(step.text for step in steps),
        stopped=steps[-1].stopped,
        decision=decision,
    )
