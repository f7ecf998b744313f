"""HTTP routes of the inventory: nodes and the network topology. No logic here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from scheduler.service import inventory, node_health, schemas
from scheduler.service.deps import ControllerDep, NodeName, commit_and_wake
from services.kernel.deps import CurrentPrincipal, SessionDep
from services.kernel.pagination import Page, PageDep, page_of

router = APIRouter(prefix="/v1", tags=["inventory"])


@router.post(
    "/nodes", response_model=schemas.NodeOut, status_code=status.HTTP_201_CREATED, summary="Register a node"
)
async def register_node(
    body: schemas.NodeCreate, session: SessionDep, principal: CurrentPrincipal, controller: ControllerDep
) -> object:
    row = await inventory.register_node(session=session, principal=principal, node_in=body)
    await commit_and_wake(session, controller)
    return inventory.node_out(row, {})


@router.get("/nodes", response_model=Page[schemas.NodeOut], summary="Every node (simulated ones say so)")
async def list_nodes(session: SessionDep, principal: CurrentPrincipal, page: PageDep) -> object:
    nodes = await inventory.list_nodes(session=session, principal=principal)
    return page_of(nodes[page.offset : page.offset + page.limit], len(nodes), page)


@router.get("/nodes/{name}", response_model=schemas.NodeOut)
async def get_node(name: NodeName, session: SessionDep, principal: CurrentPrincipal) -> object:
    return await inventory.get_node(session=session, principal=principal, name=name)


@router.delete("/nodes/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove an empty node")
async def delete_node(
    name: NodeName, session: SessionDep, principal: CurrentPrincipal, controller: ControllerDep
) -> None:
    await inventory.delete_node(session=session, principal=principal, name=name)
    await commit_and_wake(session, controller)


@router.patch(
    "/nodes/{name}/labels",
    response_model=schemas.NodeOut,
    summary="Set or remove a node's own labels (null removes; stic.io/ labels are the platform's)",
)
async def set_labels(
    name: NodeName,
    body: schemas.NodeLabelsPatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    row = await inventory.set_labels(session=session, principal=principal, name=name, patch=body)
    await commit_and_wake(session, controller)
    return inventory.node_out(row, await inventory.node_usage(session, [name]))


@router.get("/nodes/{name}/events", response_model=list[schemas.NodeEventOut])
async def node_events(name: NodeName, session: SessionDep, principal: CurrentPrincipal) -> object:
    return await inventory.node_events(session=session, principal=principal, name=name)


@router.post("/nodes/{name}/cordon", response_model=schemas.NodeOut, summary="Place nothing new here")
async def cordon(
    name: NodeName,
    body: schemas.NodeReason,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    row = await inventory.cordon(session=session, principal=principal, name=name, reason=body.reason)
    await commit_and_wake(session, controller)
    return inventory.node_out(row, await inventory.node_usage(session, [name]))


@router.post(
    "/nodes/{name}/drain", response_model=schemas.NodeOut, summary="Cordon and move its jobs elsewhere"
)
async def drain(
    name: NodeName,
    body: schemas.NodeReason,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    row = await inventory.cordon(
        session=session, principal=principal, name=name, reason=body.reason, drain=True
    )
    await commit_and_wake(session, controller)
    return inventory.node_out(row, await inventory.node_usage(session, [name]))


@router.post("/nodes/{name}/uncordon", response_model=schemas.NodeOut)
async def uncordon(
    name: NodeName, session: SessionDep, principal: CurrentPrincipal, controller: ControllerDep
) -> object:
    row = await inventory.uncordon(session=session, principal=principal, name=name)
    await commit_and_wake(session, controller)
    return inventory.node_out(row, await inventory.node_usage(session, [name]))


@router.post(
    "/nodes/{name}/heartbeat", response_model=schemas.NodeOut, summary="Node agent: alive, with health"
)
async def heartbeat(
    name: NodeName,
    body: schemas.NodeHealthSet,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    row = await node_health.heartbeat(
        session=session, principal=principal, name=name, health_in=body, options=controller.options
    )
    await commit_and_wake(session, controller)
    return inventory.node_out(row, await inventory.node_usage(session, [name]))


@router.post(
    "/nodes/{name}/accelerators/{index}/restore",
    response_model=schemas.NodeOut,
    summary="Return a device reported lost to service",
)
async def restore_accelerator(
    name: NodeName,
    index: Annotated[int, Path(ge=0, le=63, description="device index on the node")],
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    row = await node_health.restore_accelerator(session=session, principal=principal, name=name, index=index)
    await commit_and_wake(session, controller)
    return inventory.node_out(row, await inventory.node_usage(session, [name]))


@router.get("/topology", response_model=schemas.TopologyOut, summary="The network tree")
async def topology(session: SessionDep, principal: CurrentPrincipal) -> object:
    return await inventory.topology(session=session, principal=principal)


@router.put(
    "/topology/domains/{name}", response_model=schemas.DomainOut, summary="Create or update a switch domain"
)
async def put_domain(
    name: NodeName,
    body: schemas.DomainCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    controller: ControllerDep,
) -> object:
    row = await inventory.put_domain(session=session, principal=principal, name=name, domain_in=body)
    await commit_and_wake(session, controller)
    return row


@router.delete("/topology/domains/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_domain(
    name: NodeName, session: SessionDep, principal: CurrentPrincipal, controller: ControllerDep
) -> None:
    await inventory.delete_domain(session=session, principal=principal, name=name)
    await commit_and_wake(session, controller)
