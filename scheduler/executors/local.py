"""Local executor: every task is a real process on this machine (the embedded default).

Each attempt gets a state folder ``ROOT/<task id>.<attempt>/`` holding ``launch`` (created with
O_EXCL: the launch happens once, even across control-plane restarts), ``runner.json`` (the
wrapper's pid), ``pid.json`` (the task's),
``output.log``, ``heartbeat.json`` and ``exit.json`` written by :mod:`scheduler.executors.runner`.
Processes run in their own session, so they survive a restart of the control plane, which
re-adopts them from those files. Tasks placed on simulated nodes run here too; their
environment says ``STIC_SIMULATED=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scheduler.executors.base import Phase, TaskKey, TaskLaunch, TaskMetrics, TaskStatus

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: int, marker: str) -> bool:
    """True if ``pid`` runs and its command line mentions ``marker`` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if marker.encode() not in cmdline:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _proc_stat(pid: int) -> list[str]:
    """Fields of ``/proc/<pid>/stat`` after the command name."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _proc_io(pid: int) -> dict[str, float]:
    """I/O counters of ``/proc/<pid>/io`` as ``io_<name>`` (rchar/wchar include sockets and pipes)."""
    counters: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("rchar", "wchar", "read_bytes", "write_bytes"):
            counters[f"io_{name}"] = float(value)
    return counters


def _time(value: object) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


class LocalExecutor:
    """Runs tasks as local processes under the runner wrapper (see module docs)."""

    name = "local"

    def __init__(self, root: Path, *, stop_grace_s: float = 3.0) -> None:
        self.root = root
        self.stop_grace_s = stop_grace_s
        self._children: dict[TaskKey, asyncio.subprocess.Process] = {}
        self._reapers: set[asyncio.Task[int]] = set()
        root.mkdir(parents=True, exist_ok=True)

    def state_dir(self, key: TaskKey) -> Path:
        """Folder holding the attempt's files."""
        return self.root / key.slug

    async def launch(self, gang: Sequence[TaskLaunch]) -> None:
        """Start each task once; a task whose ``launch`` marker exists is left alone."""
        for task in gang:
            state = self.state_dir(task.key)
            state.mkdir(parents=True, exist_ok=True)
            try:
                os.close(os.open(state / "launch", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            except FileExistsError:
                continue
            task.work_dir.mkdir(parents=True, exist_ok=True)
            with (state / "runner.log").open("ab") as runner_log:  # the wrapper's own errors
                proc = await self._spawn(task, state, runner_log.fileno())
            tmp = state / ".runner.json"
            tmp.write_text(json.dumps({"pid": proc.pid, "time": time.time()}))
            os.replace(tmp, state / "runner.json")
            self._children[task.key] = proc
            reaper = asyncio.create_task(proc.wait())
            self._reapers.add(reaper)
            reaper.add_done_callback(self._reapers.discard)

    @staticmethod
    async def _spawn(task: TaskLaunch, state: Path, stderr: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "scheduler.executors.runner",
            str(state),
            "--",
            *task.argv,
            cwd=str(task.work_dir),
            env=dict(task.env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )

    def _runner_pid(self, key: TaskKey) -> int | None:
        proc = self._children.get(key)
        if proc is not None:
            return proc.pid
        runner = _read_json(self.state_dir(key) / "runner.json")
        return int(runner["pid"]) if runner and isinstance(runner.get("pid"), int) else None

    def _running(self, key: TaskKey) -> bool:
        proc = self._children.get(key)
        if proc is not None:
            return proc.returncode is None
        pid = self._runner_pid(key)
        return pid is not None and _alive(pid, str(self.state_dir(key)))

    async def status(self, key: TaskKey) -> TaskStatus:
        """From the attempt's files: exited (with code), running (with heartbeat), or unknown."""
        state = self.state_dir(key)
        beat = _read_json(state / "heartbeat.json") or {}
        heartbeat_at = _time(beat.get("time"))
        progress = beat.get("progress") if isinstance(beat.get("progress"), int | float) else None
        done = _read_json(state / "exit.json")
        if done is not None and isinstance(done.get("code"), int):
            return TaskStatus(Phase.EXITED, int(done["code"]), heartbeat_at, progress)
        if not (state / "launch").exists():
            return TaskStatus(Phase.UNKNOWN)
        if self._running(key):
            return TaskStatus(Phase.RUNNING, None, heartbeat_at, progress)
        await asyncio.sleep(0.05)  # the runner may be writing exit.json right now
        done = _read_json(state / "exit.json")
        if done is not None and isinstance(done.get("code"), int):
            return TaskStatus(Phase.EXITED, int(done["code"]), heartbeat_at, progress)
        return TaskStatus(Phase.LOST, None, heartbeat_at, progress)

    async def stop(self, key: TaskKey) -> None:
        """SIGTERM the attempt's process group, SIGKILL after the grace period."""
        pid = self._runner_pid(key)
        if pid is None or not self._running(key):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace_s
        while time.monotonic() < deadline and self._running(key):  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(0.05)
        if self._running(key):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            proc = self._children.get(key)
            if proc is not None:
                await proc.wait()
        if not (self.state_dir(key) / "exit.json").exists():
            tmp = self.state_dir(key) / ".exit.json.stop"
            tmp.write_text(json.dumps({"code": -int(signal.SIGKILL), "time": time.time()}))
            os.replace(tmp, self.state_dir(key) / "exit.json")

    async def release(self, gang: str) -> None:
        """Nothing is held per gang by local processes."""

    async def logs(self, key: TaskKey, *, tail_bytes: int) -> str:
        """The end of ``output.log``."""
        path = self.state_dir(key) / "output.log"
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - tail_bytes))
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    async def metrics(self, key: TaskKey) -> TaskMetrics:
        """CPU seconds, resident memory and I/O counters (``extra``: io_rchar, io_wchar, io_read_bytes,
        io_write_bytes) of the task process (from /proc), run time."""
        state = self.state_dir(key)
        pids = _read_json(state / "pid.json") or {}
        started = pids.get("time")
        if not isinstance(started, int | float) and (state / "launch").exists():
            started = (state / "launch").stat().st_mtime
        done = _read_json(state / "exit.json")
        runtime = None
        if isinstance(started, int | float):
            end_value = done.get("time") if done else None
            end = float(end_value) if isinstance(end_value, int | float) else time.time()
            runtime = max(0.0, end - float(started))
        child = pids.get("child")
        cpu = rss = None
        io: dict[str, float] = {}
        if isinstance(child, int) and done is None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = _proc_stat(child)
                cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
                rss = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
            with contextlib.suppress(OSError, ValueError):
                io = _proc_io(child)
        return TaskMetrics(cpu_seconds=cpu, rss_mib=rss, runtime_s=runtime, extra=io)

    async def close(self) -> None:
        """Forget child handles; the processes keep running and are re-adopted from their files."""
        for reaper in list(self._reapers):
            reaper.cancel()
        self._children.clear()
