"""Random 128-bit identifiers from the OS's CSPRNG, read 4 KiB at a time.

``os.urandom(16)`` per id is one ``getrandom`` system call, and the call releases the GIL: on a
busy event loop with database worker threads, getting it back cost far more than the call (the
gateway spends it on a request id and a log row id per request). Reading 256 ids' worth at once
keeps the same randomness (the kernel's CSPRNG) for one call in 256. A forked child drops the
parent's unread bytes, so no two processes hand out the same id.
"""

from __future__ import annotations

import os
import threading

_READ_BYTES = 4096


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0

    def take(self, size: int) -> bytes:
        with self._lock:
            if self._offset + size > len(self._buffer):
                self._buffer = os.urandom(max(_READ_BYTES, size))
                self._offset = 0
            start = self._offset
            self._offset += size
            return self._buffer[start : start + size]

    def forget(self) -> None:
        self._buffer = b""
        self._offset = 0
        self._lock = threading.Lock()  # a lock held by another thread at fork time would never open


_POOL = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.forget)


def random_hex128() -> str:
    """128 random bits as 32 lower-case hex digits (never repeats the bytes of an earlier id)."""
    return _POOL.take(16).hex()
