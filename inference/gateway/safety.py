"""Content-safety stage of the gateway: prompts before forwarding, outputs while streaming.

Uses the content-safety service in-process (``app.state.safety``, a
:class:`~services.safety.runtime.SafetyRuntime`) with the caller's tenant pack: the same engine,
review queue and audit records as ``/v1/tenants/{id}/safety/check``. A refused or reviewed prompt
is answered 400 ``content_filter`` in the OpenAI shape and never reaches an engine; a masked
prompt is forwarded masked; a streamed output is checked with a sliding window and stopped with
``finish_reason: "content_filter"``.

Hot path: the tenant's effective pack is resolved once per ``ttl_s`` (an activation reaches every
gateway within that time), a database session is opened only when a decision needs one, and an
``allow`` decision is not audited on its own — the request is, by the audit hook and the request
log; every mask, refusal and review is audited with the SM3 of the text.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from inference.gateway.errors import OpenAIError
from inference.gateway.requests import Operation, ParsedRequest
from inference.gateway.singleflight import SingleFlight
from security.safety import engine
from security.safety.rules import Action, Direction
from services.kernel.auth import Principal
from services.safety import checks
from services.safety.runtime import LoadedPack, SafetyRuntime
from services.safety.schemas import MAX_CHECK_CHARS
from services.safety.service import resolve

SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

_SEVERITY = {Action.ALLOW.value: 0, Action.MASK.value: 1, Action.REVIEW.value: 2, Action.REFUSE.value: 3}
_WINDOW_OVERLAP = 512  # a term split at a window edge is still seen whole by the next window


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the gateway acts on: the decision's action, the masked text (mask) and message (refuse/review)."""

    action: str
    masked_text: str | None = None
    message: str | None = None


_ALLOW = Verdict(Action.ALLOW.value)


