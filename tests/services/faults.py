"""Fault injection for probe tests: break one capability of a real app, leave the rest intact."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass(frozen=True)
class RewriteStatus:
    """Answer ``to_status`` where the real app answered ``from_status`` to ``method`` on ``path``."""

    method: str
    path: str
    from_status: int
    to_status: int


class FaultInjector:
    """ASGI wrapper applying :class:`RewriteStatus` rules to a real app's responses."""

    def __init__(self, app: ASGIApp, *rules: RewriteStatus) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        matching = [
            r for r in self.rules if r.method == scope["method"] and re.fullmatch(r.path, scope["path"])
        ]

        async def rewriting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                for rule in matching:
                    if message["status"] == rule.from_status:
                        message = {**message, "status": rule.to_status}
            await send(message)

        await self.app(scope, receive, rewriting_send)
