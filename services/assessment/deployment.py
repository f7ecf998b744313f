"""Where the assessment connects: a URL, or the all-in-one app started in this process.

The in-process target builds ``services.allinone.create_app(settings)`` on a fresh SQLite database in
a temporary folder, runs its lifespan (migrations, bootstrap admin), and talks to it through
``httpx.ASGITransport`` — the same public HTTP API a remote deployment offers. It also serves the
app on a free loopback port named in its settings, so that processes it starts (batch workers)
can call back. With ``demo`` it is seeded as ``stic up --demo`` seeds it (simulated inventory, the
tiny model served as ``tiny-llama``), and the assessment waits until that service has a ready
replica: the inference probes take their model from it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx

IN_PROCESS_BASE_URL = "http://stic.in-process"
DEMO_READY_TIMEOUT_S = 300.0
DEMO_STOP_TIMEOUT_S = 30.0


def read_bootstrap_admin_key(app: Any, settings: Any) -> str:
    """THE hook for the in-process admin key, as ``services.kernel.bootstrap`` provides it.

    On the first start of an empty database, bootstrap issues the admin key, keeps it in
    ``app.state.bootstrap.admin_token`` and writes it to ``settings.bootstrap_key_file``; either works.
    """
    token = getattr(getattr(app.state, "bootstrap", None), "admin_token", None)
    if isinstance(token, str) and token:
        return token
    key_file = getattr(settings, "bootstrap_key_file", None)
    if key_file is not None and Path(key_file).is_file():
        return Path(key_file).read_text(encoding="utf-8").strip()
    raise RuntimeError("the in-process deployment did not expose its bootstrap admin key")


async def wait_for_demo_model(client: httpx.AsyncClient, admin_key: str, *, timeout_s: float) -> None:
    """Return once a model service of the admin's (platform) tenant has a ready replica.

    Raises :class:`TimeoutError` naming the last state seen when none is ready within ``timeout_s``.
    """
    auth = {"Authorization": f"Bearer {admin_key}"}
    tenant_id = (await client.get("/v1/me", headers=auth)).json().get("tenant_id")
    last = "no model service yet"
    with anyio.move_on_after(timeout_s):
        while True:
            listed = await client.get(f"/v1/tenants/{tenant_id}/model-services", headers=auth)
            for service in listed.json().get("items", []) if listed.status_code == 200 else []:
                last = f"service {service.get('name')} is {service.get('state')}"
                replicas = await client.get(
                    f"/v1/tenants/{tenant_id}/model-services/{service['id']}/replicas", headers=auth
                )
                if replicas.status_code == 200 and any(r.get("state") == "ready" for r in replicas.json()):
                    return
            await anyio.sleep(1.0)
    raise TimeoutError(f"the demo model service had no ready replica after {timeout_s:.0f} s ({last})")


async def stop_platform_work(app: Any, client: httpx.AsyncClient, admin_key: str) -> None:
    """Stop the model services of the admin's tenant, then every job of that tenant, and wait until
    none of their processes runs: a temporary platform must leave no replica behind."""
    from scheduler.service.tenant_cleanup import stop_tenant_work

    auth = {"Authorization": f"Bearer {admin_key}"}
    tenant_id = (await client.get("/v1/me", headers=auth)).json().get("tenant_id")
    base = f"/v1/tenants/{tenant_id}/model-services"
    listed = await client.get(base, headers=auth, params={"limit": 200})
    for service in listed.json().get("items", []) if listed.status_code == 200 else []:
        await client.post(f"{base}/{service['id']}/stop", headers=auth)  # no replica is started again
    controller = getattr(app.state, "scheduler", None)
    if controller is not None and tenant_id:
        await stop_tenant_work(controller, str(tenant_id), timeout_s=DEMO_STOP_TIMEOUT_S)


@asynccontextmanager
async def in_process_deployment(
    workdir: Path, *, demo: bool = False
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """Start the all-in-one app on a fresh database under ``workdir``; yield (client, admin key).

    ``demo`` seeds it like ``stic up --demo`` and yields only once the demo model serves.
    """
    from services.allinone import create_app  # provided by the platform; imported only when used
    from services.kernel.settings import Settings

    settings = Settings(
        environment="development",
        database_url=f"sqlite+aiosqlite:///{workdir / 'assessment.db'}",
        bootstrap_key_file=workdir / "bootstrap-admin.key",
        data_dir=workdir,
        demo=demo,
        host="127.0.0.1",
        port=free_loopback_port(),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), serve_loopback(app, settings.port):
        admin_key = read_bootstrap_admin_key(app, settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_BASE_URL) as client:
            if demo:
                await wait_for_demo_model(client, admin_key, timeout_s=DEMO_READY_TIMEOUT_S)
            try:
                yield client, admin_key
            finally:
                await stop_platform_work(app, client, admin_key)


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serve_loopback(app: Any, port: int) -> AsyncIterator[None]:
    """Also serve ``app`` on 127.0.0.1:``port`` (lifespan already run): processes the platform starts,
    such as batch workers, report to it over HTTP at the settings' host and port."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers only a flag
            await asyncio.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def remote_deployment(
    url: str, admin_key: str, *, timeout_s: float = 30.0
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client for the deployment at ``url``; yield (client, admin key)."""
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s) as client:
        yield client, admin_key
