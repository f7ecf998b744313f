"""Result rows for the self-assessment (8.2.3 rows 7.3.1 a–f) and the human-readable table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table


def result(
    metric: str,
    value: float | None,
    unit: str,
    method: str,
    environment: Mapping[str, Any],
    *,
    details: Mapping[str, Any] | None = None,
    simulated: bool = False,
) -> dict[str, Any]:
    """One result object in the shape :mod:`services.assessment.benchmark_results` reads."""
    row: dict[str, Any] = {
        "metric": metric,
        "value": None if value is None else round(float(value), 4),
        "unit": unit,
        "method": method,
        "environment": dict(environment),
        "simulated": simulated,
    }
    if details:
        row["details"] = dict(details)
    return row


def rounded(value: Any, digits: int = 4) -> Any:
    """``value`` with every float rounded to ``digits`` decimals (dicts and lists recursively)."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, Mapping):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item, digits) for item in value]
    return value


def print_results(report: Mapping[str, Any], *, title: str) -> None:
    """Print the ``results`` of ``report`` as a table on the terminal."""
    table = Table("metric", "value", "unit", "method", title=title)
    for row in report.get("results", []):
        table.add_row(row["metric"], str(row["value"]), row["unit"], row["method"])
    Console().print(table)
