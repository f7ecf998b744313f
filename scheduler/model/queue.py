"""Hierarchical queues with guarantee, deserved share, cap and borrowing/lending limits.

Semantics per resource (Kueue cohort and Volcano capacity plugin, merged):

* ``guarantee`` — reserved for the queue; siblings never borrow it.
* ``deserved`` — the fair share; reclaim takes back resources above it from borrowers.
* ``cap`` — hard ceiling (None: the parent's limit).
* ``borrowing_limit`` — how far above ``deserved`` the queue may go by borrowing (None: unlimited).
* ``lending_limit`` — how much of its unused ``deserved - guarantee`` siblings may borrow (None: all).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.model.errors import ModelError
from scheduler.model.resources import ZERO, Resources

ROOT = "root"


@dataclass(frozen=True, slots=True)
class Queue:
    """One queue; ``parent`` None means a child of the implicit root (the whole cluster)."""

    name: str
    parent: str | None = None
    priority: int = 0
    guarantee: Resources = ZERO
    deserved: Resources | None = None
    cap: Resources | None = None
    borrowing_limit: Resources | None = None
    lending_limit: Resources | None = None
    reclaimable: bool = True

    def __post_init__(self) -> None:
        if not self.name or self.name == ROOT:
            raise ModelError("queue.name", f"must be a non-empty name other than {ROOT!r}")
        if self.deserved is not None and not self.guarantee.fits_in(self.deserved):
            raise ModelError(f"queue[{self.name}].guarantee", "must not exceed deserved")
        if self.cap is not None:
            if not self.guarantee.fits_in(self.cap):
                raise ModelError(f"queue[{self.name}].guarantee", "must not exceed cap")
            if self.deserved is not None and not self.deserved.fits_in(self.cap):
                raise ModelError(f"queue[{self.name}].deserved", "must not exceed cap")


class QueueTree:
    """A validated forest of queues under an implicit root; lookup of parents, children, ancestors."""

    def __init__(self, queues: Iterable[Queue]) -> None:
        self.queues: dict[str, Queue] = {}
        for q in queues:
            if q.name in self.queues:
                raise ModelError(f"queue[{q.name}]", "duplicate queue name")
            self.queues[q.name] = q
        self.children: dict[str, list[str]] = {ROOT: []}
        for q in self.queues.values():
            parent = q.parent or ROOT
            if parent != ROOT and parent not in self.queues:
                raise ModelError(f"queue[{q.name}].parent", f"unknown queue {parent!r}")
            self.children.setdefault(parent, []).append(q.name)
        self._chains: dict[str, tuple[str, ...]] = {}
        for name in self.queues:
            chain, seen = [name], {name}
            while (up := self.queues[chain[-1]].parent) is not None:
                if up in seen:
                    raise ModelError(f"queue[{name}].parent", "queues form a cycle")
                chain.append(up)
                seen.add(up)
            self._chains[name] = tuple(chain)
        for parent, kids in self.children.items():
            if parent == ROOT:
                continue
            total = ZERO
            for kid in kids:
                total = total + self.queues[kid].guarantee
            bound = self.queues[parent].deserved or self.queues[parent].cap
            if bound is not None and not total.fits_in(bound):
                raise ModelError(
                    f"queue[{parent}].guarantee", "children's guarantees exceed the parent's share"
                )

    def __contains__(self, name: object) -> bool:
        return name in self.queues

    def chain(self, name: str) -> tuple[str, ...]:
        """The queue and its ancestors, leaf first (the root is not included)."""
        return self._chains[name]

    def siblings(self, name: str) -> list[str]:
        """Other children of the queue's parent."""
        parent = self.queues[name].parent or ROOT
        return [q for q in self.children[parent] if q != name]

    def is_leaf(self, name: str) -> bool:
        """Jobs may only be submitted to leaf queues."""
        return not self.children.get(name)

    @classmethod
    def single(cls, name: str = "default") -> QueueTree:
        """One queue with no quota limits."""
        return cls([Queue(name)])
