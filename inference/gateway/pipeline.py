"""The serving pipeline of one OpenAI request.

authenticate → validate → resolve the model (route → variant → service) → rate limits →
content safety on the prompt → forward with failover (streaming relayed event by event, with the
output guard) → account usage → request log. Every failure is an :class:`OpenAIError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from inference.engines.errors import EngineUnavailableError, UpstreamResponse
from inference.gateway.chains import run_chain
from inference.gateway.errors import OpenAIError, from_platform_error, invalid, model_not_found
from inference.gateway.fastpath import EventStreamResponse
from inference.gateway.forwarding import OpenedStream, forward, open_stream
from inference.gateway.limits import Lease, LimitsCache, RateLimiter, RateLimitExceeded
from inference.gateway.metrics import LATENCY, REQUESTS, TOKENS, TTFT
from inference.gateway.principals import PrincipalCache
from inference.gateway.relay import StreamRelay
from inference.gateway.requestlog import RequestLogSink, RequestRecord
from inference.gateway.requests import Operation, ParsedRequest, estimate_tokens, parse_body
from inference.gateway.routing import RequestKey
from inference.gateway.safety import GatewaySafety, SafetyOutputGuard
from inference.gateway.splits.selection import choose_variant
from inference.gateway.table import RouteEntry, RoutingTable, ServiceEntry
from inference.gateway.upstream import UpstreamPool
from services.kernel.auth import Principal
from services.kernel.db import Database
from services.kernel.errors import STICError
from services.kernel.metrics import labelled

DEFAULT_OUTPUT_ESTIMATE = 256


@dataclass
class GatewayRuntime:
    """Process-wide gateway state (``app.state.gateway``)."""

    database: Database
    table: RoutingTable
    principals: PrincipalCache
    http: httpx.AsyncClient
    limits: LimitsCache | None = None
    limiter: RateLimiter | None = None
    logs: RequestLogSink | None = None
    safety: GatewaySafety | None = None
    max_attempts: int = 3
    upstream: UpstreamPool | None = None  # the native client's pool; None: every upstream via httpx
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def later(self, work: Any) -> None:
        """Run ``work`` (a coroutine) after the response, keeping a reference until it ends."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


@dataclass
class Target:
    """Where one request goes: a service (possibly a split's variant) or a chain."""

    entry: ServiceEntry | None
    route: RouteEntry | None = None
    variant: str | None = None


@dataclass
class Exchange:
    """Everything known about one request while it is served; becomes its :class:`RequestRecord`."""

    operation: Operation
    request_id: str | None
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    parsed: ParsedRequest | None = None
    target: Target | None = None
    replica_id: str | None = None
    status_code: int = 200
    error_type: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float | None = None
    response_text: str | None = None
    lease: Lease | None = None

    @property
    def model(self) -> str:
        return self.parsed.model if self.parsed is not None else ""


def _runtime(request: Request) -> GatewayRuntime:
    runtime: GatewayRuntime = request.app.state.gateway
    return runtime


def header_map(request: Request) -> dict[str, str]:
    """The request's headers by lower-case name; of a repeated header the first counts (as in Starlette)."""
    return {
        name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(request.scope["headers"])
    }


async def authenticate(
    request: Request, runtime: GatewayRuntime, headers: Mapping[str, str] | None = None
) -> Principal:
    """The caller, allowed to use inference somewhere in its tenant; OpenAI-shaped 401/403 otherwise.

    Keys bound on one project pass here; :func:`resolve_target` then checks the model's project.
    ``headers``: the request's :func:`header_map` when the caller already built it.
    """
    if headers is None:
        headers = header_map(request)
    try:
        principal = await runtime.principals.resolve(
            authorization=headers.get("authorization"), api_key=headers.get("x-api-key")
        )
    except STICError as exc:
        raise from_platform_error(exc) from None
    request.state.principal = principal  # the access log and the audit hook name the caller
    if not (
        principal.can("inference:use", tenant_id=principal.tenant_id)
        or principal.project_ids_with("inference:use")
    ):
        raise OpenAIError(
            403, "This API key may not use inference (permission 'inference:use').", code="forbidden"
        )
    return principal


def may_use(principal: Principal, entry: ServiceEntry) -> bool:
    """Whether ``principal`` holds ``inference:use`` on the project of ``entry`` (tenant-wide or there)."""
    target = entry.target
    return principal.can("inference:use", tenant_id=target.tenant_id, project_id=target.project_id)


