"""The assessment service: the standard as a catalogue, live probes, grading and reports."""

from __future__ import annotations

from fastapi import FastAPI

from services.assessment.router import router
from services.assessment.service import cancel_running, fail_interrupted_runs
from services.kernel.app import ServiceModule, create_service_app
from services.kernel.settings import Settings

module = ServiceModule(
    name="assessment",
    title="Self-assessment",
    description="T/ISC grading by section 8: catalogue, live probes, levels, JSON/HTML/OSCAL reports",
    routers=[router],
    on_startup=[fail_interrupted_runs],
    on_shutdown=[cancel_running],
)


def create_app(settings: Settings) -> FastAPI:
    """The assessment service alone (set a target URL in each run to assess another process)."""
    return create_service_app(modules=[module], settings=settings)
