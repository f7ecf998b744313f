"""Network-slow judgement against a node's domain peers (table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.recovery.network import NetworkSample, NetworkThresholds, judge_domain

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LIMITS = NetworkThresholds(
    rtt_factor=3.0, bandwidth_fraction=0.5, retransmit_floor=0.01, min_peers=2, max_age_s=60
)


def s(
    node: str, rtt: float, bw: float | None = None, rx: float | None = None, age: float = 0
) -> NetworkSample:
    return NetworkSample(node, rtt, NOW - timedelta(seconds=age), bw, rx)


@pytest.mark.parametrize(
    ("samples", "slow", "unjudged"),
    [
        # RTT far above the peers' median
        ([s("a", 100), s("b", 110), s("c", 90), s("d", 1000)], {"d"}, set()),
        # just under the factor: not slow
        ([s("a", 100), s("b", 100), s("c", 290)], set(), set()),
        # a fabric slow everywhere is not a slow node: no absolute threshold
        ([s("a", 5000), s("b", 5100), s("c", 4900)], set(), set()),
        # bandwidth below half the peers' median
        ([s("a", 100, 100), s("b", 100, 95), s("c", 100, 30)], {"c"}, set()),
        # retransmits: above the floor and far above the peers
        ([s("a", 100, rx=0.0), s("b", 100, rx=0.0), s("c", 100, rx=0.05)], {"c"}, set()),
        # retransmits under the floor never count
        ([s("a", 100, rx=0.0), s("b", 100, rx=0.0), s("c", 100, rx=0.005)], set(), set()),
        # too few peers: nobody judged (a single-node domain, like the local machine's)
        ([s("a", 100), s("b", 1000)], set(), {"a", "b"}),
        # stale figures: the node is not judged and is no peer of the others
        ([s("a", 100), s("b", 100), s("c", 100), s("d", 1000, age=120)], set(), {"d"}),
        # a stale peer leaves too few fresh peers
        ([s("a", 100), s("b", 1000), s("c", 100, age=120)], set(), {"a", "b", "c"}),
    ],
)
def test_judge_domain(samples: list[NetworkSample], slow: set[str], unjudged: set[str]) -> None:
    verdicts = judge_domain(samples, domain="leaf-1", now=NOW, thresholds=LIMITS)
    assert set(verdicts) == {x.node for x in samples}
    assert {n for n, v in verdicts.items() if v.slow} == slow
    assert {n for n, v in verdicts.items() if not v.judged} == unjudged
    for name in slow:
        assert verdicts[name].reason.startswith("network-slow in leaf-1: ")
    for name in unjudged:
        assert verdicts[name].reason.startswith("not judged: ")
