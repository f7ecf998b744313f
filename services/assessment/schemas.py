"""Request and response bodies of the assessment API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AnyHttpUrl, Field

from services.kernel.types import ResponseModel, StrictModel


class RunCreate(StrictModel):
    """Start an assessment. Without ``target_url`` the platform assesses itself, in process.

    The probes act with the caller's own API key (a platform administrator's), so no
    credential is stored. Attestations and benchmark results are read from the server's
    configured files (``STIC_ASSESSMENT_ATTESTATIONS``, ``STIC_ASSESSMENT_RESULTS_DIR``).
    """

    target_url: Annotated[AnyHttpUrl, Field(max_length=500)] | None = None


class RunOut(ResponseModel):
    """A run; ``report`` (the JSON report) is present once ``status`` is ``finished``."""

    id: str
    status: str
    target: str
    requested_by: str
    created_at: datetime
    finished_at: datetime | None
    level_strict: int | None
    level_with_simulated: int | None
    error: str | None
    report: dict[str, Any] | None = None
