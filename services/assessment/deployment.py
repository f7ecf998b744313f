"""Where the assessment connects: a URL, or the all-in-one app started in this process.

The in-process target builds ``services.allinone.create_app(settings)`` on a fresh SQLite database in
a temporary folder, runs its lifespan (migrations, bootstrap admin), and talks to it through
``httpx.ASGITransport`` — the same public HTTP API a remote deployment offers. With ``demo`` it is
seeded as ``stic up --demo`` seeds it (simulated inventory, the tiny model served as ``tiny-llama``),
and the assessment waits until that service has a ready replica: the inference probes take their
model from it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx

IN_PROCESS_BASE_URL = "http://stic.in-process"
DEMO_READY_TIMEOUT_S = 300.0


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
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        admin_key = read_bootstrap_admin_key(app, settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_BASE_URL) as client:
            if demo:
                await wait_for_demo_model(client, admin_key, timeout_s=DEMO_READY_TIMEOUT_S)
            yield client, admin_key


@asynccontextmanager
async def remote_deployment(
    url: str, admin_key: str, *, timeout_s: float = 30.0
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client for the deployment at ``url``; yield (client, admin key)."""
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s) as client:
        yield client, admin_key