def _require_use(principal: Principal, entry: ServiceEntry, model: str) -> None:
    if not may_use(principal, entry):
        raise OpenAIError(
            403,
            f"This API key may not use '{model}': "
            f"it needs 'inference:use' on project {entry.target.project_id}.",
            code="forbidden",
        )


def resolve_target(
    runtime: GatewayRuntime, principal: Principal, parsed: ParsedRequest, headers: dict[str, str]
) -> Target:
    """Route (split → variant, or chain) or service named ``parsed.model`` in the caller's tenant."""
    tenant = principal.tenant_id
    route = runtime.table.route(tenant, parsed.model)
    if route is not None and route.split is not None:
        variant = choose_variant(
            route.split, route_id=route.id, user=parsed.user, caller=principal.key_id, headers=headers
        )
        entry = runtime.table.service(tenant, variant.service)
        if entry is None:
            raise OpenAIError(
                503,
                f"Route '{route.name}' sends this request to '{variant.service}', which is not serving.",
                code="variant_unavailable",
            )
        _require_use(principal, entry, parsed.model)
        return Target(entry=entry, route=route, variant=variant.name)
    if route is not None:
        if parsed.operation is not Operation.CHAT:
            raise invalid(f"'{route.name}' is a model chain: use /v1/chat/completions.", param="model")
        assert route.chain is not None
        for step in route.chain.steps:
            step_entry = runtime.table.service(tenant, step.service)
            if step_entry is not None:
                _require_use(principal, step_entry, parsed.model)
        return Target(entry=None, route=route)
    entry = runtime.table.service(tenant, parsed.model)
    if entry is None:
        raise model_not_found(parsed.model)
    _require_use(principal, entry, parsed.model)
    return Target(entry=entry)


async def _acquire(runtime: GatewayRuntime, exchange: Exchange) -> None:
    if runtime.limiter is None or runtime.limits is None:
        return
    assert exchange.principal is not None and exchange.parsed is not None
    limits = await runtime.limits.get(
        tenant_id=exchange.principal.tenant_id, key_id=exchange.principal.key_id
    )
    estimate = estimate_tokens(exchange.parsed.text) + (
        exchange.parsed.max_output_tokens or DEFAULT_OUTPUT_ESTIMATE
    )
    try:
        exchange.lease = await runtime.limiter.acquire(
            key_id=exchange.principal.key_id, limits=limits, estimated_tokens=estimate
        )
    except RateLimitExceeded as exc:
        raise OpenAIError(
            429,
            exc.message,
            code=f"rate_limit_{exc.limit}",
            headers={"Retry-After": str(max(1, round(exc.retry_after_s + 0.499)))},
        ) from None


def _request_key(parsed: ParsedRequest, headers: dict[str, str]) -> RequestKey:
    return RequestKey(session=headers.get("x-session-id"), user=parsed.user, prefix=parsed.text[:2048])


def _forward_headers(exchange: Exchange) -> dict[str, str]:
    return {"X-Request-ID": exchange.request_id} if exchange.request_id else {}


def _response_text(body: dict[str, Any]) -> str:
    parts = []
    for choice in body.get("choices") or []:
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            parts.append(message["content"])
        elif isinstance(choice.get("text"), str):
            parts.append(choice["text"])
    return "".join(parts)


def _account_usage(exchange: Exchange, body: dict[str, Any]) -> None:
    usage = body.get("usage")
    if isinstance(usage, dict):
        exchange.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        exchange.completion_tokens += int(usage.get("completion_tokens") or 0)


async def _guard_output(runtime: GatewayRuntime, exchange: Exchange, body: dict[str, Any]) -> dict[str, Any]:
    """Check a complete answer; refuse → the pack's message with finish_reason content_filter."""
    text = _response_text(body)
    if runtime.safety is None or not text:
        return body
    assert exchange.principal is not None
    decision = await runtime.safety.check_output(exchange.principal, text, exchange.request_id)
    if decision.action == "allow":
        return body
    replacement = decision.masked_text if decision.action == "mask" else decision.message
    choices = []
    for index, choice in enumerate(body.get("choices") or []):
        choice = dict(choice)
        new_text = (replacement or "") if index == 0 else ""
        if isinstance(choice.get("message"), dict):
            choice["message"] = {**choice["message"], "content": new_text}
        else:
            choice["text"] = new_text
        if decision.action != "mask":
            choice["finish_reason"] = "content_filter"
        choices.append(choice)
    return {**body, "choices": choices}


