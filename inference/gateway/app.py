"""The inference gateway service: the OpenAI API at ``/v1`` plus its management routes.

Mounted by ``stic up`` with every other service (the content-safety runtime, KMS and model
services are then in the same process), or alone with ``stic serve gateway``. Start-up builds the
:class:`~inference.gateway.pipeline.GatewayRuntime`: a pooled upstream HTTP client, the routing
table (reloaded every second) and active health checks; the rate limiter (in memory, or Redis when
``STIC_REDIS_URL`` is set, shared by every gateway replica) and the request-log writer come from
their packages' hooks.
"""

from __future__ import annotations

import gc

import httpx
from fastapi import FastAPI

from inference.demo import seed_demo_model, stop_demo_model
from inference.gateway.fastpath import OpenAIFastPath
from inference.gateway.limits import router as limits_router
from inference.gateway.limits import start_limits, stop_limits
from inference.gateway.pipeline import GatewayRuntime
from inference.gateway.principals import PrincipalCache
from inference.gateway.requestlog import router as requestlog_router
from inference.gateway.requestlog import start_request_log, stop_request_log
from inference.gateway.router_openai import router as openai_router
from inference.gateway.routing import HealthChecker
from inference.gateway.safety import GatewaySafety
from inference.gateway.secure import SecureEnvelopeMiddleware, install_secure_gateway
from inference.gateway.secure import router as secure_router
from inference.gateway.settings import GatewaySettings
from inference.gateway.splits.router import router as routes_router
from inference.gateway.table import RoutingTable
from inference.gateway.upstream import UpstreamPool
from inference.modelservice.secrets import KmsSecretOpener
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.settings import Settings


def _safety(app: FastAPI, settings: GatewaySettings) -> GatewaySafety | None:
    """The safety stage, when enabled and the content-safety service runs in this app."""
    runtime = getattr(app.state, "safety", None)
    if not settings.safety or runtime is None:
        return None
    return GatewaySafety(
        runtime=runtime, sessions=app.state.database.sessionmaker, stream_step=settings.safety_stream_step
    )


def _native_pool(settings: GatewaySettings) -> UpstreamPool | None:
    if settings.upstream_client != "native":
        return None
    return UpstreamPool(
        connect_timeout_s=settings.upstream_connect_timeout_seconds,
        read_timeout_s=settings.upstream_read_timeout_seconds,
        max_connections=settings.max_connections,
    )


async def start_gateway(app: FastAPI) -> None:
    """Build the gateway runtime and start its background loops."""
    settings: GatewaySettings = getattr(app.state, "gateway_settings", None) or GatewaySettings()
    database = app.state.database
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=settings.upstream_connect_timeout_seconds,
            read=settings.upstream_read_timeout_seconds,
            write=30.0,
            pool=30.0,
        ),
        limits=httpx.Limits(max_connections=settings.max_connections, max_keepalive_connections=256),
    )
    health = HealthChecker(interval_s=settings.health_interval_seconds, http=http)
    modelservice = getattr(app.state, "modelservice", None)
    kms = getattr(app.state, "kms", None)
    secrets = getattr(modelservice, "secrets", None) or (KmsSecretOpener(kms) if kms is not None else None)
    table = RoutingTable(
        database=database,
        policy=settings.routing_policy,
        refresh_s=settings.refresh_seconds,
        health=health,
        secrets=secrets,
    )
    runtime = GatewayRuntime(
        database=database,
        table=table,
        principals=PrincipalCache(
            database=database, secret=app.state.settings.secret_key, ttl_s=settings.principal_cache_seconds
        ),
        http=http,
        limits=app.state.inference_limits_cache,
        limiter=app.state.inference_limiter,
        logs=app.state.inference_request_log,
        safety=_safety(app, settings),
        max_attempts=settings.max_attempts,
        upstream=_native_pool(settings),
    )
    app.state.gateway = runtime
    app.state.gateway_health = health
    await table.start()
    await health.start()


async def freeze_startup_heap(app: FastAPI) -> None:
    """Move every object allocated so far to the garbage collector's permanent generation.

    Routes, ORM mappers, pydantic schemas and the safety packs live as long as the process; a full
    collection walking them stalled the event loop for 50-250 ms under load (P99 latency). After
    the freeze, collections only walk objects allocated while serving.
    """
    gc.collect()
    gc.freeze()


async def stop_gateway(app: FastAPI) -> None:
    """Stop the loops, flush the request logs, close the upstream pool."""
    runtime: GatewayRuntime | None = getattr(app.state, "gateway", None)
    if runtime is None:
        return
    await runtime.table.stop()
    await app.state.gateway_health.stop()
    await runtime.http.aclose()
    if runtime.upstream is not None:
        await runtime.upstream.aclose()


module = ServiceModule(
    name="gateway",
    title="Inference gateway",
    description="OpenAI-compatible API: routing, failover, limits, SM2/SM4 encryption, safety, splits, logs",
    priority_routers=[openai_router],
    routers=[secure_router, routes_router, limits_router, requestlog_router],
    on_startup=[
        install_secure_gateway,
        start_limits,
        start_request_log,
        start_gateway,
        seed_demo_model,
        freeze_startup_heap,
    ],
    on_shutdown=[stop_demo_model, stop_gateway, stop_request_log, stop_limits],
    # listed first = innermost: the fast path runs inside the envelope middleware
    middleware=[(OpenAIFastPath, {}), (SecureEnvelopeMiddleware, {})],
)


def create_app(settings: Settings, gateway_settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway alone (with the kernel); safety checks need the safety service in the same app."""
    app = create_service_app(modules=[module], settings=settings)
    if gateway_settings is not None:
        app.state.gateway_settings = gateway_settings
    return app
