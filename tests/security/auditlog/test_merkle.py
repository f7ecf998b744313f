"""RFC 9162 Merkle tree: proofs against a literal transcription of the RFC's recursive definitions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from security.auditlog import merkle
from security.crypto import sm3_digest as sm3


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"entry-{i}".encode()) for i in range(n)]


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return sm3(b"")
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return merkle.node_hash(mth(d[:k]), mth(d[k:]))


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return [*rfc_path(m, d[:k]), mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), mth(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [mth(d)]
    k = split(len(d))
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), mth(d[:k])]


def subtree_map(d: list[bytes]) -> dict[merkle.Subtree, bytes]:
    nodes: dict[merkle.Subtree, bytes] = {}
    level, row = 0, list(d)
    while row:
        for i, h in enumerate(row):
            nodes[(level, i)] = h
        row = [merkle.node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level += 1
    return nodes


def test_empty_root_is_sm3_of_empty_string() -> None:
    assert merkle.CompactTree().root() == sm3(b"")
    assert merkle.empty_root().hex() == "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = b"a", b"b"
    assert merkle.leaf_hash(a) == sm3(b"\x00a")
    assert merkle.node_hash(a, b) == sm3(b"\x01ab")
    assert merkle.leaf_hash(b"\x01ab") != merkle.node_hash(a, b)


@pytest.mark.parametrize("n", range(0, 70))
def test_compact_tree_root_matches_rfc_mth(n: int) -> None:
    d = leaves(n)
    tree = merkle.CompactTree()
    for h in d:
        tree.append(h)
    assert tree.size == n
    assert tree.root() == mth(d) == merkle.root_of(d)
    restored = merkle.CompactTree(size=n, frontier=tree.frontier)
    nodes = subtree_map(d)
    assert [nodes[s] for s in merkle.frontier_subtrees(n)] == list(tree.frontier)
    assert restored.root() == tree.root()


def test_completed_nodes_are_the_perfect_subtrees() -> None:
    d = leaves(37)
    nodes = subtree_map(d)
    tree = merkle.CompactTree()
    seen = {}
    for h in d:
        for level, index, value in tree.append(h):
            seen[(level, index)] = value
    assert seen == {k: v for k, v in nodes.items() if k[0] > 0}


@pytest.mark.parametrize("n", range(1, 40))
def test_inclusion_proofs_match_rfc_path_and_verify(n: int) -> None:
    d = leaves(n)
    root = mth(d)
    nodes = subtree_map(d)
    for m in range(n):
        ranges = merkle.inclusion_proof_ranges(m, n)
        proof = merkle.assemble_proof(ranges, nodes)
        assert proof == rfc_path(m, d)
        assert merkle.verify_inclusion(leaf=d[m], index=m, size=n, proof=proof, root=root)
        assert not merkle.verify_inclusion(leaf=d[m], index=m, size=n, proof=proof, root=sm3(b"x"))
        other = (m + 1) % n
        if other != m:
            assert not merkle.verify_inclusion(leaf=d[other], index=m, size=n, proof=proof, root=root)
        if proof:
            bad = [*proof[:-1], sm3(proof[-1])]
            assert not merkle.verify_inclusion(leaf=d[m], index=m, size=n, proof=bad, root=root)
            assert not merkle.verify_inclusion(leaf=d[m], index=m, size=n, proof=proof[:-1], root=root)
        assert not merkle.verify_inclusion(leaf=d[m], index=m, size=n, proof=[*proof, root], root=root)


@pytest.mark.parametrize("n", range(1, 34))
def test_consistency_proofs_match_rfc_subproof_and_verify(n: int) -> None:
    d = leaves(n)
    nodes = subtree_map(d)
    new_root = mth(d)
    for m in range(0, n + 1):
        proof = merkle.assemble_proof(merkle.consistency_proof_ranges(m, n), nodes)
        expected = [] if m in (0, n) else rfc_subproof(m, d, True)
        assert proof == expected
        old_root = mth(d[:m])
        assert merkle.verify_consistency(
            old_size=m, new_size=n, old_root=old_root, new_root=new_root, proof=proof
        )
        if 0 < m < n:
            assert not merkle.verify_consistency(
                old_size=m, new_size=n, old_root=sm3(b"forged"), new_root=new_root, proof=proof
            )
            assert not merkle.verify_consistency(
                old_size=m, new_size=n, old_root=old_root, new_root=sm3(b"forged"), proof=proof
            )
            bad = [sm3(proof[0]), *proof[1:]]
            assert not merkle.verify_consistency(
                old_size=m, new_size=n, old_root=old_root, new_root=new_root, proof=bad
            )
            assert not merkle.verify_consistency(
                old_size=m, new_size=n, old_root=old_root, new_root=new_root, proof=[]
            )


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.data())
def test_proofs_for_random_sizes(n: int, data: st.DataObject) -> None:
    d = leaves(n)
    nodes = subtree_map(d)
    m = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = merkle.assemble_proof(merkle.inclusion_proof_ranges(m, n), nodes)
    assert merkle.verify_inclusion(leaf=d[m], index=m, size=n, proof=proof, root=mth(d))
    old = data.draw(st.integers(min_value=1, max_value=n))
    cproof = merkle.assemble_proof(merkle.consistency_proof_ranges(old, n), nodes)
    assert merkle.verify_consistency(
        old_size=old, new_size=n, old_root=mth(d[:old]), new_root=mth(d), proof=cproof
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: merkle.inclusion_proof_ranges(5, 5), "outside a tree of size 5"),
        (lambda: merkle.consistency_proof_ranges(6, 5), "from size 6 to size 5"),
        (lambda: merkle.CompactTree(size=3, frontier=[b"x"]), "needs 2 frontier hashes"),
        (lambda: merkle.decompose((4, 2)), "invalid leaf range"),
    ],
)
def test_bad_arguments_name_the_problem(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_decompose_splits_into_aligned_perfect_subtrees() -> None:
    assert merkle.decompose((0, 7)) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.decompose((8, 13)) == [(2, 2), (0, 12)]
    assert merkle.decompose((4, 4)) == []
