"""Dependencies of the scheduler routers: the controller and "commit, then wake the loop"."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from scheduler.service.controller import Controller
from services.kernel.errors import Conflict, STICError

NodeName = Annotated[str, Path(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", description="Node name")]


class SchedulerUnavailable(STICError):
    """The scheduler service is not started in this process."""

    status_code = 503
    code = "scheduler_unavailable"


def get_controller(request: Request) -> Controller:
    """The app's scheduling loop (503 before start-up completed)."""
    controller: Controller | None = getattr(request.app.state, "scheduler", None)
    if controller is None:
        raise SchedulerUnavailable("the scheduler is not running in this process")
    return controller


ControllerDep = Annotated[Controller, Depends(get_controller)]


async def commit_and_wake(session: AsyncSession, controller: Controller) -> None:
    """Commit the request's changes, then wake the loop so it acts on them at once.

    A lost optimistic-concurrency race with the loop is a 409: the caller may retry.
    """
    try:
        await session.commit()
    except StaleDataError as exc:
        await session.rollback()
        raise Conflict("the job changed while the request ran; retry", detail={"retry": True}) from exc
    controller.wake()
