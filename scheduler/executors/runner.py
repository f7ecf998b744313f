"""Process wrapper used by the local executor: ``python -m scheduler.executors.runner STATE_DIR -- ARGV``.

It starts ``ARGV``, copies its combined stdout/stderr to ``STATE_DIR/output.log``, records
``STIC_HEARTBEAT`` / ``STIC_PROGRESS <n>`` lines in ``heartbeat.json`` and finally writes the
exit code to ``exit.json`` (negative: killed by that signal). All files are replaced atomically,
so a control plane that restarts meanwhile can re-adopt the task from them. SIGTERM/SIGINT are
forwarded to the task.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

HEARTBEAT = b"STIC_HEARTBEAT"
PROGRESS = b"STIC_PROGRESS"
MIN_WRITE_INTERVAL_S = 0.1


def write_json(path: Path, data: object) -> None:
    """Replace ``path`` atomically with ``data`` as JSON."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def parse_report(line: bytes) -> tuple[bool, float | None]:
    """(is a liveness report, progress value or None) for one output line."""
    text = line.strip()
    if text.startswith(PROGRESS):
        try:
            return True, float(text[len(PROGRESS) :].strip() or b"nan")
        except ValueError:
            return False, None
    return text.startswith(HEARTBEAT), None


def run(
    state_dir: Path,
    argv: list[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> int:
    """Run ``argv`` to completion under the wrapper; returns its exit code.

    ``env``/``cwd`` default to the wrapper's own; ``on_start`` receives the child process
    (the Ray executor's actor keeps it to terminate the task).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    log = (state_dir / "output.log").open("ab", buffering=0)
    try:
        child = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    except OSError as exc:
        log.write(f"stic runner: cannot start {argv[0]!r}: {exc}\n".encode())
        write_json(state_dir / "exit.json", {"code": 127, "time": time.time()})
        return 127
    write_json(state_dir / "pid.json", {"runner": os.getpid(), "child": child.pid, "time": time.time()})

    if on_start is not None:
        on_start(child)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
    progress: float | None = None
    last_write = 0.0
    assert child.stdout is not None
    for line in iter(child.stdout.readline, b""):
        log.write(line)
        alive, value = parse_report(line)
        if not alive:
            continue
        progress = value if value is not None else progress
        now = time.time()
        if now - last_write >= MIN_WRITE_INTERVAL_S:
            write_json(state_dir / "heartbeat.json", {"time": now, "progress": progress})
            last_write = now
    code = child.wait()
    if last_write:
        write_json(state_dir / "heartbeat.json", {"time": time.time(), "progress": progress})
    log.close()
    write_json(state_dir / "exit.json", {"code": code, "time": time.time()})
    return code


def main(args: list[str]) -> int:
    """Entry point: ``STATE_DIR -- ARGV...``."""
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m scheduler.executors.runner STATE_DIR -- ARGV...", file=sys.stderr)
        return 2
    state_dir = Path(args[0])
    state_dir.mkdir(parents=True, exist_ok=True)
    code = run(state_dir, args[2:])
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
