"""A consistent-hashing ring with virtual nodes, built over endpoint ids."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator, Sequence


def stable_hash(text: str) -> int:
    """A 64-bit hash that is the same in every process (unlike ``hash``), so that several gateway
    replicas send the same key to the same endpoint."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


class HashRing:
    """Each member owns ``vnodes`` points on a 64-bit ring; a key belongs to the first point
    clockwise from its hash. Removing one of n members moves only the keys it owned (≈ 1/n)."""

    def __init__(self, members: Sequence[str] = (), *, vnodes: int = 160) -> None:
        if vnodes < 1:
            raise ValueError("vnodes must be >= 1")
        self._vnodes = vnodes
        self._points: list[int] = []
        self._owners: list[str] = []
        self.rebuild(members)

    def rebuild(self, members: Sequence[str]) -> None:
        """Replace the ring's members."""
        pairs = sorted(
            (stable_hash(f"{member}#{i}"), member) for member in set(members) for i in range(self._vnodes)
        )
        self._points = [point for point, _ in pairs]
        self._owners = [owner for _, owner in pairs]
        self._members = frozenset(members)

    @property
    def members(self) -> frozenset[str]:
        """The ids on the ring."""
        return self._members

    def walk(self, key: str) -> Iterator[str]:
        """Distinct members in ring order starting at ``key``'s position (the owner first)."""
        if not self._points:
            return
        start = bisect.bisect_left(self._points, stable_hash(key))
        seen: set[str] = set()
        n = len(self._points)
        for i in range(n):
            owner = self._owners[(start + i) % n]
            if owner not in seen:
                seen.add(owner)
                yield owner
                if len(seen) == len(self._members):
                    return

    def owner(self, key: str) -> str | None:
        """The member that owns ``key`` (``None`` on an empty ring)."""
        return next(self.walk(key), None)
