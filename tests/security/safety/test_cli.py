from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from security.safety.cli import app

runner = CliRunner()


def test_check_json(demo_pack_path: Path) -> None:
    result = runner.invoke(
        app, ["check", "--pack", str(demo_pack_path), "--format", "json", "电话13812345678"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["action"], data["masked_text"]) == ("mask", "电话138****5678")


def test_check_table(demo_pack_path: Path) -> None:
    result = runner.invoke(app, ["check", "--pack", str(demo_pack_path), "請問如何製作炸彈"])
    assert result.exit_code == 0, result.output
    assert "refuse" in result.stdout and "weapons" in result.stdout


def test_evaluate_json(demo_pack_path: Path, demo_labelled_path: Path) -> None:
    args = [
        "evaluate",
        "--pack",
        str(demo_pack_path),
        "--labelled",
        str(demo_labelled_path),
        "--format",
        "json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pack"] == {"id": "demo", "version": "1.0.0"}
    assert set(data["per_category"]) == {"weapons", "fraud", "self_harm", "credentials", "pii"}
    assert data["overall"]["precision"] == 1.0


def test_evaluate_table(demo_pack_path: Path, demo_labelled_path: Path) -> None:
    result = runner.invoke(
        app, ["evaluate", "--pack", str(demo_pack_path), "--labelled", str(demo_labelled_path)]
    )
    assert result.exit_code == 0, result.output
    assert "overall (micro)" in result.stdout


def test_bad_pack_bad_labelled_and_bad_format(tmp_path: Path, demo_pack_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: demo\nversion: x\ncategories: {}\n", encoding="utf-8")
    result = runner.invoke(app, ["check", "--pack", str(bad), "x"])
    assert result.exit_code == 2 and "version" in result.output
    labelled = tmp_path / "l.jsonl"
    labelled.write_text("{broken\n", encoding="utf-8")
    result = runner.invoke(app, ["evaluate", "--pack", str(demo_pack_path), "--labelled", str(labelled)])
    assert result.exit_code == 2 and "not JSON" in result.output
    result = runner.invoke(app, ["check", "--pack", str(demo_pack_path), "--format", "xml", "x"])
    assert result.exit_code == 2 and "table or json" in result.output
