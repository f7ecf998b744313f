"""Managed replica processes: health waiting, early exit, timeout, group stop."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from inference.engines.errors import EngineStartError
from inference.engines.process import ManagedProcess, free_port

SERVER = """
import http.server, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # same process group
print(f"child={child.pid}", flush=True)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def spawn(tmp_path: Path, *args: str) -> ManagedProcess:
    return ManagedProcess.spawn([sys.executable, *args], log_path=tmp_path / "replica.log")


async def test_waits_for_health_then_stops_the_whole_group(tmp_path: Path) -> None:
    port = free_port()
    process = spawn(tmp_path, "-c", SERVER, str(port))
    try:
        waited = await process.wait_healthy(
            url=f"http://127.0.0.1:{port}/health", timeout_s=30, interval_s=0.05
        )
        assert waited >= 0
        assert process.returncode is None
    finally:
        status = await process.stop(grace_s=5)
    assert process.returncode is not None
    child = int(process.log_tail().split("child=")[1].split()[0])
    assert await asyncio.to_thread(_gone, child), "the server's child must be stopped with it"
    assert await process.stop() == status  # idempotent


async def test_early_exit_raises_with_the_log_tail(tmp_path: Path) -> None:
    process = spawn(tmp_path, "-c", "import sys; print('model file is corrupt'); sys.exit(3)")
    with pytest.raises(EngineStartError, match="exited with status 3") as caught:
        await process.wait_healthy(
            url=f"http://127.0.0.1:{free_port()}/health", timeout_s=30, interval_s=0.05
        )
    assert "model file is corrupt" in caught.value.log_tail


async def test_timeout_stops_the_process(tmp_path: Path) -> None:
    process = spawn(tmp_path, "-c", "import time; print('loading', flush=True); time.sleep(600)")
    with pytest.raises(EngineStartError, match="not healthy after") as caught:
        await process.wait_healthy(
            url=f"http://127.0.0.1:{free_port()}/health", timeout_s=0.5, interval_s=0.05
        )
    assert process.returncode is not None
    assert "loading" in caught.value.log_tail


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited within 5 s (a zombie awaiting its reaper counts as exited)."""
    for _ in range(100):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in {"Z", "X"}:
            return True
        time.sleep(0.05)
    return False