class GatewaySafety:
    """The safety stage bound to one app: runtime, session factory and a per-tenant pack cache.

    ``stream_step``: characters a streamed output gathers between two checks (see
    :class:`~security.safety.engine.StreamChecker`; the gateway's ``safety_stream_step`` setting).
    """

    def __init__(
        self,
        *,
        runtime: SafetyRuntime,
        sessions: SessionFactory,
        ttl_s: float = 2.0,
        stream_step: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.sessions = sessions
        self.stream_step = stream_step
        self._ttl_s = ttl_s
        self._clock = clock
        self._packs: dict[str, tuple[float, LoadedPack]] = {}
        self._lookups: SingleFlight[str, LoadedPack] = SingleFlight()  # one resolution per tenant at once

    async def pack(self, tenant_id: str) -> LoadedPack:
        """The tenant's effective pack (its own active one, else the platform's), cached ``ttl_s``."""
        now = self._clock()
        cached = self._packs.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        loaded = await self._lookups.run(tenant_id, lambda: self._resolve(tenant_id))
        self._packs[tenant_id] = (now + self._ttl_s, loaded)
        return loaded

    async def _resolve(self, tenant_id: str) -> LoadedPack:
        async with self.sessions() as session:
            return await resolve(session, self.runtime, tenant_id=tenant_id, version_id=None)

    async def _check_one(
        self,
        principal: Principal,
        loaded: LoadedPack,
        text: str,
        request_id: str | None,
        direction: Direction,
    ) -> Verdict:
        # the common case: an allow needs no audit and no response form (SM3, pydantic), so the
        # engine's decision is enough; any other decision goes through the service (audit, review)
        if (
            loaded.semantic is None
            and len(text) <= checks.INLINE_CHARS
            and engine.check(text, pack=loaded.compiled, direction=direction).action is Action.ALLOW
        ):
            return _ALLOW
        out = await checks.check_with_pack(
            session_factory=self.sessions,
            runtime=self.runtime,
            principal=principal,
            tenant_id=principal.tenant_id,
            loaded=loaded,
            text=text,
            direction=direction,
            request_id=request_id,
            audit_allowed=False,
        )
        return Verdict(out.action, out.masked_text, out.message)

    async def check_text(
        self, principal: Principal, text: str, request_id: str | None, direction: Direction
    ) -> Verdict:
        """One decision for ``text``; a text over the check limit is checked in overlapping windows.

        For a long text the strictest window decides; its ``masked_text`` is the windows' masked
        texts joined (masking uses non-overlapping windows so the text is rebuilt exactly).
        """
        loaded = await self.pack(principal.tenant_id)
        if len(text) <= MAX_CHECK_CHARS:
            return await self._check_one(principal, loaded, text, request_id, direction)
        step = MAX_CHECK_CHARS - _WINDOW_OVERLAP
        worst: Verdict | None = None
        for start in range(0, len(text), step):
            piece = text[start : start + MAX_CHECK_CHARS]
            decision = await self._check_one(principal, loaded, piece, request_id, direction)
            if worst is None or _SEVERITY.get(decision.action, 0) > _SEVERITY.get(worst.action, 0):
                worst = decision
        assert worst is not None
        if worst.action != Action.MASK.value:
            return worst
        parts = []
        for start in range(0, len(text), MAX_CHECK_CHARS):
            piece = text[start : start + MAX_CHECK_CHARS]
            decision = await self._check_one(principal, loaded, piece, request_id, direction)
            parts.append(decision.masked_text if decision.masked_text is not None else piece)
        return dataclasses.replace(worst, masked_text="".join(parts))

    async def check_input(
        self, principal: Principal, request: ParsedRequest, request_id: str | None
    ) -> dict[str, Any]:
        """The body to forward; raises 400 ``content_filter`` on refuse/review, masks message by message."""
        decision = await self.check_text(principal, request.text, request_id, Direction.INPUT)
        if decision.action in (Action.REFUSE.value, Action.REVIEW.value):
            refusal = decision.message or "The prompt was refused by the content-safety policy."
            raise OpenAIError(400, refusal, code="content_filter", param="messages")
        if decision.action != Action.MASK.value:
            return request.body
        body = dict(request.body)
        if request.operation is Operation.CHAT:
            messages = []
            for message in body["messages"]:
                content = message.get("content")
                if isinstance(content, str) and content:
                    verdict = await self.check_text(principal, content, request_id, Direction.INPUT)
                    if verdict.masked_text is not None:
                        message = {**message, "content": verdict.masked_text}
                messages.append(message)
            body["messages"] = messages
            return body
        key = "prompt" if request.operation is Operation.COMPLETIONS else "input"
        value = body[key]
        texts = [value] if isinstance(value, str) else list(value)
        masked = []
        for text in texts:
            verdict = await self.check_text(principal, text, request_id, Direction.INPUT)
            masked.append(verdict.masked_text if verdict.masked_text is not None else text)
        body[key] = masked[0] if isinstance(value, str) else masked
        return body

    async def check_output(self, principal: Principal, text: str, request_id: str | None) -> Verdict:
        """Check a complete (non-streamed) output."""
        return await self.check_text(principal, text, request_id, Direction.OUTPUT)

    async def output_guard(self, principal: Principal) -> SafetyOutputGuard:
        """A guard for one streamed response, with the tenant's pack."""
        loaded = await self.pack(principal.tenant_id)
        return SafetyOutputGuard(first=checks.SafetyStream(loaded, Direction.OUTPUT, self.stream_step))

    async def close_guard(
        self, principal: Principal, guard: SafetyOutputGuard, request_id: str | None
    ) -> None:
        """Audit each choice's non-allow outcome (and queue a review item for a stream stopped for review)."""
        for stream in guard.streams.values() or [guard.first]:
            if stream.decision is None:
                stream.finish()
            assert stream.decision is not None
            if stream.decision.action is Action.ALLOW:
                continue
            async with self.sessions() as session:
                await checks.close_stream(
                    session=session,
                    runtime=self.runtime,
                    principal=principal,
                    tenant_id=principal.tenant_id,
                    stream=stream,
                    request_id=request_id,
                )
                await session.commit()


@dataclass
class SafetyOutputGuard:
    """An :class:`~inference.gateway.relay.OutputGuard` over the tenant pack, one checker per choice."""

    first: checks.SafetyStream
    streams: dict[int, checks.SafetyStream] = field(default_factory=dict)
    stopped: checks.SafetyStream | None = None

    def _stream(self, index: int) -> checks.SafetyStream:
        if index not in self.streams:
            self.streams[index] = (
                self.first
                if not self.streams
                else checks.SafetyStream(self.first.loaded, Direction.OUTPUT, self.first.step)
            )
        return self.streams[index]

    def feed(self, index: int, text: str) -> tuple[str, bool]:
        """Forwardable text of choice ``index`` and whether the stream must stop."""
        stream = self._stream(index)
        step = stream.feed(text)
        if step.stopped:
            self.stopped = stream
        return step.text, step.stopped

    def finish(self, index: int) -> tuple[str, bool]:
        """Held-back text of choice ``index`` at its end, and whether the whole output is refused."""
        stream = self._stream(index)
        step = stream.finish()
        if step.stopped:
            self.stopped = stream
        return step.text, step.stopped

    def stop_message(self) -> str:
        """The refusal template of the decision that stopped the stream."""
        decision = self.stopped.decision if self.stopped is not None else None
        return (decision.message if decision is not None else None) or "[content removed by safety policy]"
