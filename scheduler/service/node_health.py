"""Node agent heartbeats: liveness, health, network figures (6.2.3.3 d) and lost devices (6.4.3 c).

* Network: the reported figures are stored and every node of the reporter's leaf domain is judged
  again against its peers (:mod:`scheduler.recovery.network`); a change of verdict is a node event
  (``network_slow`` / ``network_ok``). Multi-node gangs avoid network-slow nodes (health plugin).
* Devices: a device missing from ``visible_accelerators`` or named in ``accelerator_errors`` is
  marked lost — not allocatable, the node reads degraded with the reason, a node event — and the
  monitor recovers the tasks that held it by their job's recovery policy. A lost device that a
  later heartbeat sees healthy again is flagged ``seen_again`` (node event) but is **not** returned
  to service automatically (a card that fell off the bus tends to fall again): a platform
  administrator returns it with :func:`restore_accelerator`, which refuses while the agent has not
  seen the device healthy since it was lost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.recovery.network import NetworkSample, NetworkThresholds, judge_domain
from scheduler.service import schemas
from scheduler.service.inventory import get_node_row, record_node_event, require_admin
from scheduler.service.models import NodeRow
from scheduler.service.options import SchedulerOptions
from services.kernel.auth import Principal
from services.kernel.db import utcnow
from services.kernel.errors import Conflict, NotFound, STICError


class InvalidReport(STICError):
    """A heartbeat that names devices the node does not have (same shape as validation errors)."""

    status_code = 422
    code = "validation_error"

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(
            f"invalid request: {field}: {problem}", detail=[{"field": field, "problem": problem}]
        )


def thresholds(options: SchedulerOptions) -> NetworkThresholds:
    """The network-slow thresholds of the scheduler options."""
    return NetworkThresholds(
        rtt_factor=options.network_rtt_factor,
        bandwidth_fraction=options.network_bandwidth_fraction,
        retransmit_floor=options.network_retransmit_floor,
        min_peers=options.network_min_peers,
        max_age_s=options.network_max_age_s,
    )


def _sample(row: NodeRow) -> NetworkSample | None:
    figures = row.network or {}
    if "rtt_us" not in figures or "reported_at" not in figures:
        return None
    return NetworkSample(
        row.name,
        float(figures["rtt_us"]),
        datetime.fromisoformat(str(figures["reported_at"])),
        figures.get("bandwidth_gbps"),
        figures.get("retransmit_ratio"),
    )


async def judge_network(
    session: AsyncSession, leaf: str, *, now: datetime, limits: NetworkThresholds
) -> None:
    """Judge every reporting node of ``leaf`` again; record an event where the verdict flips."""
    rows = list((await session.execute(select(NodeRow).where(NodeRow.leaf == leaf))).scalars())
    samples = [s for s in (_sample(r) for r in rows) if s is not None]
    verdicts = judge_domain(samples, domain=leaf, now=now, thresholds=limits)
    for row in rows:
        verdict = verdicts.get(row.name)
        if verdict is None:
            continue
        if verdict.slow != row.network_slow:
            kind = "network_slow" if verdict.slow else "network_ok"
            label = " (figures of a simulated node, reported through the API)" if row.simulated else ""
            await record_node_event(session, row.name, kind, verdict.reason + label)
        row.network_slow, row.network_verdict = verdict.slow, verdict.reason[:500]
        row.network = {**row.network, "judged": verdict.judged}


async def apply_network(
    session: AsyncSession,
    row: NodeRow,
    figures: schemas.NetworkFigures,
    *,
    now: datetime,
    limits: NetworkThresholds,
) -> None:
    """Store ``row``'s new figures and judge its domain again."""
    row.network = {**figures.model_dump(mode="json"), "reported_at": now.isoformat()}
    await session.flush()
    await judge_network(session, row.leaf, now=now, limits=limits)


def _check_indices(row: NodeRow, report: schemas.NodeHealthSet) -> int:
    count = int(row.accelerator["count"]) if row.accelerator else 0
    for field, indices in (
        ("body.visible_accelerators", report.visible_accelerators or []),
        ("body.accelerator_errors", [e.index for e in report.accelerator_errors]),
    ):
        bad = [i for i in indices if i >= count]
        if bad:
            raise InvalidReport(field, f"node {row.name} has {count} accelerator(s); no device {bad[0]}")
    return count


