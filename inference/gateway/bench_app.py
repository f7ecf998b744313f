"""A real STIC platform serving one model through the gateway, for ``stic bench gateway``.

``python -m inference.gateway.bench_app --upstream URL --model NAME --port P --data-dir DIR``
starts the all-in-one app (SQLite under DIR, the same pipeline as ``stic up``: API-key auth,
rate limits, content safety unless ``--no-safety``, request logs, SM2/SM4 channel), creates a
tenant, a developer key and a model service of engine ``openai`` in front of URL (called over
HTTP/1.1, or h2c with ``--upstream-protocol h2c``), waits until the
gateway routes it, then prints one JSON line ``{"url", "api_key", "model", "admin_key"}`` on
stdout and serves until killed. ``--workers N`` adds ``N - 1`` gateway-only processes on the same
port (:mod:`inference.gateway.workers`; the line then lists their ``worker_pids``). Nothing is
faked: the benchmark measures the product as shipped
(on uvloop when installed, the loop ``stic up`` gets from ``uvicorn.run``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from inference.gateway.settings import GatewaySettings
from inference.gateway.workers import (
    WorkerPidMiddleware,
    reuse_port_socket,
    start_serving,
    start_workers,
    stop_workers,
)
from services.allinone import create_app
from services.kernel.logging import configure_logging
from services.kernel.settings import Settings


async def _setup(
    base: str, admin_key: str, upstream: str, upstream_model: str, protocol: str = "http1"
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as admin:

        async def call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
            response = await admin.request(method, path, json=body)
            if response.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
            return dict(response.json()) if response.content else {}

        tenant = await call("POST", "/v1/tenants", {"name": f"bench-{secrets.token_hex(3)}"})
        tid = tenant["id"]
        dep = await call("POST", f"/v1/tenants/{tid}/departments", {"name": "bench"})
        prj = await call("POST", f"/v1/tenants/{tid}/projects", {"name": "bench", "department_id": dep["id"]})
        user = await call("POST", f"/v1/tenants/{tid}/users", {"name": "bench"})
        await call(
            "POST", f"/v1/tenants/{tid}/role-bindings", {"principal_id": user["id"], "role": "developer"}
        )
        key = await call("POST", f"/v1/tenants/{tid}/api-keys", {"principal_id": user["id"]})
        await call(
            "POST",
            f"/v1/tenants/{tid}/model-services",
            {
                "name": "bench-model",
                "project_id": prj["id"],
                "engine": "openai",
                "upstream": {"url": upstream, "model": upstream_model, "protocol": protocol},
            },
        )
        api_key = key["token"]
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {api_key}"}
        ) as user_client:
            for _ in range(300):
                models = (await user_client.get("/v1/models")).json().get("data", [])
                if any(m["id"] == "bench-model" and m["stic"]["replicas"] > 0 for m in models):
                    break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("the gateway never routed bench-model")
    return {"url": base, "api_key": api_key, "model": "bench-model", "admin_key": admin_key}


async def _main(args: argparse.Namespace, data_dir: Path) -> None:
    key_file = data_dir / "admin.key"
    settings = Settings(
        environment="development",
        database_url=f"sqlite+aiosqlite:///{data_dir / 'stic.db'}",
        data_dir=data_dir,
        bootstrap_key_file=key_file,
        host="127.0.0.1",
        port=args.port,
        log_level="WARNING",
    )
    configure_logging(level=settings.log_level, json_lines=True)
    app = create_app(settings)
    app.state.gateway_settings = GatewaySettings(safety=args.safety)
    sockets = None
    if args.workers > 1:
        sockets = [reuse_port_socket("127.0.0.1", args.port)]
        app = WorkerPidMiddleware(app)  # type: ignore[assignment]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False, backlog=4096)
    )
    serving = await start_serving(server, sockets)
    if serving is None:
        raise RuntimeError(f"the gateway stopped before it served on port {args.port}")
    info = await _setup(
        f"http://127.0.0.1:{args.port}",
        key_file.read_text().strip(),
        args.upstream,
        args.model,
        args.upstream_protocol,
    )
    workers = []
    if args.workers > 1:
        env = {
            **os.environ,
            "STIC_ENVIRONMENT": settings.environment,
            "STIC_DATABASE_URL": settings.database_url,
            "STIC_DATA_DIR": str(data_dir),
            "STIC_BOOTSTRAP_KEY_FILE": str(key_file),
            "STIC_LOG_LEVEL": settings.log_level,
            "STIC_GATEWAY_SAFETY": "true" if args.safety else "false",
        }
        workers = await asyncio.to_thread(
            start_workers, args.workers - 1, host="127.0.0.1", port=args.port, env=env, log=sys.stderr.buffer
        )
        info["worker_pids"] = [os.getpid(), *(process.pid for process in workers)]
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    try:
        await serving
    finally:
        await asyncio.to_thread(stop_workers, workers)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--upstream", required=True, help="OpenAI-compatible base URL ending in /v1")
    parser.add_argument("--model", required=True, help="model name the upstream serves")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument(
        "--upstream-protocol",
        choices=("http1", "h2c"),
        default="http1",
        help="how the gateway calls the upstream (the model service's upstream.protocol)",
    )
    parser.add_argument("--no-safety", dest="safety", action="store_false", help="skip content-safety checks")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes on the port (the extra ones gateway-only)"
    )
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    # the event loop `stic up` gets from uvicorn.run (loop="auto"): uvloop when it is installed
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_main(args, data_dir))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
