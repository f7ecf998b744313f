"""Shape and determinism of the safety benchmark (no timing assertions: it is a benchmark)."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from benchmarks.safety import PROMPT_CHARS, command, make_pack_document, make_prompts, make_terms, run


def test_generation_is_deterministic() -> None:
    terms = make_terms(500)
    assert terms == make_terms(500)
    assert len(set(terms)) == 500
    assert all(2 <= len(term) <= 6 for term in terms)
    prompts = make_prompts(terms, 8)
    assert prompts == make_prompts(terms, 8)
    assert all(len(prompt) == PROMPT_CHARS for prompt in prompts)
    document = make_pack_document(terms)
    assert sum(len(category["keywords"]) for category in document["categories"].values()) == 500


def test_run_reports_both_backends_and_results() -> None:
    result = run(requests=20, terms=500)
    assert set(result["backends"]) == {"ahocorasick-rs", "pyahocorasick"}
    assert result["semantic_stage"] is False
    assert result["prompts_refused"] >= 1  # every fourth prompt carries a split pack term
    for data in result["backends"].values():
        assert data["check_ms"]["p50"] <= data["check_ms"]["p99"] <= data["check_ms"]["max"]
    metrics = {item["metric"] for item in result["results"]}
    assert "safety_check_p99_ms[ahocorasick-rs]" in metrics
    assert "safety_check_p99_cpu_ms[ahocorasick-rs]" in metrics
    assert "safety_check_p50_cpu_ms_ratio[pyahocorasick/ahocorasick-rs]" in metrics
    for item in result["results"]:
        assert set(item) == {"metric", "value", "unit", "method", "environment"}
    assert isinstance(result["goal"]["met"], bool) and isinstance(result["goal"]["met_on_cpu_time"], bool)


def test_command_prints_one_json_object() -> None:
    app = typer.Typer()
    app.command()(command)
    outcome = CliRunner().invoke(app, ["--format", "json", "--requests", "5"])
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data["terms"] == 20_000 and data["requests"] == 5
    bad = CliRunner().invoke(app, ["--format", "xml", "--requests", "5"])
    assert bad.exit_code != 0