async def apply_devices(
    session: AsyncSession, row: NodeRow, report: schemas.NodeHealthSet, *, now: datetime
) -> None:
    """Mark devices lost or seen again from a heartbeat (see module docs); 422 for unknown indices."""
    count = _check_indices(row, report)
    if report.visible_accelerators is None and not report.accelerator_errors:
        return
    errors = {e.index: f"{e.kind}{': ' + e.detail if e.detail else ''}" for e in report.accelerator_errors}
    missing = set()
    if report.visible_accelerators is not None:
        missing = set(range(count)) - set(report.visible_accelerators)
    retired = set(row.accelerator.get("unhealthy", [])) if row.accelerator else set()
    bad = {i: errors.get(i, "not visible to the node agent") for i in (missing | set(errors)) - retired}
    entries: dict[int, dict[str, Any]] = {int(d["index"]): dict(d) for d in row.lost_devices or []}
    for index, why in sorted(bad.items()):
        entry = entries.get(index)
        if entry is None:
            entries[index] = {"index": index, "reason": why, "since": now.isoformat(), "seen_again": False}
            await record_node_event(session, row.name, "accelerator_lost", f"accelerator {index}: {why}")
        elif entry.get("seen_again"):
            entry.update(reason=why, seen_again=False)
            await record_node_event(
                session, row.name, "accelerator_lost", f"accelerator {index} again: {why}"
            )
    if report.visible_accelerators is not None:
        for index, entry in entries.items():
            if index not in bad and not entry.get("seen_again"):
                entry["seen_again"] = True
                await record_node_event(
                    session,
                    row.name,
                    "accelerator_visible",
                    f"accelerator {index} is visible and healthy again; it stays out of service until a "
                    "platform administrator restores it "
                    f"(POST /v1/nodes/{row.name}/accelerators/{index}/restore)",
                )
    row.lost_devices = [entries[i] for i in sorted(entries)]


async def heartbeat(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    health_in: schemas.NodeHealthSet,
    options: SchedulerOptions,
) -> NodeRow:
    """A node agent reports liveness and health; from now on the node is judged by its heartbeats.

    Status, slowdown and reasons replace the previous report; network figures and device visibility
    are applied only when present (see module docs). 422 naming the field for unknown device indices.
    """
    require_admin(principal)
    row = await get_node_row(session, name)
    now = utcnow()
    await apply_devices(session, row, health_in, now=now)
    row.heartbeat_at = now
    if (row.health, row.slowdown) != (health_in.status.value, health_in.slowdown):
        await record_node_event(
            session, name, "health", f"{health_in.status.value}, slowdown {health_in.slowdown:g}"
        )
    row.health, row.slowdown, row.health_reasons = (
        health_in.status.value,
        health_in.slowdown,
        list(health_in.reasons),
    )
    if health_in.network is not None:
        await apply_network(session, row, health_in.network, now=now, limits=thresholds(options))
    return row


async def restore_accelerator(
    *, session: AsyncSession, principal: Principal, name: str, index: int
) -> NodeRow:
    """Return a lost device to service (platform admin). A device that is not lost is left as it is.

    404 when the node has no such device; 409 while the node agent has not seen it healthy since it
    was lost.
    """
    require_admin(principal)
    row = await get_node_row(session, name)
    count = int(row.accelerator["count"]) if row.accelerator else 0
    if not 0 <= index < count:
        raise NotFound(f"node '{name}' has no accelerator {index}", detail={"field": "index"})
    entries = [dict(d) for d in row.lost_devices or []]
    entry = next((d for d in entries if int(d["index"]) == index), None)
    if entry is None:
        return row
    if not entry.get("seen_again"):
        raise Conflict(
            f"accelerator {index} of {name} has not been seen healthy by the node agent since it was lost",
            detail={"field": "index", "reason": entry.get("reason")},
        )
    row.lost_devices = [d for d in entries if d is not entry]
    await record_node_event(session, name, "accelerator_restored", f"accelerator {index} by {principal.name}")
    return row
