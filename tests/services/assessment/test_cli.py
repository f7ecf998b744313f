"""``stic assess``: the typer command end to end (no probes registered yet, so no calls are made)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.assessment.cli import app

EXAMPLE = Path(__file__).parents[3] / "services" / "assessment" / "examples" / "attestations.example.yaml"


def test_assess_json_to_stdout(catalogue, build, tmp_path: Path):
    results = build.write_results(tmp_path / "results", build.passing_records(catalogue, level=2))
    outcome = CliRunner().invoke(
        app,
        [
            "assess",
            "--url",
            "http://127.0.0.1:9",
            "--admin-key",
            "k",
            "--attestations",
            str(EXAMPLE),
            "--results",
            str(results),
            "--format",
            "json",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    report = json.loads(outcome.stdout)
    assert report["level_strict"] == 0  # nothing attested in the example, so section 5 blocks every level
    assert report["performance"]["recorded"] == 46
    assert report["target"] == "http://127.0.0.1:9"


def test_assess_writes_html_and_oscal_files(tmp_path: Path):
    for output_format in ("html", "oscal"):
        out = tmp_path / f"report.{output_format}"
        outcome = CliRunner().invoke(
            app,
            [
                "assess",
                "--url",
                "http://127.0.0.1:9",
                "--admin-key",
                "k",
                "--format",
                output_format,
                "--out",
                str(out),
            ],
        )
        assert outcome.exit_code == 0, outcome.output
        text = out.read_text(encoding="utf-8")
        assert (
            text.startswith("<!doctype html>")
            if output_format == "html"
            else "assessment-results" in json.loads(text)
        )


def test_assess_remote_needs_an_admin_key():
    outcome = CliRunner().invoke(app, ["assess", "--url", "http://127.0.0.1:9"], env={"STIC_ADMIN_KEY": ""})
    assert outcome.exit_code == 2
    assert "admin-key" in outcome.output
