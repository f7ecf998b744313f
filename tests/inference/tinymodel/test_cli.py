"""``stic model build-tiny`` (the typer app): JSON output, cache, bad parameters."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from inference.tinymodel.cli import app

runner = CliRunner()


def test_build_prints_one_json_object_and_caches(tmp_path: Path) -> None:
    args = ["build", "--out", str(tmp_path / "m"), "--steps", "2", "--vocab-size", "512", "--format", "json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["cached"] is False
    assert report["spec"]["train_steps"] == 2
    assert (tmp_path / "m" / "config.json").is_file()
    second = json.loads(runner.invoke(app, args).stdout)
    assert second["cached"] is True
    assert second["weights_sha256"] == report["weights_sha256"]


def test_text_output_names_the_directory(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["build", "--out", str(tmp_path / "m"), "--steps", "0", "--vocab-size", "512"]
    )
    assert result.exit_code == 0, result.output
    assert f"{tmp_path / 'm'}: built in" in result.stdout
    assert "untrained" in result.stdout


def test_bad_shape_is_refused_with_the_reason(tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", "--out", str(tmp_path / "m"), "--heads", "8"])
    assert result.exit_code == 2
    assert "head_dim" in result.output


def test_foreign_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    result = runner.invoke(app, ["build", "--out", str(tmp_path), "--steps", "0"])
    assert result.exit_code == 2
    assert "refusing to overwrite" in result.output
