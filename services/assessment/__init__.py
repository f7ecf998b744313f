"""STIC self-assessment: the catalogue of the standard, probes, attestations, performance, grading, reports.

Entry points: :func:`run_assessment` (assess a deployment through an ``httpx.AsyncClient``) and the
renderers :func:`render_json`, :func:`render_html`, :func:`render_oscal`. ``stic assess`` is the CLI.
"""

from services.assessment.domain import AssessmentRun
from services.assessment.report import render_html, render_json, render_oscal
from services.assessment.runner import run_assessment

__all__ = ["AssessmentRun", "render_html", "render_json", "render_oscal", "run_assessment"]