def _record(exchange: Exchange) -> RequestRecord | None:
    if exchange.principal is None or exchange.parsed is None:
        return None
    target = exchange.target
    entry = target.entry if target is not None else None
    return RequestRecord(
        request_id=exchange.request_id or "",
        tenant_id=exchange.principal.tenant_id,
        project_id=entry.target.project_id if entry is not None else None,
        principal_id=exchange.principal.id,
        key_id=exchange.principal.key_id,
        model=exchange.parsed.model,
        service_id=entry.target.service_id if entry is not None else None,
        route_id=target.route.id if target is not None and target.route is not None else None,
        variant=target.variant if target is not None else None,
        replica_id=exchange.replica_id,
        operation=exchange.operation.value,
        stream=exchange.parsed.stream,
        status_code=exchange.status_code,
        error_type=exchange.error_type,
        latency_ms=(time.perf_counter() - exchange.started) * 1000,
        ttft_ms=exchange.ttft_s * 1000 if exchange.ttft_s is not None else None,
        prompt_tokens=exchange.prompt_tokens,
        completion_tokens=exchange.completion_tokens,
        request_body=exchange.parsed.body,
        response_text=exchange.response_text,
        created_at=datetime.now(UTC),
    )


async def finish(runtime: GatewayRuntime, exchange: Exchange) -> None:
    """Release the rate-limit lease, count metrics and submit the request log (never raises)."""
    if exchange.lease is not None:
        await exchange.lease.release(used_tokens=exchange.prompt_tokens + exchange.completion_tokens)
    model = exchange.model or "-"
    operation = exchange.operation.value
    labelled(REQUESTS, model, operation, str(exchange.status_code)).inc()
    labelled(LATENCY, model, operation).observe(time.perf_counter() - exchange.started)
    if exchange.ttft_s is not None:
        labelled(TTFT, model).observe(exchange.ttft_s)
    if exchange.prompt_tokens:
        labelled(TOKENS, model, "prompt").inc(exchange.prompt_tokens)
    if exchange.completion_tokens:
        labelled(TOKENS, model, "completion").inc(exchange.completion_tokens)
    record = _record(exchange)
    if runtime.logs is not None and record is not None:
        runtime.logs.submit(record)


async def serve(request: Request, operation: Operation) -> Response:
    """Serve one OpenAI request end to end (see the module docstring)."""
    runtime = _runtime(request)
    exchange = Exchange(operation=operation, request_id=getattr(request.state, "request_id", None))
    streaming = False
    try:
        headers = header_map(request)
        exchange.principal = await authenticate(request, runtime, headers)
        exchange.parsed = parse_body(operation, await request.body())
        exchange.target = resolve_target(runtime, exchange.principal, exchange.parsed, headers)
        await _acquire(runtime, exchange)
        body = exchange.parsed.body
        if runtime.safety is not None:
            body = await runtime.safety.check_input(exchange.principal, exchange.parsed, exchange.request_id)
        key = _request_key(exchange.parsed, headers)
        if exchange.target.entry is None:
            response = await _serve_chain(request, runtime, exchange, body, key)
        elif exchange.parsed.stream:
            response = await _serve_stream(request, runtime, exchange, body, key)
            streaming = isinstance(response, EventStreamResponse)
        else:
            response = await _serve_once(request, runtime, exchange, body, key)
        return response
    except OpenAIError as exc:
        exchange.status_code = exc.status_code
        exchange.error_type = exc.code or exc.type
        return exc.response()
    finally:
        if not streaming:
            await finish(runtime, exchange)


def _upstream_error(exchange: Exchange, upstream: UpstreamResponse) -> JSONResponse:
    exchange.status_code = upstream.status_code
    error = upstream.body.get("error") if isinstance(upstream.body, dict) else None
    exchange.error_type = (
        str(error.get("type") or error.get("code")) if isinstance(error, dict) else "upstream"
    )
    return JSONResponse(upstream.body, status_code=upstream.status_code)


