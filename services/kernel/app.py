"""App factory shared by every service: one service alone, or many composed in one process.

A service describes itself as a :class:`ServiceModule` (name, routers, start-up hooks).
``create_service_app(modules=[...])`` builds a FastAPI app with the kernel's pieces — settings,
database, error handlers, request ids, metrics, audit hook, ``/healthz``, ``/readyz``,
``/metrics`` and the index page — and mounts the modules' routers. ``stic serve iam`` passes
one module; ``stic up`` passes all of them, so both run the very same code.
"""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from services.kernel.audit import AuditHub, DatabaseAuditSink
from services.kernel.bootstrap import ensure_bootstrap_admin
from services.kernel.db import Database
from services.kernel.errors import install_error_handlers
from services.kernel.metrics import metrics_endpoint
from services.kernel.middleware import PlatformMiddleware
from services.kernel.migrations import upgrade_database
from services.kernel.settings import Settings
from services.kernel.version import VERSION

log = logging.getLogger("stic.app")

Hook = Callable[[FastAPI], Awaitable[None]]


@dataclass(frozen=True)
class ServiceModule:
    """What a service contributes to an app.

    ``on_startup`` hooks run after the database is migrated and the bootstrap admin exists;
    ``on_shutdown`` hooks run in reverse order before the database is closed.
    """

    name: str
    title: str
    routers: Sequence[APIRouter]
    description: str = ""
    on_startup: Sequence[Hook] = field(default_factory=tuple)
    on_shutdown: Sequence[Hook] = field(default_factory=tuple)
    # ASGI middleware the service needs around the whole app (e.g. the gateway's body encryption):
    # (middleware class, keyword arguments); added inside the kernel's PlatformMiddleware.
    middleware: Sequence[tuple[Any, dict[str, Any]]] = field(default_factory=tuple)
    # Hot-path routers matched before every module's ``routers`` (routes are tried in order).
    priority_routers: Sequence[APIRouter] = field(default_factory=tuple)
    # (method, path regex) whose request bodies may reach ``Settings.max_upload_bytes`` instead of
    # ``max_body_bytes`` (file uploads and the like).
    upload_routes: Sequence[tuple[str, str]] = field(default_factory=tuple)


def _lifespan(modules: Sequence[ServiceModule]) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings: Settings = app.state.settings
        database: Database = app.state.database
        if settings.run_migrations:
            await upgrade_database(database.url)
        app.state.bootstrap = await ensure_bootstrap_admin(database=database, settings=settings)
        for module in modules:
            for hook in module.on_startup:
                await hook(app)
        try:
            yield
        finally:
            for module in reversed(modules):
                for hook in reversed(module.on_shutdown):
                    try:
                        await hook(app)
                    except Exception:
                        log.exception("shutdown hook failed", extra={"service": module.name})
            await database.dispose()

    return lifespan


def _index_page(modules: Sequence[ServiceModule], title: str) -> str:
    rows = "".join(
        f"<li><strong>{html.escape(m.title)}</strong> <code>{html.escape(m.name)}</code>"
        f" — {html.escape(m.description)}</li>"
        for m in modules
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;line-height:1.5}"
        "code{background:#eef;padding:0 .3em}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        "<p>STIC — Secure &amp; Trustworthy Intelligent Cloud control plane (安全可信智能云平台).</p>"
        f"<h2>Running services</h2><ul>{rows}</ul>"
        "<h2>Links</h2><ul><li><a href='/docs'>API documentation (Swagger UI)</a></li>"
        "<li><a href='/redoc'>API reference (ReDoc)</a></li>"
        "<li><a href='/openapi.json'>OpenAPI schema</a></li>"
        "<li><a href='/metrics'>Prometheus metrics</a></li><li><a href='/healthz'>Liveness</a>"
        " · <a href='/readyz'>Readiness</a></li></ul></body></html>"
    )


def _install_kernel_routes(app: FastAPI, modules: Sequence[ServiceModule], title: str) -> None:
    page = _index_page(modules, title)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process is serving")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: the database is reachable")
    async def readyz(request: Request) -> JSONResponse:
        try:
            await request.app.state.database.ping()
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)


def create_service_app(
    *, modules: Sequence[ServiceModule], settings: Settings, title: str | None = None
) -> FastAPI:
    """Build the FastAPI app serving ``modules`` with the kernel's cross-cutting pieces."""
    if not modules:
        raise ValueError("at least one service module is required")
    names = [m.name for m in modules]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate service modules: {names}")
    title = title or ("STIC all-in-one" if len(modules) > 1 else f"STIC {modules[0].title}")
    telemetry = settings.opentelemetry
    app = FastAPI(
        title=title,
        version=VERSION,
        lifespan=_lifespan(modules),
        telemetry={"tracing": telemetry, "metrics": telemetry, "logs": telemetry},
    )
    app.state.settings = settings
    app.state.database = Database(settings.database_url)
    app.state.audit = AuditHub(DatabaseAuditSink(app.state.database))
    app.state.modules = tuple(modules)
    install_error_handlers(app)
    _install_kernel_routes(app, modules, title)
    for module in modules:
        for router in module.priority_routers:
            app.include_router(router)
    for module in modules:
        for router in module.routers:
            app.include_router(router)
    for module in modules:
        for middleware_class, options in module.middleware:
            app.add_middleware(middleware_class, **options)
    service_label = modules[0].name if len(modules) == 1 else "allinone"
    app.add_middleware(
        PlatformMiddleware,
        service=service_label,
        max_body_bytes=settings.max_body_bytes,
        audit_sink=app.state.audit,
        upload_routes=[route for module in modules for route in module.upload_routes],
        max_upload_bytes=settings.max_upload_bytes,
    )
    return app
