"""Network-slow nodes (6.2.3.3 d): a node is judged against the peers of its switch domain (pure).

Node agents report measured figures (:class:`NetworkSample`): round-trip time to their leaf peers in
microseconds, achieved bandwidth in Gb/s and the TCP retransmit (or RDMA error) ratio. A node is
*network-slow* when, compared with the median of its peers in the same leaf domain (the node itself
left out),

* its RTT exceeds ``rtt_factor`` × the peers' median RTT, or
* its bandwidth is below ``bandwidth_fraction`` × the peers' median bandwidth, or
* its retransmit ratio exceeds both ``retransmit_floor`` and ``rtt_factor`` × the peers' median ratio.

There is no absolute threshold on RTT or bandwidth: a fabric that is slow everywhere is not a slow
node. A node is judged only when at least ``min_peers`` other nodes of its domain reported figures no
older than ``max_age_s``; otherwise (a single-node domain, such as the local machine's) the verdict
says it was not judged and why. A node's own stale figures are not judged either.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class NetworkSample:
    """Figures one node reported at ``at``; ``bandwidth_gbps`` and ``retransmit_ratio`` are optional."""

    node: str
    rtt_us: float
    at: datetime
    bandwidth_gbps: float | None = None
    retransmit_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class NetworkThresholds:
    """When a node counts as network-slow relative to its domain's peers (see module docs)."""

    rtt_factor: float = 3.0
    bandwidth_fraction: float = 0.5
    retransmit_floor: float = 0.01
    min_peers: int = 2
    max_age_s: float = 300.0


@dataclass(frozen=True, slots=True)
class NetworkVerdict:
    """The judgement of one node: ``judged`` False means too few fresh peers (``reason`` says why)."""

    judged: bool
    slow: bool
    reason: str


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _problems(sample: NetworkSample, peers: Sequence[NetworkSample], t: NetworkThresholds) -> list[str]:
    problems = []
    rtt = _median([p.rtt_us for p in peers])
    if rtt is not None and rtt > 0 and sample.rtt_us > t.rtt_factor * rtt:
        problems.append(
            f"RTT {sample.rtt_us:g} us is {sample.rtt_us / rtt:.1f}x the peers' median {rtt:g} us"
        )
    bandwidth = _median([p.bandwidth_gbps for p in peers])
    if (
        bandwidth
        and sample.bandwidth_gbps is not None
        and sample.bandwidth_gbps < t.bandwidth_fraction * bandwidth
    ):
        problems.append(
            f"bandwidth {sample.bandwidth_gbps:g} Gb/s is {sample.bandwidth_gbps / bandwidth:.2f}x "
            f"the peers' median {bandwidth:g} Gb/s"
        )
    ratio = _median([p.retransmit_ratio for p in peers])
    mine = sample.retransmit_ratio
    if ratio is not None and mine is not None and mine > t.retransmit_floor and mine > t.rtt_factor * ratio:
        problems.append(f"retransmit ratio {mine:g} against the peers' median {ratio:g}")
    return problems


def judge_domain(
    samples: Sequence[NetworkSample], *, domain: str, now: datetime, thresholds: NetworkThresholds
) -> dict[str, NetworkVerdict]:
    """A verdict for every node of ``domain`` that has a sample (one sample per node)."""
    fresh = [s for s in samples if (now - s.at).total_seconds() <= thresholds.max_age_s]
    out: dict[str, NetworkVerdict] = {}
    for sample in samples:
        if sample not in fresh:
            out[sample.node] = NetworkVerdict(
                False, False, f"not judged: its figures are older than {thresholds.max_age_s:g} s"
            )
            continue
        peers = [p for p in fresh if p.node != sample.node]
        if len(peers) < thresholds.min_peers:
            out[sample.node] = NetworkVerdict(
                False,
                False,
                f"not judged: {len(peers)} peer(s) in domain {domain} reported fresh figures "
                f"(needs {thresholds.min_peers})",
            )
            continue
        problems = _problems(sample, peers, thresholds)
        if problems:
            text = "; ".join(problems)
            out[sample.node] = NetworkVerdict(True, True, f"network-slow in {domain}: {text}")
        else:
            out[sample.node] = NetworkVerdict(
                True, False, f"network within bounds of {len(peers)} peers in {domain}"
            )
    return out
