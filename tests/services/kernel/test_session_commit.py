"""A request's writes are committed before its response starts (read-your-writes for clients)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from sqlalchemy import event

from services.kernel.app import ServiceModule, create_service_app
from services.kernel.deps import SessionDep
from services.kernel.identity import Tenant
from services.kernel.migrations import upgrade_database
from services.kernel.settings import Settings


async def test_commit_happens_before_the_response_is_sent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'commit.db'}"
    await upgrade_database(url)
    order: list[str] = []
    router = APIRouter()

    @router.post("/v1/write")
    async def write(session: SessionDep) -> dict[str, str]:
        event.listen(session.sync_session, "after_commit", lambda _s: order.append("commit"))
        session.add(Tenant(name="commit-order"))
        return {"ok": "yes"}

    app = create_service_app(
        modules=[ServiceModule(name="t", title="t", routers=[router])],
        settings=Settings(database_url=url, data_dir=tmp_path, run_migrations=False, log_json=False),
    )
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/write",
        "raw_path": b"/v1/write",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"t")],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            order.append(f"response {message['status']}")

    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert order == ["commit", "response 200"]
