"""The overhead micro-benchmark returns the figures ``stic bench gateway`` reports (values not asserted)."""

from __future__ import annotations

import pytest

from inference.gateway.secure.bench import measure_overhead


def test_measure_overhead_reports_every_figure_for_the_requested_sizes() -> None:
    result = measure_overhead(body_bytes=1024, iterations=20, handshakes=2)
    assert set(result) == {
        "request_body_us",
        "response_body_us",
        "per_request_us",
        "per_chunk_us",
        "handshake_ms",
        "body_bytes",
        "chunk_bytes",
        "iterations",
        "sm2_backend",
    }
    assert result["body_bytes"] == 1024 and result["iterations"] == 20
    assert result["per_request_us"] == pytest.approx(
        result["request_body_us"] + result["response_body_us"], abs=0.02
    )
    assert all(result[k] > 0 for k in ("request_body_us", "response_body_us", "per_chunk_us", "handshake_ms"))
    assert measure_overhead(body_bytes=4096, iterations=2, handshakes=1)["body_bytes"] == 4096


def test_measure_overhead_refuses_empty_runs() -> None:
    with pytest.raises(ValueError, match="positive"):
        measure_overhead(iterations=0)
