"""RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing, proofs and verification, over SM3.

Hashing (RFC 9162 §2.1.1 with SM3 as the hash):

- empty tree: ``SM3("")``
- leaf: ``SM3(0x00 ‖ entry)``
- interior node: ``SM3(0x01 ‖ left ‖ right)``, where the left subtree of a range of ``n`` leaves
  holds the largest power of two strictly smaller than ``n``.

Everything here is pure and synchronous. Proofs are described as lists of leaf *ranges*
(``[start, end)``) whose tree hashes form the proof (RFC 9162 PATH §2.1.3.1 and SUBPROOF
§2.1.4.1, in the RFC's order); every such range is a concatenation of *perfect aligned subtrees*
``(level, index)`` covering leaves ``[index·2^level, (index+1)·2^level)``. A store fetches those
subtree hashes however it likes (leaf hashes, cached interior nodes) and :func:`assemble_proof`
turns them into the proof. The verifiers implement RFC 9162 §2.1.3.2 and §2.1.4.2 literally.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from security.crypto import sm3_digest as sm3

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

Subtree = tuple[int, int]
"""A perfect aligned subtree ``(level, index)``: leaves ``[index << level, (index + 1) << level)``."""

LeafRange = tuple[int, int]
"""A half-open range of leaf indexes ``[start, end)``."""


def empty_root() -> bytes:
    """Root hash of the empty tree: ``SM3("")``."""
    return sm3(b"")


def _prefixed_hasher(prefix: bytes) -> Callable[[bytes], bytes]:
    """``data -> SM3(prefix ‖ data)``, as fast as this Python allows.

    Hashing a leaf is a few microseconds, so the fixed cost of a call dominates: where Python's
    ``hashlib`` reaches OpenSSL's SM3 (OpenSSL 1.1.1+), a context that has already absorbed
    ``prefix`` is copied per call (about half the cost of building a new ``cryptography`` hash
    and concatenating the prefix). Elsewhere it falls back to :func:`security.crypto.sm3_digest`.
    Both compute the same digest; ``tests/security/auditlog/test_merkle.py`` checks it.
    """
    try:
        seeded = hashlib.new("sm3", prefix)
    except ValueError:  # this OpenSSL has no SM3 for hashlib
        return lambda data: sm3(prefix + data)

    def digest(data: bytes) -> bytes:
        hasher = seeded.copy()
        hasher.update(data)
        return hasher.digest()

    return digest


_leaf_digest = _prefixed_hasher(LEAF_PREFIX)
_node_digest = _prefixed_hasher(NODE_PREFIX)


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash ``SM3(0x00 ‖ entry)``."""
    return _leaf_digest(entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash ``SM3(0x01 ‖ left ‖ right)``."""
    return _node_digest(left + right)


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over ``leaf_hashes`` (already leaf-hashed), computed by the RFC's recursive definition."""
    n = len(leaf_hashes)
    if n == 0:
        return empty_root()
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


class CompactTree:
    """The right frontier of an append-only tree: O(log n) hashes, O(1) amortised append.

    ``frontier`` holds the roots of the perfect subtrees that make up the tree, largest (leftmost)
    first, one per set bit of ``size``. Appending returns the interior nodes it completed so a
    store can persist them (e.g. every 8th level, as tiles) for fast proof generation.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self, *, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        if size < 0:
            raise ValueError(f"tree size must be >= 0, got {size}")
        if len(frontier) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} needs {size.bit_count()} frontier hashes, got {len(frontier)}"
            )
        self._size = size
        self._frontier = list(frontier)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees, largest first (see :func:`frontier_subtrees`)."""
        return tuple(self._frontier)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return the completed interior nodes as ``(level, index, hash)``."""
        size = self._size
        node = leaf
        level = 0
        completed: list[tuple[int, int, bytes]] = []
        while (size >> level) & 1:
            node = node_hash(self._frontier.pop(), node)
            level += 1
            completed.append((level, size >> level, node))
        self._frontier.append(node)
        self._size = size + 1
        return completed

    def root(self) -> bytes:
        """Current MTH (equal to :func:`root_of` over all appended leaves)."""
        if not self._frontier:
            return empty_root()
        result = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> CompactTree:
        """An independent copy (for speculative appends that may be discarded)."""
        return CompactTree(size=self._size, frontier=self._frontier)


def frontier_subtrees(size: int) -> list[Subtree]:
    """The perfect subtrees whose roots form the frontier of a tree of ``size`` leaves."""
    return decompose((0, size))


def decompose(leaf_range: LeafRange) -> list[Subtree]:
    """Split ``[start, end)`` into maximal perfect aligned subtrees, left to right (sizes descending
    for every range that occurs in an RFC 9162 tree)."""
    start, end = leaf_range
    if not 0 <= start <= end:
        raise ValueError(f"invalid leaf range [{start}, {end})")
    pieces: list[Subtree] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        pieces.append((level, start >> level))
        start += 1 << level
    return pieces


def range_hash(pieces: Sequence[bytes]) -> bytes:
    """MTH of a range given the hashes of its :func:`decompose` pieces (folded right to left)."""
    if not pieces:
        raise ValueError("an empty range has no subtree hash")
    result = pieces[-1]
    for left in reversed(pieces[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_proof_ranges(index: int, size: int) -> list[LeafRange]:
    """Ranges whose hashes form PATH(index, D[0:size]) (RFC 9162 §2.1.3.1), leaf level first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[LeafRange] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m = start + k, m - k
    ranges.reverse()
    return ranges


def consistency_proof_ranges(old_size: int, new_size: int) -> list[LeafRange]:
    """Ranges whose hashes form PROOF(old_size, D[0:new_size]) (RFC 9162 §2.1.4.1).

    Empty when ``old_size`` is 0 or equals ``new_size`` (nothing to prove).
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove consistency from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    ranges: list[LeafRange] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, whole = start + k, m - k, False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def subtrees_needed(ranges: Iterable[LeafRange]) -> set[Subtree]:
    """Every perfect subtree whose hash :func:`assemble_proof` needs for ``ranges``."""
    needed: set[Subtree] = set()
    for leaf_range in ranges:
        needed.update(decompose(leaf_range))
    return needed


def assemble_proof(ranges: Sequence[LeafRange], subtree_hashes: Mapping[Subtree, bytes]) -> list[bytes]:
    """Hash each range from its perfect subtrees; raises ``KeyError`` naming a missing subtree."""
    return [range_hash([subtree_hashes[piece] for piece in decompose(r)]) for r in ranges]


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2 steps 1–5: the root implied by the proof, or ``None`` if it is malformed."""
    if index >= size or index < 0:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(*, leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: True iff ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree ``root``."""
    return root_from_inclusion_proof(leaf, index, size, proof) == root


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: True iff ``proof`` shows tree ``new_root`` extends tree ``old_root``.

    Trivial cases: equal sizes need an empty proof and equal roots; an empty old tree is
    consistent with everything (empty proof).
    """
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
