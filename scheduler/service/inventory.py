"""Inventory service: nodes, topology domains, node events; builds the core :class:`Inventory`.

Nodes and domains are platform-wide: platform administrators write them, any principal with
``inventory:read`` in its own tenant reads them. Every node says whether it is ``simulated``.
The machine running the service registers itself as a real node on every start; the demo
inventory (``stic up --demo``) is simulated and says so, also in the platform's read-only label
``stic.io/simulated`` (``"true"``/``"false"``) that jobs can select on.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler.model import (
    Accelerator,
    AcceleratorModel,
    Arch,
    HealthStatus,
    Inventory,
    LinkGroup,
    LinkKind,
    ModelError,
    Node,
    NodeHealth,
    Topology,
    TopologyDomain,
    Vendor,
)
from scheduler.model import labels as node_labels
from scheduler.model.inventories import demo_inventory, local_node
from scheduler.model.topology import DEFAULT_TIERS, FabricKind, RdmaFabric
from scheduler.service import schemas
from scheduler.service.models import DomainRow, NodeEventRow, NodeRow, TaskRow
from scheduler.service.node_view import effective_health, lost_devices, lost_out, network_out
from services.kernel.auth import Principal
from services.kernel.db import utcnow
from services.kernel.errors import BadRequest, Conflict, Forbidden, NotFound

ACTIVE_TASK_STATES = ("placed", "running", "backoff")
_seq = [0]


def next_seq() -> int:
    """A strictly increasing sequence number for ordering events written by this process."""
    _seq[0] = max(_seq[0] + 1, time.time_ns())
    return _seq[0]


def require_admin(principal: Principal) -> None:
    """Raise Forbidden unless the principal is a platform administrator."""
    if not principal.is_platform_admin:
        raise Forbidden("only platform administrators manage the cluster inventory")


def require_reader(principal: Principal) -> None:
    """Raise Forbidden unless the principal may read the inventory."""
    principal.require("inventory:read", tenant_id=principal.tenant_id)


def core_node(row: NodeRow) -> Node:
    """The core :class:`Node` of a row; cordoned and draining nodes are unhealthy to the scheduler,
    devices reported lost are not allocatable, the network verdict travels in its health, and its
    labels carry the platform's (``stic.io/simulated`` and friends) on top of its own."""
    accelerators: tuple[Accelerator, ...] = ()
    if row.accelerator:
        a = row.accelerator
        model = AcceleratorModel(Vendor(a["vendor"]), a["model"], a["memory_mib"], a["compute_units"])
        count, numa = a["count"], max(1, a.get("numa_nodes", 1))
        bad = set(a.get("unhealthy", [])) | set(lost_devices(row))
        accelerators = tuple(
            Accelerator(i, model, numa_node=i * numa // count, healthy=i not in bad) for i in range(count)
        )
    links = tuple(
        LinkGroup(LinkKind(g["kind"]), tuple(g["members"]), float(g["bandwidth_gbps"])) for g in row.links
    )
    effective, why = effective_health(row)
    status, reasons = HealthStatus(effective), tuple(why)
    if row.cordoned:
        status, reasons = HealthStatus.UNHEALTHY, (*reasons, f"cordoned: {row.cordon_reason}")
    return Node(
        row.name,
        row.cpu_milli,
        row.memory_mib,
        Arch(row.arch),
        accelerators,
        links,
        NodeHealth(status, max(1.0, row.slowdown), reasons, network_slow=row.network_slow),
        MappingProxyType(node_view_labels(row)),
    )


def node_view_labels(row: NodeRow) -> dict[str, str]:
    """The node's own labels plus the platform's read-only ones (which always win)."""
    return node_labels.with_platform_labels(
        row.labels or {}, name=row.name, arch=row.arch, simulated=row.simulated
    )


@dataclass(frozen=True)
class InventoryView:
    """The core inventory plus a fingerprint that changes whenever the cluster changes."""

    inventory: Inventory
    fingerprint: str
    nodes: dict[str, NodeRow]


async def load_inventory(session: AsyncSession) -> InventoryView:
    """Build the core :class:`Inventory` from the tables."""
    rows = list((await session.execute(select(NodeRow).order_by(NodeRow.name))).scalars())
    domains = list((await session.execute(select(DomainRow).order_by(DomainRow.name))).scalars())
    digest = hashlib.sha256()
    for r in rows:
        digest.update(
            f"{r.name}|{r.cordoned}|{r.health}|{r.slowdown}|{r.accelerator}|{r.leaf}|"
            f"{r.network_slow}|{sorted(lost_devices(r))}|{r.simulated}|"
            f"{sorted((r.labels or {}).items())};".encode()
        )
    for d in domains:
        digest.update(f"{d.name}|{d.parent};".encode())
    topology = Topology(
        DEFAULT_TIERS,
        {
            d.name: TopologyDomain(
                d.name, d.tier, d.parent, RdmaFabric(FabricKind(d.fabric_kind), d.bandwidth_gbps, d.simulated)
            )
            for d in domains
        },
        {r.name: r.leaf for r in rows},
    )
    simulated = any(r.simulated for r in rows) or any(d.simulated for d in domains)
    inventory = Inventory(tuple(core_node(r) for r in rows), topology, simulated=simulated)
    return InventoryView(inventory, digest.hexdigest(), {r.name: r for r in rows})


async def record_node_event(session: AsyncSession, node: str, kind: str, message: str) -> None:
    """Append an event to a node's history (committed with the caller's transaction)."""
    session.add(NodeEventRow(node=node, kind=kind, message=message[:1000], seq=next_seq()))


def _accelerator_json(spec: schemas.AcceleratorSpec | None) -> dict[str, Any] | None:
    return None if spec is None else spec.model_dump(mode="json")


async def _check_leaf(session: AsyncSession, leaf: str) -> None:
    domain = (await session.execute(select(DomainRow).where(DomainRow.name == leaf))).scalar_one_or_none()
    if domain is None or domain.tier != "leaf":
        raise BadRequest(f"leaf: '{leaf}' is not a leaf domain of the topology", detail={"field": "leaf"})


def _validate_node(row: NodeRow) -> None:
    try:
        core_node(row)
    except ModelError as exc:
        raise BadRequest(f"{exc.field}: {exc.message}", detail={"field": exc.field}) from exc


async def register_node(
    *, session: AsyncSession, principal: Principal, node_in: schemas.NodeCreate
) -> NodeRow:
    """Register a node (platform admin). 409 if the name is taken; 400 naming a bad field."""
    require_admin(principal)
    if (await session.execute(select(NodeRow).where(NodeRow.name == node_in.name))).scalar_one_or_none():
        raise Conflict(f"node '{node_in.name}' already exists", detail={"field": "name"})
    await _check_leaf(session, node_in.leaf)
    if node_in.accelerators is not None:
        bad = [i for i in node_in.accelerators.unhealthy if i >= node_in.accelerators.count]
        if bad:
            raise BadRequest(f"accelerators.unhealthy: no device {bad[0]}", detail={"field": "accelerators"})
    row = NodeRow(
        name=node_in.name,
        cpu_milli=node_in.cpu_milli,
        memory_mib=node_in.memory_mib,
        arch=node_in.arch.value,
        accelerator=_accelerator_json(node_in.accelerators),
        links=[link.model_dump(mode="json") for link in node_in.links],
        labels=dict(node_in.labels),
        leaf=node_in.leaf,
        simulated=node_in.simulated,
        health="healthy",
        slowdown=1.0,
        health_reasons=[],
    )
    _validate_node(row)
    session.add(row)
    await record_node_event(session, row.name, "registered", "simulated" if row.simulated else "real")
    await session.flush()
    return row


async def get_node_row(session: AsyncSession, name: str) -> NodeRow:
    """The node named ``name`` or NotFound."""
    row = (await session.execute(select(NodeRow).where(NodeRow.name == name))).scalar_one_or_none()
    if row is None:
        raise NotFound.of("node", name)
    return row


async def node_usage(session: AsyncSession, names: Sequence[str] | None = None) -> dict[str, tuple[int, int]]:
    """Node name → (active tasks, milli-accelerators held)."""
    usage: dict[str, tuple[int, int]] = {}
    query = select(TaskRow).where(TaskRow.state.in_(ACTIVE_TASK_STATES), TaskRow.node.is_not(None))
    if names is not None:
        query = query.where(TaskRow.node.in_(names))
    rows = (await session.execute(query)).scalars()
    for task in rows:
        assert task.node is not None
        count, milli = usage.get(task.node, (0, 0))
        usage[task.node] = (count + 1, milli + len(task.devices) * task.accel_milli)
    return usage


def node_out(row: NodeRow, usage: dict[str, tuple[int, int]]) -> schemas.NodeOut:
    """The API view of a node."""
    tasks, milli = usage.get(row.name, (0, 0))
    health, reasons = effective_health(row)
    return schemas.NodeOut(
        id=row.id,
        name=row.name,
        cpu_milli=row.cpu_milli,
        memory_mib=row.memory_mib,
        arch=row.arch,
        accelerators=row.accelerator,
        links=list(row.links),
        labels=node_view_labels(row),
        leaf=row.leaf,
        health=health,
        slowdown=row.slowdown,
        health_reasons=reasons,
        cordoned=row.cordoned,
        cordon_reason=row.cordon_reason,
        simulated=row.simulated,
        local=row.local,
        heartbeat_at=row.heartbeat_at,
        network=network_out(row),
        lost_accelerators=lost_out(row),
        allocated={"accelerators": milli},
        tasks=tasks,
        created_at=row.created_at,
    )


async def list_nodes(*, session: AsyncSession, principal: Principal) -> list[schemas.NodeOut]:
    """Every node, by name."""
    require_reader(principal)
    rows = list((await session.execute(select(NodeRow).order_by(NodeRow.name))).scalars())
    usage = await node_usage(session)
    return [node_out(r, usage) for r in rows]


async def get_node(*, session: AsyncSession, principal: Principal, name: str) -> schemas.NodeOut:
    """One node."""
    require_reader(principal)
    row = await get_node_row(session, name)
    return node_out(row, await node_usage(session, [name]))


async def node_events(*, session: AsyncSession, principal: Principal, name: str) -> list[NodeEventRow]:
    """A node's events, oldest first."""
    require_reader(principal)
    await get_node_row(session, name)
    query = select(NodeEventRow).where(NodeEventRow.node == name).order_by(NodeEventRow.seq)
    return list((await session.execute(query)).scalars())


async def set_labels(
    *, session: AsyncSession, principal: Principal, name: str, patch: schemas.NodeLabelsPatch
) -> NodeRow:
    """Set (string) or remove (``None``) the node's own labels (platform admin); others stay.

    The platform's ``stic.io/`` labels are refused by the schema. Changing labels changes the
    inventory fingerprint, so jobs marked unschedulable for want of a matching node are retried.
    """
    require_admin(principal)
    row = await get_node_row(session, name)
    current = dict(row.labels or {})
    for key, value in patch.labels.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    if len(current) > 32:
        raise BadRequest("labels: a node holds at most 32 labels", detail={"field": "labels"})
    row.labels = current  # a new dict, so the JSON column is written
    changes = ", ".join(f"{k}={v}" if v is not None else f"{k}-" for k, v in sorted(patch.labels.items()))
    await record_node_event(session, name, "labelled", f"{changes} (by {principal.name})")
    await session.flush()
    return row


async def cordon(
    *, session: AsyncSession, principal: Principal | None, name: str, reason: str, drain: bool = False
) -> NodeRow:
    """Stop placing new tasks on the node; ``drain`` also moves its running jobs elsewhere.

    ``principal`` None means the scheduler itself (automatic cordon after a fault).
    """
    if principal is not None:
        require_admin(principal)
    row = await get_node_row(session, name)
    row.cordoned = True
    row.cordon_reason = reason or ("drained" if drain else "cordoned by an operator")
    row.draining = row.draining or drain
    who = "automatically" if principal is None else f"by {principal.name}"
    await record_node_event(session, name, "drained" if drain else "cordoned", f"{row.cordon_reason} ({who})")
    return row


async def uncordon(*, session: AsyncSession, principal: Principal, name: str) -> NodeRow:
    """Let the scheduler place tasks on the node again (and forget its fault count)."""
    require_admin(principal)
    row = await get_node_row(session, name)
    row.cordoned, row.draining, row.cordon_reason, row.failures = False, False, "", 0
    await record_node_event(session, name, "uncordoned", f"by {principal.name}")
    return row


async def delete_node(*, session: AsyncSession, principal: Principal, name: str) -> None:
    """Remove a node that holds no active task (drain it first)."""
    require_admin(principal)
    row = await get_node_row(session, name)
    tasks, _ = (await node_usage(session, [name])).get(name, (0, 0))
    if tasks:
        raise Conflict(f"node '{name}' still holds {tasks} task(s); drain it first", detail={"tasks": tasks})
    await session.delete(row)


# --- topology -------------------------------------------------------------------------------


async def put_domain(
    *, session: AsyncSession, principal: Principal, name: str, domain_in: schemas.DomainCreate
) -> DomainRow:
    """Create or update a switch domain; its parent must be a domain one tier up."""
    require_admin(principal)
    level = DEFAULT_TIERS.index(domain_in.tier)
    if domain_in.parent is None and level != len(DEFAULT_TIERS) - 1:
        raise BadRequest(f"parent: a {domain_in.tier} domain needs a parent", detail={"field": "parent"})
    if domain_in.parent is not None:
        parent = (
            await session.execute(select(DomainRow).where(DomainRow.name == domain_in.parent))
        ).scalar_one_or_none()
        if parent is None or DEFAULT_TIERS.index(parent.tier) != level + 1:
            raise BadRequest(
                f"parent: '{domain_in.parent}' is not a {DEFAULT_TIERS[min(level + 1, 3)]} domain",
                detail={"field": "parent"},
            )
    row = (await session.execute(select(DomainRow).where(DomainRow.name == name))).scalar_one_or_none()
    if row is not None and row.tier != domain_in.tier:
        raise Conflict(f"domain '{name}' is a {row.tier} domain", detail={"field": "tier"})
    if row is None:
        row = DomainRow(name=name, tier=domain_in.tier)
        session.add(row)
    row.parent = domain_in.parent
    row.fabric_kind = domain_in.fabric_kind.value
    row.bandwidth_gbps = domain_in.bandwidth_gbps
    row.simulated = domain_in.simulated
    await session.flush()
    return row


async def delete_domain(*, session: AsyncSession, principal: Principal, name: str) -> None:
    """Remove a domain that has no child domain and no node."""
    require_admin(principal)
    row = (await session.execute(select(DomainRow).where(DomainRow.name == name))).scalar_one_or_none()
    if row is None:
        raise NotFound.of("domain", name)
    child = (await session.execute(select(DomainRow.name).where(DomainRow.parent == name))).first()
    node = (await session.execute(select(NodeRow.name).where(NodeRow.leaf == name))).first()
    if child is not None or node is not None:
        raise Conflict(f"domain '{name}' is not empty", detail={"domain": name})
    await session.delete(row)


async def topology(*, session: AsyncSession, principal: Principal) -> schemas.TopologyOut:
    """The whole network tree."""
    require_reader(principal)
    domains = list(
        (await session.execute(select(DomainRow).order_by(DomainRow.tier, DomainRow.name))).scalars()
    )
    nodes = list((await session.execute(select(NodeRow.name, NodeRow.leaf, NodeRow.simulated))).all())
    return schemas.TopologyOut(
        tiers=list(DEFAULT_TIERS),
        domains=[schemas.DomainOut.model_validate(d) for d in domains],
        nodes={n.name: n.leaf for n in nodes},
        simulated=any(d.simulated for d in domains) or any(n.simulated for n in nodes),
    )


# --- seeding --------------------------------------------------------------------------------

LOCAL_DOMAINS = (
    ("local-pod", "pod", None),
    ("local-spine", "spine", "local-pod"),
    ("local-leaf", "leaf", "local-spine"),
)


async def _ensure_domain(
    session: AsyncSession, name: str, tier: str, parent: str | None, fabric: RdmaFabric
) -> None:
    if (await session.execute(select(DomainRow).where(DomainRow.name == name))).scalar_one_or_none() is None:
        session.add(
            DomainRow(
                name=name,
                tier=tier,
                parent=parent,
                fabric_kind=fabric.kind.value,
                bandwidth_gbps=fabric.bandwidth_gbps,
                simulated=fabric.simulated,
            )
        )
        await session.flush()


def _row_from_core(node: Node, leaf: str, *, simulated: bool, local: bool) -> NodeRow:
    model = node.accelerator_model
    accelerator = None
    if model is not None:
        accelerator = {
            "vendor": model.vendor.value,
            "model": model.model,
            "memory_mib": model.memory_mib,
            "compute_units": model.compute_units,
            "count": len(node.accelerators),
            "numa_nodes": max(a.numa_node for a in node.accelerators) + 1,
            "unhealthy": [a.index for a in node.accelerators if not a.healthy],
        }
    return NodeRow(
        name=node.name,
        cpu_milli=node.cpu_milli,
        memory_mib=node.memory_mib,
        arch=node.arch.value,
        accelerator=accelerator,
        links=[
            {"kind": g.kind.value, "members": list(g.members), "bandwidth_gbps": g.bandwidth_gbps}
            for g in node.links
        ],
        labels={k: v for k, v in node.labels.items() if not node_labels.is_reserved(k)},
        leaf=leaf,
        simulated=simulated,
        local=local,
        health="healthy",
        slowdown=1.0,
        health_reasons=[],
    )


async def ensure_local_node(session: AsyncSession, *, name: str | None = None) -> NodeRow:
    """Register (or refresh) this machine as a real, CPU-only node under ``local-leaf``."""
    real = RdmaFabric(FabricKind.NONE, 0.0, simulated=False)
    for domain, tier, parent in LOCAL_DOMAINS:
        await _ensure_domain(session, domain, tier, parent, real)
    node = local_node(name=name)
    row = (await session.execute(select(NodeRow).where(NodeRow.name == node.name))).scalar_one_or_none()
    if row is None:
        row = _row_from_core(node, "local-leaf", simulated=False, local=True)
        session.add(row)
        await record_node_event(session, node.name, "registered", "this machine (real)")
    else:
        row.cpu_milli, row.memory_mib, row.arch, row.local = (
            node.cpu_milli,
            node.memory_mib,
            node.arch.value,
            True,
        )
    row.heartbeat_at = utcnow()
    await session.flush()
    return row


async def seed_demo(session: AsyncSession) -> list[str]:
    """Register the simulated demo inventory (idempotent); returns the names of nodes added."""
    demo = demo_inventory()
    for name in sorted(
        demo.topology.domains, key=lambda d: -demo.topology.level(demo.topology.domains[d].tier)
    ):
        d = demo.topology.domains[name]
        await _ensure_domain(session, d.name, d.tier, d.parent, d.fabric)
    added = []
    for node in demo.nodes:
        exists = (await session.execute(select(NodeRow.id).where(NodeRow.name == node.name))).first()
        if exists is None:
            session.add(_row_from_core(node, demo.topology.node_leaf[node.name], simulated=True, local=False))
            await record_node_event(session, node.name, "registered", "demo inventory (simulated)")
            added.append(node.name)
    await session.flush()
    return added
