"""Processes of ``stic bench gateway``: servers on free ports, and how to start and stop them.

Each child binds its own TCP port (picked free by the parent) and serves with uvicorn (uvloop +
httptools when installed). A listening socket passed by file descriptor is deliberately not used:
uvicorn treats an inherited fd as a UNIX socket, so accepted connections would miss TCP_NODELAY and
small SSE writes would stall on Nagle + delayed ACK (~40 ms). Every process raises its open-file
limit to the hard limit, since held streams cost sockets.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from services.kernel.announce import first_line


def raise_fd_limit() -> int:
    """Raise this process's soft ``RLIMIT_NOFILE`` to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def serve_asgi(app: Any, *, port: int, host: str = "127.0.0.1") -> None:
    """Serve ``app`` on ``host:port`` until SIGTERM (quiet logs, no access log, a deep backlog)."""
    import uvicorn

    raise_fd_limit()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        backlog=16384,
        loop="auto",
        http="auto",
        lifespan="auto",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=60,
    )
    uvicorn.Server(config).run()


@dataclass
class ServerProcess:
    """A child server and the address it listens on."""

    name: str
    process: subprocess.Popen[bytes]
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(name: str, module: str, args: Sequence[str], *, log: Any = None) -> ServerProcess:
    """Run ``python -m module --port P args…`` on a free port (callers wait until it answers)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port), *args],
        stdout=log or subprocess.DEVNULL,
        stderr=log or subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return ServerProcess(name=name, process=process, host="127.0.0.1", port=port)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for servers that bind their own socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def start_announcing_server(
    name: str, module: str, args: Sequence[str], *, log: Any, timeout_s: float
) -> tuple[ServerProcess, dict[str, Any]]:
    """Run ``python -m module --port P args…``, which prints one JSON line (its ``url``, …) once it serves.

    Returns the process and that JSON object; later stdout goes to ``log``. Raises ``RuntimeError``
    (after stopping the process) when it exits or stays silent for ``timeout_s``.
    """
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=log,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    server = ServerProcess(name=name, process=process, host="127.0.0.1", port=port)
    assert process.stdout is not None
    line = first_line(process.stdout, log=log, timeout_s=timeout_s)
    try:
        info = json.loads(line) if line.strip() else None
    except ValueError:
        info = None
    if not isinstance(info, dict):
        server.stop()
        raise RuntimeError(f"{name} ({module}) did not announce itself within {timeout_s} s (see its log)")
    return server, info


@contextlib.contextmanager
def running(servers: list[ServerProcess]) -> Iterator[list[ServerProcess]]:
    """Stop every server in ``servers`` (including ones appended inside the block) on exit."""
    try:
        yield servers
    finally:
        for server in reversed(servers):
            server.stop()
