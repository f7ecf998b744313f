"""Fault injection for probe tests: break one capability of a real app, leave the rest intact."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class RewriteStatus:
    """Answer ``to_status`` where the real app answered ``from_status`` to ``method`` on ``path``."""

    method: str
    path: str
    from_status: int
    to_status: int


@dataclass(frozen=True)
class RewriteJSON:
    """Pass the JSON body of responses to ``method`` on ``path`` through ``transform`` (responses of
    another content type, such as SSE streams, pass untouched)."""

    method: str
    path: str
    transform: Callable[[Any], Any]


Rule = RewriteStatus | RewriteJSON


class FaultInjector:
    """ASGI wrapper applying :class:`RewriteStatus` / :class:`RewriteJSON` rules to a real app."""

    def __init__(self, app: ASGIApp, *rules: Rule) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        matching = [
            r for r in self.rules if r.method == scope["method"] and re.fullmatch(r.path, scope["path"])
        ]
        body_rules = [r for r in matching if isinstance(r, RewriteJSON)]
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewriting_send(message: Message) -> None:
            nonlocal body_rules
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if b"json" not in content_type:  # streams and files pass untouched
                    body_rules = []
                for rule in matching:
                    if isinstance(rule, RewriteStatus) and message["status"] == rule.from_status:
                        message = {**message, "status": rule.to_status}
                if body_rules:
                    start.update(message)
                    return
            elif message["type"] == "http.response.body" and body_rules:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                document = json.loads(b"".join(chunks))
                if start.get("status") == 200:
                    for rule in body_rules:
                        document = rule.transform(document)
                payload = json.dumps(document).encode()
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(payload)).encode()))
                await send({**start, "headers": headers})
                message = {"type": "http.response.body", "body": payload}
            await send(message)

        await self.app(scope, receive, rewriting_send)
