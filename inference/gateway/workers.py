"""Several gateway worker processes behind one port (``stic up --workers N``).

The first process is the whole platform (every service, every background loop: scheduler,
controllers, autoscaler, batch workers, the Merkle audit writer); it migrates the database and
answers on the port first. Then ``N - 1`` gateway-only workers start: the kernel with the
``kms``, ``safety`` and ``gateway`` modules (:data:`WORKER_MODULES`), no migrations, no demo
seeding, and no background loop other than the gateway's own (routing-table refresh, health
checks). Every process binds the same address with ``SO_REUSEPORT``, so the kernel spreads new
connections over them; they share the database, and the rate limits when ``STIC_REDIS_URL`` is
set (otherwise each process counts its own limits).

Per process, by design: the SM2/SM4 secure-channel sessions (the SM2 key is the one key file
every process loads; a session lives on the process that made it, another process answers it
with ``envelope_session_unknown`` and :class:`~inference.gateway.secure.client.SecureTransport`
handshakes again and resends once), the auth/limits/safety caches (2 s), the routing table's
health checks (each process probes the replicas itself), and audit events: the tamper-evident
Merkle log has a single writer, the first process, so the workers write theirs to the kernel's
plain ``audit_events`` table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import IO

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.allinone import load_module
from services.kernel.announce import first_line
from services.kernel.app import create_service_app
from services.kernel.logging import configure_logging
from services.kernel.settings import Settings

WORKER_MODULES: tuple[str, ...] = ("kms", "safety", "gateway")
WORKER_HEADER = b"x-stic-worker"
READY_TIMEOUT_S = 120.0
ORPHAN_CHECK_S = 1.0  # how often a worker checks that the process that started it still runs


def create_worker_app(settings: Settings) -> FastAPI:
    """A gateway-only app for an extra worker: no migrations, no demo, no platform background loops."""
    worker_settings = settings.model_copy(update={"run_migrations": False, "demo": False})
    return create_service_app(
        modules=[load_module(name) for name in WORKER_MODULES],
        settings=worker_settings,
        title="STIC gateway worker",
    )


def reuse_port_socket(host: str, port: int, *, backlog: int = 4096) -> socket.socket:
    """A listening TCP socket on ``host:port`` with ``SO_REUSEPORT`` (the other workers bind it too)."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("SO_REUSEPORT is not available on this system: run one process (--workers 1)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class WorkerPidMiddleware:
    """Adds ``x-stic-worker: <pid>`` to every HTTP response: which process served it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._pid = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (WORKER_HEADER, self._pid)]}
            await send(message)

        await self.app(scope, receive, tagged)


def _uvicorn(app: ASGIApp) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def start_workers(
    count: int, *, host: str, port: int, env: Mapping[str, str] | None = None, log: IO[bytes] | None = None
) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` gateway workers on ``host:port`` and wait until each serves.

    Each is ``python -m inference.gateway.workers --host H --port P`` with ``env`` (default: this
    process's environment), which sets the database and every other ``STIC_*`` setting. Raises
    ``RuntimeError`` (after stopping those started) when one exits or stays silent for
    :data:`READY_TIMEOUT_S`.
    """
    started: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", "inference.gateway.workers", "--host", host, "--port", str(port)],
                stdout=subprocess.PIPE,
                stderr=log,
                env=dict(env if env is not None else os.environ),
            )
            started.append(process)
            _await_ready(process, log)
    except BaseException:
        stop_workers(started)
        raise
    return started


def _await_ready(process: subprocess.Popen[bytes], log: IO[bytes] | None) -> None:
    assert process.stdout is not None
    line = first_line(process.stdout, log=log, timeout_s=READY_TIMEOUT_S)
    if not line.strip().startswith(b"{"):
        raise RuntimeError(f"gateway worker {process.pid} did not start (exit code {process.poll()})")


def stop_workers(processes: list[subprocess.Popen[bytes]], *, timeout_s: float = 15.0) -> None:
    """SIGTERM every worker, then SIGKILL those still running after ``timeout_s``."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)


async def start_serving(
    server: uvicorn.Server, sockets: list[socket.socket] | None
) -> asyncio.Task[None] | None:
    """Start ``server`` (on ``sockets``, or its configured host and port); its task once it serves.

    A start-up that fails raises here; a server that stopped before it started gives ``None``.
    """
    serving = asyncio.create_task(server.serve(sockets=sockets))
    while not server.started:
        if serving.done():
            serving.result()
            return None
        await asyncio.sleep(0.05)
    return serving


async def serve_with_workers(app: ASGIApp, *, host: str, port: int, workers: int) -> None:
    """Serve ``app`` (the whole platform) on ``host:port`` and run ``workers - 1`` gateway workers beside it.

    The workers start once ``app`` serves (it has migrated the database and seeded the platform).
    They are stopped when ``app`` stops, and
    each stops by itself within :data:`ORPHAN_CHECK_S` when this process is gone (uvicorn re-raises
    the signal that stopped it, so this process may end before it can stop them).
    """
    sock = reuse_port_socket(host, port)
    server = _uvicorn(WorkerPidMiddleware(app))
    serving = await start_serving(server, [sock])
    if serving is None:
        return
    processes = await asyncio.to_thread(start_workers, workers - 1, host=host, port=port)
    try:
        await serving
    finally:
        await asyncio.to_thread(stop_workers, processes)
        sock.close()


def run_platform(app: ASGIApp, *, host: str, port: int, workers: int) -> None:
    """Run :func:`serve_with_workers` until stopped (on uvloop when installed, like ``uvicorn.run``)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(serve_with_workers(app, host=host, port=port, workers=workers))


async def _serve_worker(host: str, port: int) -> None:
    settings = Settings().model_copy(update={"host": host, "port": port})
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    sock = reuse_port_socket(host, port)
    server = _uvicorn(WorkerPidMiddleware(create_worker_app(settings)))
    serving = await start_serving(server, [sock])
    if serving is None:
        return
    sys.stdout.write(json.dumps({"worker": os.getpid(), "host": host, "port": port}) + "\n")
    sys.stdout.flush()
    parent = os.getppid()
    while not serving.done():  # the first process stopped (even killed): stop too
        if os.getppid() != parent:
            server.should_exit = True
        await asyncio.wait({serving}, timeout=ORPHAN_CHECK_S)
    serving.result()


def main(argv: list[str] | None = None) -> None:
    """Run one gateway worker (settings from ``STIC_*``); prints one JSON line once it serves."""
    parser = argparse.ArgumentParser(description="One STIC gateway worker process.")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(_serve_worker(args.host, args.port))


if __name__ == "__main__":
    main()
