"""Shape of the audit benchmark's results on SQLite (no timing assertions: it is a benchmark)."""

from __future__ import annotations

from benchmarks.audit import run_benchmark


async def test_run_reports_durable_rates_cpu_rates_and_the_machine_load() -> None:
    results = await run_benchmark(
        events=300, producers=50, baseline_events=50, database_urls=["sqlite+aiosqlite://"]
    )
    by_metric = {row["metric"]: row for row in results}
    assert set(by_metric) == {
        "audit_append_durable_sqlite",
        "audit_append_durable_per_cpu_second_sqlite",
        "audit_append_plain_sink_sqlite",
        "audit_append_ratio_vs_plain_sink_sqlite",
        "audit_inclusion_proofs_from_db_sqlite",
        "audit_inclusion_proof_verify",
        "audit_consistency_proof_verify",
    }
    for row in results:
        assert set(row) == {"metric", "value", "unit", "method", "environment"}
        assert row["value"] > 0
        assert row["environment"]["load_average_1m"] >= 0
    assert by_metric["audit_append_durable_sqlite"]["environment"]["synchronous"] == "FULL"
