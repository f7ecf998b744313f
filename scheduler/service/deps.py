"""Dependencies of the scheduler routers: the controller and "commit, then wake the loop"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from scheduler.service.controller import Controller
from services.kernel.errors import Conflict, STICError

T = TypeVar("T")

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


RACE_ATTEMPTS = 5


async def change_and_wake(
    session: AsyncSession, controller: Controller, change: Callable[[], Awaitable[T]]
) -> T:
    """Run ``change`` and commit; when the scheduling loop updated the same job meanwhile
    (optimistic-concurrency race), roll back and run ``change`` again on fresh rows.
    Wakes the loop on success; 409 if the race is lost ``RACE_ATTEMPTS`` times.
    """
    for _ in range(RACE_ATTEMPTS):
        try:
            result = await change()
            await session.commit()
        except StaleDataError:
            await session.rollback()
            session.expunge_all()
            continue
        controller.wake()
        return result
    raise Conflict("the job kept changing while the request ran; retry", detail={"retry": True})
