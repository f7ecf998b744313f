"""A child process that serves HTTP: spawned in its own process group, awaited until healthy, stopped.

Uses ``subprocess.Popen`` rather than asyncio subprocesses so a handle is not bound to the event
loop that created it (a replica may be started in one loop and stopped in another).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from inference.engines.errors import EngineStartError


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (another process may still take it before we bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ManagedProcess:
    """One spawned server process and its log file."""

    def __init__(self, popen: subprocess.Popen[bytes], *, argv: Sequence[str], log_path: Path) -> None:
        self._popen = popen
        self.argv = tuple(argv)
        self.log_path = log_path

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> ManagedProcess:
        """Start ``argv`` in a new session, stdout and stderr appended to ``log_path``.

        ``env`` is added on top of this process's environment.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        return cls(popen, argv=argv, log_path=log_path)

    @property
    def pid(self) -> int:
        """The process id (also its process-group id)."""
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status, or ``None`` while it runs."""
        return self._popen.poll()

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def wait_healthy(self, *, url: str, timeout_s: float, interval_s: float = 0.5) -> float:
        """Poll ``url`` until it answers 2xx; return the seconds waited.

        Raises :class:`EngineStartError` (after stopping the process) when the process exits or
        ``timeout_s`` passes first.
        """
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=5.0) as http:
            while True:
                if self.returncode is not None:
                    raise EngineStartError(
                        f"{self.argv[0]} exited with status {self.returncode} before {url} was healthy",
                        log_tail=self.log_tail(),
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).is_success:
                        return time.monotonic() - started
                if time.monotonic() - started > timeout_s:
                    tail = self.log_tail()
                    await self.stop()
                    raise EngineStartError(f"{url} not healthy after {timeout_s:.0f} s", log_tail=tail)
                await asyncio.sleep(interval_s)

    async def stop(self, *, grace_s: float = 20.0) -> int:
        """SIGTERM the process group, SIGKILL it after ``grace_s``; return the exit status. Idempotent."""
        if self.returncode is None:
            self._signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self._popen.wait, grace_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                await asyncio.to_thread(self._popen.wait)
        # Children left in the group (e.g. vLLM's engine-core process) go too.
        self._signal(signal.SIGKILL)
        return int(self._popen.returncode)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)
