"""The platform's ASGI middleware: request ids, body-size limit, metrics and the audit hook.

Pure ASGI (no ``BaseHTTPMiddleware``) so streaming responses pass through untouched. Route
templates, not raw paths, label metrics and audit actions so cardinality stays bounded.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kernel.audit import MUTATING_METHODS, AuditEvent, AuditSink
from services.kernel.errors import error_body
from services.kernel.logging import request_id_var
from services.kernel.metrics import HTTP_LATENCY, HTTP_REQUESTS, labelled
from services.kernel.randomids import random_hex128

REQUEST_ID_HEADER = b"x-request-id"
access_log = logging.getLogger("stic.access")


class _BodyTooLarge(Exception):
    pass


class _Exchange:
    """Mutable facts about one request/response exchange, shared by the wrappers."""

    __slots__ = ("limit", "request_id", "started", "status", "too_large")

    def __init__(self, request_id: str, limit: int) -> None:
        self.request_id = request_id
        self.limit = limit  # body bytes this request may send
        self.started = False
        self.status = 500
        self.too_large = False


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    return f"{scope.get('root_path', '')}{path}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class PlatformMiddleware:
    """Wraps one service app; ``service`` names it in metrics and audit events.

    A request body may be at most ``max_body_bytes``, except on ``upload_routes`` — ``(method,
    path regex)`` pairs matched against the whole path — where it may reach ``max_upload_bytes``
    (file uploads). Larger bodies get 413 naming the limit, whether declared or streamed.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        max_body_bytes: int,
        audit_sink: AuditSink | None,
        upload_routes: Sequence[tuple[str, str]] = (),
        max_upload_bytes: int | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max(max_upload_bytes or max_body_bytes, max_body_bytes)
        self.upload_routes = tuple((method.upper(), re.compile(path)) for method, path in upload_routes)
        self.audit_sink = audit_sink

    def _body_limit(self, scope: Scope) -> int:
        if self.upload_routes:
            method, path = scope.get("method", ""), scope.get("path", "")
            for route_method, pattern in self.upload_routes:
                if method == route_method and pattern.fullmatch(path):
                    return self.max_upload_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = (_header(scope, REQUEST_ID_HEADER) or random_hex128())[:64]
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        exchange = _Exchange(request_id, self._body_limit(scope))
        try:
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > exchange.limit:
                await self._reject_too_large(send, exchange, int(declared))
                return
            await self.app(scope, self._limited(receive, exchange), self._tagging(send, exchange))
        except _BodyTooLarge:
            if not exchange.started:
                await self._reject_too_large(send, exchange, None)
        finally:
            request_id_var.reset(token)
            await self._observe(scope, exchange.status, started, request_id)

    def _limited(self, receive: Receive, exchange: _Exchange) -> Receive:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > exchange.limit:
                    exchange.too_large = True
                    raise _BodyTooLarge
            return message

        return limited_receive

    def _tagging(self, send: Send, exchange: _Exchange) -> Send:
        async def tagging_send(message: Message) -> None:
            if exchange.too_large:
                # The framework turned our receive error into its own response: answer 413 instead.
                if not exchange.started:
                    await self._reject_too_large(send, exchange, None)
                return
            if message["type"] == "http.response.start":
                exchange.started = True
                exchange.status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, exchange.request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        return tagging_send

    async def _reject_too_large(self, send: Send, exchange: _Exchange, declared: int | None) -> None:
        exchange.started = True
        exchange.status = 413
        request_id = exchange.request_id
        body = error_body(
            "payload_too_large",
            f"request body exceeds the limit of {exchange.limit} bytes",
            {"limit_bytes": exchange.limit, "declared_bytes": declared},
            request_id,
        )
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _observe(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        method = scope["method"]
        route = _route_template(scope)
        elapsed = time.perf_counter() - started
        labelled(HTTP_REQUESTS, self.service, method, route, str(status)).inc()
        labelled(HTTP_LATENCY, self.service, method, route).observe(elapsed)
        state: dict[str, Any] = scope.get("state", {})
        principal = state.get("principal")
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "principal_id": getattr(principal, "id", None),
                    "request_id": request_id,
                },
            )
        if self.audit_sink is not None and method in MUTATING_METHODS:
            await self.audit_sink.record(
                AuditEvent(
                    action=f"{method} {route}",
                    resource=f"{scope.get('root_path', '')}{scope['path']}",
                    result=status,
                    principal_id=getattr(principal, "id", None),
                    tenant_id=getattr(principal, "tenant_id", None),
                    request_id=request_id,
                    service=self.service,
                )
            )
