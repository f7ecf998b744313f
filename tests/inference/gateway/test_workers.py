"""``stic up --workers 2``: two processes share one port; the platform's loops run in one of them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inference.gateway.workers import WORKER_HEADER, reuse_port_socket

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="needs SO_REUSEPORT")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {
        **os.environ,
        "STIC_ENVIRONMENT": "development",
        "STIC_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'stic.db'}",
        "STIC_DATA_DIR": str(tmp_path),
        "STIC_BOOTSTRAP_KEY_FILE": str(tmp_path / "admin.key"),
        "STIC_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from services.cli.main import app; app()",
            "up",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _pages_by_worker(base: str, *, deadline: float) -> dict[str, str]:
    """GET / on fresh connections until two distinct workers answered (or the deadline passes)."""
    pages: dict[str, str] = {}
    counts: dict[str, int] = defaultdict(int)
    while time.monotonic() < deadline and (len(pages) < 2 or min(counts.values()) < 3):
        try:
            with httpx.Client(timeout=5.0) as client:  # a new connection: the kernel picks a process
                response = client.get(f"{base}/")
        except httpx.HTTPError:
            time.sleep(0.3)
            continue
        pid = response.headers.get(WORKER_HEADER.decode())
        assert pid is not None, "every response names the process that served it"
        pages[pid] = response.text
        counts[pid] += 1
    return pages


def test_two_workers_share_the_port_and_the_platform_loops_run_once(
    platform: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, process = platform
    pages = _pages_by_worker(base, deadline=time.monotonic() + 120)
    assert process.poll() is None, "stic up exited"
    assert len(pages) == 2, f"expected two processes serving the port, saw {sorted(pages)}"
    assert str(process.pid) in pages  # the first process serves too
    # the scheduler (and every other platform loop) is mounted in exactly one process;
    # the other is the gateway-only worker
    full = [pid for pid, page in pages.items() if "<code>scheduler</code>" in page]
    assert full == [str(process.pid)]
    (worker,) = set(pages) - set(full)
    assert "<code>gateway</code>" in pages[worker] and "<code>models</code>" not in pages[worker]
    with httpx.Client(timeout=5.0) as client:  # the OpenAI surface answers on the worker too (401 here)
        for _ in range(20):
            response = client.post(f"{base}/v1/chat/completions", json={}, headers={"Connection": "close"})
            assert response.status_code == 401


def test_a_reuse_port_socket_binds_beside_another() -> None:
    port = _free_port()
    first = reuse_port_socket("127.0.0.1", port)
    second = reuse_port_socket("127.0.0.1", port)
    try:
        assert first.getsockname() == second.getsockname()
    finally:
        first.close()
        second.close()
