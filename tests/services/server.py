"""Run ``stic up`` as a real server process for black-box tests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

STIC = str(Path(sys.executable).parent / "stic")


def free_port() -> int:
    """A TCP port that is free right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def stic_up(
    *, database_url: str, secret: str, key_file: Path, command: tuple[str, ...] = ("up",)
) -> Iterator[str]:
    """Start ``stic up`` (or another ``command``) on a free port; yields its URL once ``/readyz`` is 200."""
    port = free_port()
    env = {
        **os.environ,
        "STIC_DATABASE_URL": database_url,
        "STIC_SECRET_KEY": secret,
        "STIC_ENVIRONMENT": "test",
        "STIC_BOOTSTRAP_KEY_FILE": str(key_file),
        "STIC_DATA_DIR": str(key_file.parent),
        "STIC_KMS_ROOT_KEY": secrets.token_hex(32),
    }
    log_path = key_file.parent / f"stic-up-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([STIC, *command, "--port", str(port)], env=env, stdout=log, stderr=log)
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"stic up exited with {process.returncode}: {log_path.read_text()[-2000:]}"
                    )
                try:
                    if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"stic up did not become ready: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
