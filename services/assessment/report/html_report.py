"""The HTML report: one self-contained page (inline CSS, no scripts, no external assets), bilingual.

It renders the JSON report's data through ``templates/report.html.j2`` so both always agree.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from services.assessment.domain import AssessmentRun
from services.assessment.report.json_report import render_json

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "verified": ("已验证", "verified"),
    "attested": ("已声明", "attested"),
    "simulated": ("模拟验证", "simulated"),
    "failed": ("未通过", "failed"),
    "error": ("探针错误", "error"),
    "not_implemented": ("未实现", "not implemented"),
    "not_attested": ("未提供声明", "not attested"),
}
MODALITY_LABELS = {"mandatory": "应 mandatory", "recommended": "宜 recommended", "optional": "可 optional"}
JUDGEMENT_LABELS = {
    "satisfied": "✓",
    "not_required": "—",
    "not_met": "✗",
    "not_recorded": "未记录",
}

_environment = Environment(
    loader=PackageLoader("services.assessment.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


_environment.filters["percent"] = _percent


def render_html(run: AssessmentRun) -> str:
    """The assessment as a complete HTML document (UTF-8 text)."""
    report: dict[str, Any] = render_json(run)
    levels = {d.level: d for d in run.catalogue.levels}
    template = _environment.get_template("report.html.j2")
    return template.render(
        report=report,
        levels=levels,
        status_labels=STATUS_LABELS,
        modality_labels=MODALITY_LABELS,
        judgement_labels=JUDGEMENT_LABELS,
        chapters_top=[c for c in report["functional"]["chapters"] if c["depth"] == 2],
        chapters_detail=[c for c in report["functional"]["chapters"] if c["depth"] == 3],
    )
