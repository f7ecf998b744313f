"""Each policy's choice, measured over many picks with a seeded random source."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from inference.gateway.routing import POLICIES, ReplicaSet, RequestKey
from inference.gateway.routing.policies import HashRing, PrefixAffinity
from inference.gateway.routing.policies.prefix_affinity import block_hashes

from .conftest import MakeSet, specs


def load(replica_set: ReplicaSet, **outstanding: int) -> None:
    """Set the outstanding count of the named endpoints."""
    for endpoint_id, count in outstanding.items():
        endpoint = replica_set.get(endpoint_id)
        assert endpoint is not None
        endpoint.outstanding = count


def test_registry_lists_the_contract_policies() -> None:
    assert {"least-outstanding", "power-of-two", "prefix-affinity", "session-affinity", "weighted"} <= set(
        POLICIES
    )
    for name, factory in POLICIES.items():
        assert factory(random.Random(0)).name == name


@pytest.mark.parametrize(
    ("policy", "outstanding", "key", "allowed"),
    [
        ("least-outstanding", {"r0": 3, "r1": 1, "r2": 2}, RequestKey(), {"r1"}),
        ("least-outstanding", {"r0": 0, "r1": 5, "r2": 0}, RequestKey(), {"r0", "r2"}),
        # power of two with 3 endpoints never picks the most loaded one (it always loses its pair)
        ("power-of-two", {"r0": 9, "r1": 1, "r2": 2}, RequestKey(), {"r1", "r2"}),
        # session and prefix affinity without a key behave as least outstanding
        ("session-affinity", {"r0": 4, "r1": 4, "r2": 0}, RequestKey(), {"r2"}),
        ("prefix-affinity", {"r0": 0, "r1": 4, "r2": 4}, RequestKey(), {"r0"}),
    ],
)
def test_policy_choice(
    make_set: MakeSet, policy: str, outstanding: dict[str, int], key: RequestKey, allowed: set[str]
) -> None:
    replica_set = make_set(3, policy=policy)
    load(replica_set, **outstanding)
    chosen = Counter(replica_set.pick(key).id for _ in range(300))
    assert set(chosen) == allowed  # every allowed endpoint is used, no other one


def test_least_outstanding_breaks_ties_randomly(make_set: MakeSet) -> None:
    replica_set = make_set(4)
    chosen = Counter(replica_set.pick(RequestKey()).id for _ in range(4000))
    assert set(chosen) == {"r0", "r1", "r2", "r3"}
    assert min(chosen.values()) > 800  # each near 1000


def mean_spread_under_load(replica_set: ReplicaSet, *, requests: int, seed: int) -> float:
    """Route ``requests`` arrivals while a random earlier request finishes with each arrival once
    200 are in flight; return the mean (max − min) outstanding gap across endpoints after warm-up."""
    rng = random.Random(seed)
    in_flight = []
    gaps = []
    for i in range(requests):
        endpoint = replica_set.pick(RequestKey())
        replica_set.started(endpoint)
        in_flight.append(endpoint)
        if len(in_flight) > 200:
            done = in_flight.pop(rng.randrange(len(in_flight)))
            replica_set.finished(done, ok=True, latency_s=0.1)
        if i >= 1000:
            counts = [e.outstanding for e in replica_set.endpoints]
            gaps.append(max(counts) - min(counts))
    return sum(gaps) / len(gaps)


def test_power_of_two_balances_far_better_than_random(make_set: MakeSet) -> None:
    # measured with these seeds: random ≈ 13.3, power of two ≈ 4.4, least outstanding ≈ 1.8
    random_gap = mean_spread_under_load(make_set(10, policy="random"), requests=5000, seed=1)
    p2c_gap = mean_spread_under_load(make_set(10, policy="power-of-two"), requests=5000, seed=1)
    least_gap = mean_spread_under_load(make_set(10, policy="least-outstanding"), requests=5000, seed=1)
    assert least_gap <= 2.0
    assert p2c_gap <= 6.0
    assert random_gap >= 2.5 * p2c_gap


def test_session_affinity_is_sticky_and_spread(make_set: MakeSet) -> None:
    replica_set = make_set(4, policy="session-affinity")
    owners = {}
    for i in range(400):
        key = RequestKey(session=f"s{i}")
        first = replica_set.pick(key).id
        load(replica_set, **{first: 50})  # load does not move a session
        assert replica_set.pick(key).id == first
        load(replica_set, **{first: 0})
        owners[i] = first
    shares = Counter(owners.values())
    assert set(shares) == {"r0", "r1", "r2", "r3"}
    assert min(shares.values()) > 50  # ~100 each with 160 virtual nodes


def test_session_affinity_uses_user_when_no_session(make_set: MakeSet) -> None:
    replica_set = make_set(5, policy="session-affinity")
    assert replica_set.pick(RequestKey(user="alice")).id == replica_set.pick(RequestKey(session="alice")).id


def test_removing_one_of_five_endpoints_remaps_about_a_fifth_of_keys(make_set: MakeSet) -> None:
    replica_set = make_set(5, policy="session-affinity")
    keys = [RequestKey(session=f"user-{i}") for i in range(5000)]
    before = {k: replica_set.pick(k).id for k in keys}
    replica_set.sync(specs(5)[:2] + specs(5)[3:])  # r2 leaves
    after = {k: replica_set.pick(k).id for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert all(before[k] == "r2" for k in moved)  # only r2's keys moved
    assert 0.12 < len(moved) / len(keys) < 0.28


def test_unavailable_endpoint_lends_its_keys_and_gets_them_back(make_set: MakeSet) -> None:
    replica_set = make_set(5, policy="session-affinity")
    keys = [RequestKey(session=f"k{i}") for i in range(1000)]
    before = {k: replica_set.pick(k).id for k in keys}
    r1 = replica_set.get("r1")
    assert r1 is not None
    replica_set.set_healthy(r1, False, error="test")
    during = {k: replica_set.pick(k).id for k in keys}
    assert all(during[k] == before[k] for k in keys if before[k] != "r1")
    assert "r1" not in during.values()
    replica_set.set_healthy(r1, True)
    assert {k: replica_set.pick(k).id for k in keys} == before


def test_hash_ring_is_stable_across_instances() -> None:
    a = HashRing(["x", "y", "z"])
    b = HashRing(["z", "y", "x"])
    assert all(a.owner(f"key{i}") == b.owner(f"key{i}") for i in range(200))
    assert list(a.walk("key0")) and sorted(a.walk("key0")) == ["x", "y", "z"]
    assert HashRing().owner("anything") is None


def test_prefix_affinity_keeps_a_prefix_on_one_endpoint(make_set: MakeSet) -> None:
    replica_set = make_set(4, policy="prefix-affinity")
    prefixes = [f"system: you are assistant #{i}\nuser: hello" for i in range(200)]
    homes = {p: replica_set.pick(RequestKey(prefix=p)).id for p in prefixes}
    assert len(set(homes.values())) == 4
    assert all(replica_set.pick(RequestKey(prefix=p)).id == homes[p] for p in prefixes)


@pytest.mark.parametrize(
    ("home_load", "others_load", "stays"),
    [
        (0, 0, True),
        (2, 0, True),  # within 2 × (0 + 1)
        (3, 0, False),  # over the bound: spills over
        (20, 10, True),  # within 2 × (10 + 1)
        (23, 10, False),
    ],
)
def test_prefix_affinity_bounded_load(
    make_set: MakeSet, home_load: int, others_load: int, stays: bool
) -> None:
    replica_set = make_set(4, policy=PrefixAffinity(random.Random(3), load_factor=2.0))
    key = RequestKey(prefix="a long shared system prompt")
    home = replica_set.pick(key).id
    load(replica_set, **{e.id: others_load for e in replica_set.endpoints})
    load(replica_set, **{home: home_load})
    chosen = replica_set.pick(key).id
    assert (chosen == home) is stays
    if not stays:  # the spill-over target is stable: the next one clockwise within bound
        assert replica_set.pick(key).id == chosen


def test_weighted_is_smooth_and_proportional(make_set: MakeSet) -> None:
    replica_set = make_set(3, policy="weighted", weights=[5.0, 1.0, 1.0])
    sequence = [replica_set.pick(RequestKey()).id for _ in range(7)]
    assert sequence == ["r0", "r0", "r1", "r0", "r2", "r0", "r0"]  # nginx's example
    shares = Counter(replica_set.pick(RequestKey()).id for _ in range(7000))
    assert shares == {"r0": 5000, "r1": 1000, "r2": 1000}


def test_weighted_zero_weight_gets_traffic_only_when_alone(make_set: MakeSet) -> None:
    replica_set = make_set(2, policy="weighted", weights=[0.0, 1.0])
    assert {replica_set.pick(RequestKey()).id for _ in range(50)} == {"r1"}
    assert replica_set.pick(RequestKey(), exclude=frozenset({"r1"})).id == "r0"
    both_zero = make_set(2, policy="weighted", weights=[0.0, 0.0])
    assert {both_zero.pick(RequestKey()).id for _ in range(50)} == {"r0", "r1"}


SYSTEM = "system: You are the support assistant of ACME. Answer briefly, cite the manual, never guess. " * 3


def test_prefix_affinity_groups_requests_sharing_a_long_system_prompt(make_set: MakeSet) -> None:
    replica_set = make_set(5, policy="prefix-affinity")
    chosen = {replica_set.pick(RequestKey(prefix=f"{SYSTEM}\nuser: question {i}?")).id for i in range(100)}
    assert len(chosen) == 1
    others = {replica_set.pick(RequestKey(prefix=f"system: persona {i}. " * 10)).id for i in range(100)}
    assert len(others) == 5  # different system prompts still spread over every endpoint


def test_prefix_affinity_follows_a_conversation_to_where_it_spilled(make_set: MakeSet) -> None:
    replica_set = make_set(3, policy="prefix-affinity")
    turn1 = f"{SYSTEM}\nuser: my order is late" + " please help" * 20
    home = replica_set.pick(RequestKey(prefix=turn1)).id
    load(replica_set, **{home: 10})
    spilled = replica_set.pick(RequestKey(prefix=turn1)).id
    assert spilled != home
    load(replica_set, **{home: 0})
    turn2 = f"{turn1}\nassistant: sorry about that\nuser: it is order 42" + " thanks" * 30
    assert replica_set.pick(RequestKey(prefix=turn2)).id == spilled  # its longest cached prefix


def test_prefix_index_is_bounded_and_forgets_departed_endpoints(make_set: MakeSet) -> None:
    policy = PrefixAffinity(random.Random(1), block_chars=8, max_blocks=4, index_size=50)
    replica_set = make_set(3, policy=policy)
    for i in range(100):
        replica_set.pick(RequestKey(prefix=f"{i:04d} is the number of this prompt"))
    assert policy.indexed_blocks == 50
    replica_set.sync(specs(3)[1:])  # r0 leaves: its entries go, the others stay
    assert 0 < policy.indexed_blocks < 50


@pytest.mark.parametrize(
    ("text", "blocks"),
    [("", 1), ("short", 1), ("a" * 127, 1), ("a" * 128, 1), ("a" * 300, 2), ("a" * 5000, 16)],
)
def test_block_hashes_count(text: str, blocks: int) -> None:
    assert len(block_hashes(text, block_chars=128, max_blocks=16)) == blocks


def test_block_hashes_are_chained() -> None:
    a = block_hashes("x" * 128 + "y" * 128, block_chars=128, max_blocks=16)
    b = block_hashes("x" * 128 + "z" * 128, block_chars=128, max_blocks=16)
    c = block_hashes("w" * 128 + "y" * 128, block_chars=128, max_blocks=16)
    assert a[0] == b[0] and a[1] != b[1]
    assert a[1] != c[1]  # the same second block after a different first one is a different prefix
