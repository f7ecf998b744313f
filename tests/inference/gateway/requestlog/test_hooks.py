"""The gateway's start-up hook runs the writer; shutdown stores what is still queued."""

from __future__ import annotations

from sqlalchemy import select

from inference.gateway.requestlog import (
    InferenceRequestLog,
    RequestLogSink,
    start_request_log,
    stop_request_log,
)
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.db import Database
from tests.conftest import PlatformDB, platform_settings
from tests.inference.gateway.requestlog.conftest import record
from tests.services.builders import unique


async def test_shutdown_stores_the_queue(platform_db: PlatformDB) -> None:
    module = ServiceModule(
        name="gw", title="gw", routers=[], on_startup=[start_request_log], on_shutdown=[stop_request_log]
    )
    app = create_service_app(modules=[module], settings=platform_settings(platform_db))
    tenant_id = unique("ten")
    async with app.router.lifespan_context(app):
        sink = app.state.inference_request_log
        assert isinstance(sink, RequestLogSink)
        for n in range(20):
            sink.submit(record(tenant_id, n, response_text="call 13812345678"))
    reader = Database(platform_db.url)
    async with reader.sessionmaker() as session:
        rows = (
            (
                await session.execute(
                    select(InferenceRequestLog).where(InferenceRequestLog.tenant_id == tenant_id)
                )
            )
            .scalars()
            .all()
        )
    await reader.dispose()
    assert len(rows) == 20
    assert {row.response_text for row in rows} == {"call 138****5678"}
