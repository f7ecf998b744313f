"""The JSON, HTML and OSCAL renderings of a run."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import yaml

from services.assessment.digest import sm3_file
from services.assessment.report import render_html, render_json, render_oscal, validate_oscal
from services.assessment.report.oscal import OSCAL_VERSION, find_oscal_schema
from services.assessment.runner import run_assessment


def test_json_report_has_the_required_figures(run_full):
    report = render_json(run_full)
    json.dumps(report)  # serialisable as is
    assert report["catalogue"]["clauses"] == 279
    assert report["catalogue"]["mandatory_6_2_to_6_4"] == 170
    assert report["functional"]["mandatory_met_strict"] == 130
    assert report["functional"]["mandatory_met_with_simulated"] == 170
    assert report["functional"]["rate_strict"] == 130 / 170
    assert report["functional"]["rate_with_simulated"] == 1.0
    assert report["performance"]["rows"] == 46
    assert (report["performance"]["recorded"], report["performance"]["recorded_strict"]) == (46, 44)
    assert (report["level_strict"], report["level_with_simulated"]) == (2, 3)
    assert len(report["results"]) == 279
    first = report["results"][0]
    assert {"id", "modality", "status", "evidence"} <= set(first)
    assert first["status"] == "attested" and first["evidence"][0]["kind"] == "attestation"
    assert set(report["blocking"]["strict"]) == {"3", "4", "5"}
    assert {a["id"] for a in report["ambiguities"]} >= {"8.2.2-6.1d", "6.4.3-no-modal-verb"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def with_attr(self, name: str, value: str | None = None):
        return [a for _, a in self.elements if name in a and (value is None or a[name] == value)]

    def with_class(self, cls: str):
        return [a for _, a in self.elements if cls in (a.get("class") or "").split()]


def test_html_report_shows_level_badges_chapter_bars_and_blockers(run_full):
    page = render_html(run_full)
    parsed = _Collector()
    parsed.feed(page)
    assert page.startswith("<!doctype html>")
    (strict,) = parsed.with_attr("id", "level-strict")
    (simulated,) = parsed.with_attr("id", "level-with-simulated")
    assert (strict["data-level"], simulated["data-level"]) == ("2", "3")
    chapters = {a["data-chapter"] for a in parsed.with_class("chapter-bar")}
    assert {"5.1", "5.6", "6.1", "6.2", "6.3", "6.4", "6.2.4", "6.4.4"} <= chapters
    assert len(parsed.with_attr("data-clause")) == 279
    assert len(parsed.with_attr("data-row")) == 46
    assert parsed.with_attr("data-level", "3") and any(
        a.get("class") == "blockers" for a in parsed.with_attr("data-level", "3")
    )
    assert len(parsed.with_attr("data-ambiguity")) == len(run_full.catalogue.ambiguities)
    text = "".join(parsed.text)
    assert "晋级差距" in text and "What blocks the next level" in text


def test_html_report_is_self_contained(run_full):
    parsed = _Collector()
    parsed.feed(render_html(run_full))
    assert not [t for t, _ in parsed.elements if t in {"script", "link", "img", "iframe"}]
    assert not [
        a for _, a in parsed.elements if (a.get("src") or a.get("href") or "").startswith(("http", "//"))
    ]


def test_oscal_documents_validate_against_the_nist_schema(run_full):
    documents = render_oscal(run_full)
    catalog = {"catalog": documents["catalog"]}
    results = {"assessment-results": documents["assessment-results"]}
    assert validate_oscal(catalog) == []
    assert validate_oscal(results) == []
    controls = json.dumps(catalog)
    assert '"clause-6.2.4.2.e"' in controls and '"perf-7.3.1.a.1"' in controls
    findings = results["assessment-results"]["results"][0]["findings"]
    assert len(findings) == 279 + 46
    schema_id = json.loads(find_oscal_schema().read_text())["$id"]
    assert f"/{OSCAL_VERSION}/" in schema_id


def test_oscal_validation_catches_a_broken_document(run_full):
    results = render_oscal(run_full)["assessment-results"]
    results["uuid"] = "not-a-uuid"
    del results["results"][0]["findings"][0]["target"]
    errors = validate_oscal({"assessment-results": results})
    assert len(errors) >= 2


async def test_attested_text_is_escaped_in_html(build, catalogue, tmp_path: Path):
    (tmp_path / "e.txt").write_text("x")
    entry = {
        "clause": "5.1.1.a",
        "statement": "<script>alert(1)</script>",
        "attested_by": "A",
        "date": "2025-01-01",
        "evidence": [{"path": "e.txt", "sm3": sm3_file(tmp_path / "e.txt")}],
    }
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "attestations": [entry]}))
    async with build.deployment() as client:
        run = await run_assessment(client=client, admin_key="k", attestations=path, probes=[])
    page = render_html(run)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
