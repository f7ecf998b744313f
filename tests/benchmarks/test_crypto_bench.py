"""``stic bench crypto``: report shape and ``openssl speed`` parsing (figures are not asserted)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks import crypto as bench

FAKE_OPENSSL = """#!/bin/sh
# Stands in for an OpenSSL 3.0 CLI without SM4-GCM; prints `openssl speed` output.
case "$1" in
  version) echo "OpenSSL 3.0.99 (fake)"; exit 0;;
esac
case "$3" in
  sm4-gcm) echo "speed: sm4-gcm is an unknown cipher or digest" >&2; exit 1;;
  sm4-ctr) name=SM4-CTR; value=100000.00k;;
  sm3) name=sm3; value=250000.00k;;
  *) exit 1;;
esac
echo "The 'numbers' are in 1000s of bytes per second processed."
echo "type          16384 bytes"
echo "$name          $value"
"""


@pytest.fixture
def fake_openssl(tmp_path: Path) -> str:
    path = tmp_path / "openssl"
    path.write_text(FAKE_OPENSSL)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_report_falls_back_to_the_closest_cipher_and_says_so(fake_openssl: str) -> None:
    report = bench.measure(seconds=0.05, rounds=2, openssl=fake_openssl)
    summary = report["summary"]
    assert summary["openssl_baseline_cipher"] == "sm4-ctr"
    assert summary["openssl_baseline_mb_s"] == 100.0
    assert summary["openssl_sm3_mb_s"] == 250.0
    assert summary["sm4_gcm_ratio"] == round(summary["sm4_gcm_mb_s"] / 100.0, 3)
    assert summary["meets_goal"] is (summary["sm4_gcm_ratio"] >= bench.GOAL_RATIO)
    assert set(summary["sm2"]) == {"tongsuopy", "gmssl-pyx", "gmssl"}
    assert all(r["sign"] > 0 and r["verify"] > 0 for r in summary["sm2"].values())

    env = report["environment"]
    assert env["openssl_cli"] == "OpenSSL 3.0.99 (fake)"
    assert env["pinned_cpu"] in os.sched_getaffinity(0)
    for result in report["results"]:
        assert set(result) == {"metric", "value", "unit", "method", "environment"}
    baseline = next(r for r in report["results"] if r["metric"] == "openssl_sm4_baseline_throughput")
    assert "lacks sm4-gcm" in baseline["method"]
    assert {r["metric"] for r in report["results"]} >= {
        "sm4_gcm_throughput",
        "sm4_gcm_vs_openssl_ratio",
        "sm3_throughput",
        "sm2_sign_rate_tongsuopy",
        "sm2_verify_rate_gmssl",
    }


def test_pinning_is_restored() -> None:
    before = os.sched_getaffinity(0)
    with bench.pinned(min(before)):
        assert os.sched_getaffinity(0) == {min(before)}
    assert os.sched_getaffinity(0) == before


def test_real_openssl_output_is_parsed() -> None:
    binary = shutil.which("openssl")
    assert binary is not None, "the openssl CLI is part of the project's machine image"
    assert (bench.openssl_speed(binary, "sm3", cpu=min(os.sched_getaffinity(0)), seconds=1) or 0) > 0
    assert bench.openssl_speed(binary, "no-such-cipher", cpu=0, seconds=1) is None


def test_command_prints_one_json_object(fake_openssl: str) -> None:
    import typer

    app = typer.Typer()
    app.command()(bench.command)
    result = CliRunner().invoke(
        app,
        ["--format", "json", "--seconds", "0.05", "--rounds", "1"],
        env={"PATH": str(Path(fake_openssl).parent)},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["benchmark"] == "crypto"
