"""Prefix affinity with bounded load: requests that share a prompt prefix go where that prefix is
likely in the engine's KV prefix cache, unless that endpoint is much busier than the least loaded."""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Sequence

from inference.gateway.routing.endpoint import Endpoint, RequestKey
from inference.gateway.routing.policies.base import least_loaded
from inference.gateway.routing.policies.hashring import HashRing


def block_hashes(text: str, *, block_chars: int, max_blocks: int) -> list[int]:
    """Chained hashes of the leading ``block_chars``-character blocks of ``text`` (at most
    ``max_blocks``): block i's hash covers blocks 0..i, so equal hashes mean equal prefixes. Only
    whole blocks count (engines cache whole blocks), except that a text shorter than one block is
    one block. The hashes are process-local (Python's salted ``hash``, the cheapest available),
    which suits the per-process prefix index they key."""
    count = min(max_blocks, max(1, len(text) // block_chars))
    running = 0
    out: list[int] = []
    for i in range(count):
        running = hash((running, text[i * block_chars : (i + 1) * block_chars]))
        out.append(running)
    return out


class PrefixAffinity:
    """Prefix-cache-aware choice, after the llm-d / Gateway API Inference Extension prefix scorer,
    with the bound of "Consistent Hashing with Bounded Loads" (Mirrokni et al.).

    The prompt prefix (``key.prefix``) is cut into blocks of ``block_chars`` characters with chained
    hashes. An endpoint is *within bound* when ``outstanding <= load_factor * (least + 1)``, ``least``
    being the fewest outstanding requests among the candidates. The choice is:

    1. the endpoint this policy last sent the longest matching prefix to (an LRU index of block
       hash → endpoint, ``index_size`` entries), if it is a candidate within bound — a multi-turn
       chat whose next prompt extends the previous one lands where the previous turn ran;
    2. else the first candidate within bound walking a consistent-hash ring from the first block's
       hash — stateless, so every gateway process agrees, and a hot prefix spills over to a stable
       second endpoint; the least-loaded candidate is always within bound, so the walk ends.

    The chosen endpoint is then recorded for every block of the prefix. Requests without a prefix
    go by least outstanding requests.
    """

    name = "prefix-affinity"

    def __init__(
        self,
        rng: random.Random,
        *,
        load_factor: float = 2.0,
        vnodes: int = 160,
        block_chars: int = 128,
        max_blocks: int = 16,
        index_size: int = 50_000,
    ) -> None:
        if load_factor < 1.0:
            raise ValueError("load_factor must be >= 1")
        if block_chars < 1 or max_blocks < 1 or index_size < 1:
            raise ValueError("block_chars, max_blocks and index_size must be >= 1")
        self._rng = rng
        self.load_factor = load_factor
        self.block_chars = block_chars
        self.max_blocks = max_blocks
        self.index_size = index_size
        self._ring = HashRing(vnodes=vnodes)
        self._index: OrderedDict[int, str] = OrderedDict()

    def update_members(self, endpoints: Sequence[Endpoint]) -> None:
        """Rebuild the ring over the member ids and forget index entries of departed members."""
        self._ring.rebuild([e.id for e in endpoints])
        members = self._ring.members
        for block in [b for b, eid in self._index.items() if eid not in members]:
            del self._index[block]

    def choose(self, candidates: Sequence[Endpoint], key: RequestKey) -> Endpoint:
        """See the class docstring."""
        if not key.prefix:
            return least_loaded(candidates, self._rng)
        blocks = block_hashes(key.prefix, block_chars=self.block_chars, max_blocks=self.max_blocks)
        bound = self.load_factor * (min(e.outstanding for e in candidates) + 1)
        by_id = {e.id: e for e in candidates}
        chosen = self._cached(blocks, by_id, bound) or self._on_ring(key.prefix, by_id, bound)
        if chosen is None:  # unreachable: the least-loaded candidate is always within bound
            chosen = least_loaded(candidates, self._rng)
        self._remember(blocks, chosen.id)
        return chosen

    def _cached(self, blocks: list[int], by_id: dict[str, Endpoint], bound: float) -> Endpoint | None:
        for block in reversed(blocks):
            endpoint_id = self._index.get(block)
            endpoint = by_id.get(endpoint_id) if endpoint_id is not None else None
            if endpoint is not None and endpoint.outstanding <= bound:
                return endpoint
        return None

    def _on_ring(self, prefix: str, by_id: dict[str, Endpoint], bound: float) -> Endpoint | None:
        for member in self._ring.walk(prefix[: self.block_chars]):
            endpoint = by_id.get(member)
            if endpoint is not None and endpoint.outstanding <= bound:
                return endpoint
        return None

    def _remember(self, blocks: list[int], endpoint_id: str) -> None:
        index = self._index
        for block in blocks:
            index[block] = endpoint_id
            index.move_to_end(block)
        while len(index) > self.index_size:
            index.popitem(last=False)

    @property
    def indexed_blocks(self) -> int:
        """Entries in the prefix index (bounded by ``index_size``)."""
        return len(self._index)
