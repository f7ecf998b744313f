"""What a node row means for health: effective status and reasons, lost devices, network verdict.

Pure functions over :class:`NodeRow`, shared by the scheduler's view of a node
(:func:`scheduler.service.inventory.core_node`) and the API's (:func:`~scheduler.service.inventory.node_out`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scheduler.service import schemas
from scheduler.service.models import NodeRow


def lost_devices(row: NodeRow) -> dict[int, str]:
    """Device index → why it was reported lost."""
    return {int(d["index"]): str(d.get("reason", "")) for d in row.lost_devices or []}


def effective_health(row: NodeRow) -> tuple[str, list[str]]:
    """The agent's status and reasons, plus network-slow and lost devices.

    A node the agent reports healthy reads ``degraded`` while it is network-slow or has lost a device.
    """
    extra = []
    if row.network_slow:
        extra.append(row.network_verdict)
    extra.extend(f"accelerator {i} lost: {why}" for i, why in sorted(lost_devices(row).items()))
    status = "degraded" if extra and row.health == "healthy" else row.health
    return status, [*row.health_reasons, *extra]


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def network_out(row: NodeRow) -> schemas.NetworkOut:
    """The API view of the node's network figures and verdict."""
    figures = row.network or {}
    return schemas.NetworkOut(
        rtt_us=figures.get("rtt_us"),
        bandwidth_gbps=figures.get("bandwidth_gbps"),
        retransmit_ratio=figures.get("retransmit_ratio"),
        method=str(figures.get("method", "")),
        reported_at=_time(figures.get("reported_at")),
        judged=bool(figures.get("judged", False)),
        slow=row.network_slow,
        verdict=row.network_verdict,
    )


def lost_out(row: NodeRow) -> list[schemas.LostAcceleratorOut]:
    """The API view of the node's lost devices."""
    out = []
    for d in row.lost_devices or []:
        since = _time(d.get("since"))
        if since is not None:
            out.append(
                schemas.LostAcceleratorOut(
                    index=int(d["index"]),
                    reason=str(d.get("reason", "")),
                    since=since,
                    seen_again=bool(d.get("seen_again", False)),
                )
            )
    return out