async def _serve_once(
    request: Request, runtime: GatewayRuntime, exchange: Exchange, body: dict[str, Any], key: RequestKey
) -> Response:
    assert exchange.target is not None and exchange.target.entry is not None and exchange.parsed is not None
    forwarded = await forward(
        entry=exchange.target.entry,
        operation=exchange.operation,
        body=body,
        key=key,
        http=runtime.http,
        headers=_forward_headers(exchange),
        max_attempts=runtime.max_attempts,
        pool=runtime.upstream,
    )
    exchange.replica_id = forwarded.replica_id
    upstream = forwarded.response
    if not upstream.ok:
        return _upstream_error(exchange, upstream)
    answer = dict(upstream.body)
    answer["model"] = exchange.parsed.model
    _account_usage(exchange, answer)
    if exchange.operation is not Operation.EMBEDDINGS:
        answer = await _guard_output(runtime, exchange, answer)
        exchange.response_text = _response_text(answer)
    return JSONResponse(answer)


async def _serve_stream(
    request: Request, runtime: GatewayRuntime, exchange: Exchange, body: dict[str, Any], key: RequestKey
) -> Response:
    assert exchange.target is not None and exchange.target.entry is not None and exchange.parsed is not None
    upstream_body = dict(body)
    if not exchange.parsed.wants_usage:
        upstream_body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    opened = await open_stream(
        entry=exchange.target.entry,
        operation=exchange.operation,
        body=upstream_body,
        key=key,
        http=runtime.http,
        headers=_forward_headers(exchange),
        max_attempts=runtime.max_attempts,
        pool=runtime.upstream,
    )
    if isinstance(opened, UpstreamResponse):
        return _upstream_error(exchange, opened)
    exchange.replica_id = opened.replica_id
    guard = None
    if runtime.safety is not None:
        assert exchange.principal is not None
        guard = await runtime.safety.output_guard(exchange.principal)
    relay = StreamRelay(drop_usage_event=not exchange.parsed.wants_usage, guard=guard)
    return EventStreamResponse(
        _stream_body(runtime, exchange, opened, relay, guard),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream_body(
    runtime: GatewayRuntime,
    exchange: Exchange,
    opened: OpenedStream,
    relay: StreamRelay,
    guard: SafetyOutputGuard | None,
) -> AsyncIterator[bytes]:
    broken = False
    try:
        async for frames in relay.relay_batches(opened.all_chunks()):
            yield frames[0] if len(frames) == 1 else b"".join(frames)
    except EngineUnavailableError as exc:  # broke after the first byte: the client sees it end early
        broken = True
        exchange.status_code = 502
        exchange.error_type = f"stream_broken: {exc}"[:200]
    finally:
        close = getattr(opened.chunks, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
        if opened.held is not None:
            if broken:
                opened.held.finish(ok=False)
            elif relay.outcome.stopped_by_guard or exchange.status_code < 400:
                opened.held.finish(ok=True)
            else:
                opened.held.release()
        outcome = relay.outcome
        exchange.prompt_tokens = outcome.prompt_tokens
        exchange.completion_tokens = outcome.completion_tokens
        if outcome.first_content_at is not None:
            exchange.ttft_s = outcome.first_content_at - exchange.started
        exchange.response_text = outcome.text
        runtime.later(_after_stream(runtime, exchange, guard))


async def _after_stream(runtime: GatewayRuntime, exchange: Exchange, guard: SafetyOutputGuard | None) -> None:
    if guard is not None and runtime.safety is not None and exchange.principal is not None:
        await runtime.safety.close_guard(exchange.principal, guard, exchange.request_id)
    await finish(runtime, exchange)


async def _serve_chain(
    request: Request, runtime: GatewayRuntime, exchange: Exchange, body: dict[str, Any], key: RequestKey
) -> Response:
    assert exchange.target is not None and exchange.target.route is not None and exchange.parsed is not None
    if exchange.parsed.stream:
        raise invalid("Model chains answer without streaming; send 'stream': false.", param="stream")
    answer = await run_chain(
        route=exchange.target.route,
        table=runtime.table,
        tenant_id=exchange.principal.tenant_id if exchange.principal else "",
        body=body,
        key=key,
        http=runtime.http,
        headers=_forward_headers(exchange),
        max_attempts=runtime.max_attempts,
        pool=runtime.upstream,
    )
    exchange.prompt_tokens, exchange.completion_tokens = answer.prompt_tokens, answer.completion_tokens
    exchange.replica_id = answer.last_replica_id
    result = await _guard_output(runtime, exchange, {**answer.body, "model": exchange.parsed.model})
    exchange.response_text = _response_text(result)
    return JSONResponse(result)
