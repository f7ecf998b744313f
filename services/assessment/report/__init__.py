"""Renderers of an :class:`~services.assessment.domain.AssessmentRun`: JSON, HTML and OSCAL."""

from services.assessment.report.html_report import render_html
from services.assessment.report.json_report import render_json
from services.assessment.report.oscal import render_oscal, validate_oscal

__all__ = ["render_html", "render_json", "render_oscal", "validate_oscal"]
