"""Start-up: the platform default pack is stored once, activated once, and never silently replaced."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from services.kernel.audit import MemoryAuditSink
from services.kernel.db import Database
from services.kernel.errors import Conflict
from services.safety.app import DEMO_PACK, SafetySettings, create_app
from services.safety.runtime import SafetyRuntime
from services.safety.service import preload_default
from tests.conftest import PlatformDB, platform_settings
from tests.services.builders import ok, unique
from tests.services.safety.builders import PackDoc


async def _ensure_platform_default(platform_db: PlatformDB) -> None:
    """Activate the demonstration pack as platform default unless one is active (as start-up does).

    The database is shared by the session's tests: a pack preloaded below must never become
    the default that other tests run with.
    """
    database = Database(platform_db.url)
    try:
        async with database.sessionmaker() as session:
            await preload_default(
                session=session, runtime=SafetyRuntime(audit=MemoryAuditSink()), path=DEMO_PACK
            )
    finally:
        await database.dispose()


async def test_preloading_is_idempotent_and_refuses_changed_content_under_one_version(
    platform_db: PlatformDB, tmp_path: Path
) -> None:
    await _ensure_platform_default(platform_db)
    path = tmp_path / "default.yaml"
    doc = PackDoc(unique("default")).build()
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    database = Database(platform_db.url)
    runtime = SafetyRuntime(audit=MemoryAuditSink())
    try:
        async with database.sessionmaker() as session:
            first = await preload_default(session=session, runtime=runtime, path=path)
            again = await preload_default(session=session, runtime=runtime, path=path)
            assert again.id == first.id and again.source_format == "yaml"
            doc["categories"]["escalate"]["keywords"] = ["changed"]
            path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
            with pytest.raises(Conflict, match="already exists with other content"):
                await preload_default(session=session, runtime=runtime, path=path)
    finally:
        await database.dispose()


@pytest.mark.parametrize("platform_db", ["sqlite"], indirect=True)
async def test_the_service_runs_alone_and_keeps_the_active_platform_default(
    platform_db: PlatformDB, tmp_path: Path
) -> None:
    database = Database(platform_db.url)
    try:  # make sure some platform default is active before this start-up
        async with database.sessionmaker() as session:
            await preload_default(
                session=session, runtime=SafetyRuntime(audit=MemoryAuditSink()), path=DEMO_PACK
            )
    finally:
        await database.dispose()
    pack_id = unique("alone")
    path = tmp_path / "other.json"
    path.write_bytes(PackDoc(pack_id).json())
    app = create_app(platform_settings(platform_db), SafetySettings(default_pack=path))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {platform_db.admin_token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://s", headers=headers) as client:
            active = await ok(await client.get("/v1/safety/active-pack"))
            stored = await ok(await client.get("/v1/safety/packs", params={"pack_id": pack_id}))
    assert [(item["pack_id"], item["source_format"]) for item in stored["items"]] == [(pack_id, "json")]
    assert active["source"] == "global" and active["pack"]["pack_id"] != pack_id
    assert app.state.safety.semantic_enabled is False
