"""Reading the one line a child process prints once it is ready, and logging what follows."""

from __future__ import annotations

import queue
import threading
from typing import IO


def first_line(stream: IO[bytes], *, log: IO[bytes] | None, timeout_s: float) -> bytes:
    """The first line ``stream`` yields within ``timeout_s`` (``b""`` if it ends or stays silent).

    A daemon thread keeps reading: every later line goes to ``log`` (a binary file, or dropped
    when ``None``), so the child never blocks on a full pipe.
    """
    lines: queue.Queue[bytes] = queue.Queue()

    def pump() -> None:
        first = True
        for line in iter(stream.readline, b""):
            if first:
                lines.put(line)
                first = False
            elif log is not None:
                log.write(line)
        lines.put(b"")

    threading.Thread(target=pump, daemon=True).start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        return b""
