"""What the model-service module keeps on ``app.state.modelservice`` and the request dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import httpx
from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from inference.autoscaler.loop import Autoscaler
from inference.modelservice.controller import ModelServiceController
from inference.modelservice.options import ModelServiceOptions
from inference.modelservice.secrets import KmsSecretOpener
from scheduler.executors.base import Executor
from security.kms.service import KeyManagementService
from services.kernel.auth import Principal
from services.kernel.errors import Conflict, STICError

T = TypeVar("T")
RACE_ATTEMPTS = 5


class ModelServiceUnavailable(STICError):
    """The model-service module is not started in this process."""

    status_code = 503
    code = "modelservice_unavailable"


@dataclass
class ModelServiceRuntime:
    """The module's long-lived parts: options, system principal, shared HTTP client, loops."""

    options: ModelServiceOptions
    system: Principal
    http: httpx.AsyncClient
    app_state: object
    controller: ModelServiceController | None = None
    autoscaler: Autoscaler | None = None
    secrets: KmsSecretOpener | None = None

    @property
    def kms(self) -> KeyManagementService | None:
        """The KMS when the kms module runs in this app."""
        kms: KeyManagementService | None = getattr(self.app_state, "kms", None)
        return kms

    def executor(self) -> Executor | None:
        """The scheduler's executor when the scheduler runs in this app."""
        controller = getattr(self.app_state, "scheduler", None)
        executor: Executor | None = getattr(controller, "executor", None)
        return executor

    def wake_scheduler(self) -> None:
        """Nudge the scheduler (when it runs in this app) after replica jobs changed."""
        scheduler = getattr(self.app_state, "scheduler", None)
        if scheduler is not None:
            scheduler.wake()

    def wake(self) -> None:
        """Nudge the scheduler and the controller after a change."""
        self.wake_scheduler()
        if self.controller is not None:
            self.controller.wake()


def get_runtime(request: Request) -> ModelServiceRuntime:
    """The app's model-service runtime (503 before start-up completed)."""
    runtime: ModelServiceRuntime | None = getattr(request.app.state, "modelservice", None)
    if runtime is None:
        raise ModelServiceUnavailable("the model-service module is not running in this process")
    return runtime


RuntimeDep = Annotated[ModelServiceRuntime, Depends(get_runtime)]


async def change_and_wake(
    session: AsyncSession, runtime: ModelServiceRuntime, change: Callable[[], Awaitable[T]]
) -> T:
    """Run ``change`` and commit; on a lost race with the scheduler or the controller (a job or a
    replica row changed meanwhile) roll back and run it again; 409 after ``RACE_ATTEMPTS``."""
    for _ in range(RACE_ATTEMPTS):
        try:
            result = await change()
            await session.commit()
        except (StaleDataError, IntegrityError):
            await session.rollback()
            session.expunge_all()
            continue
        runtime.wake()
        return result
    raise Conflict("the service kept changing while the request ran; retry", detail={"retry": True})
