"""Read benchmark result files: the measured values of the 8.2.3 performance rows.

A results directory holds ``*.json`` files (searched recursively, in path order); each file holds one
result object or a list of them::

    {"metric": "7.3.1.a.1", "value": 412.5, "unit": "ms", "method": "stic bench gateway ...",
     "environment": {"host": "...", "accelerator": "..."}, "simulated": false,
     "capabilities": [], "details": {...}}

``value`` may be ``null`` only for rows judged by capability, and then ``capabilities`` must name at
least one. ``simulated: true`` (or ``environment.simulated: true``) marks a figure measured on simulated
infrastructure: it counts only in the "with simulated" grade. Every structural problem raises
:class:`ResultsError` naming the file and the result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from services.assessment.catalogue import Catalogue, PerformanceRow
from services.assessment.units import UnitError, convert


class ResultsError(ValueError):
    """A benchmark result file is malformed or does not fit the catalogue."""


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    """One measured metric, with ``value`` already converted to its row's unit."""

    metric: str
    value: Fraction | None
    reported_value: float | None
    reported_unit: str
    method: str
    environment: Mapping[str, Any]
    simulated: bool
    capabilities: tuple[str, ...]
    source: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this result."""
        return {
            "metric": self.metric,
            "value": self.reported_value,
            "unit": self.reported_unit,
            "method": self.method,
            "environment": dict(self.environment),
            "simulated": self.simulated,
            "capabilities": list(self.capabilities),
            "source": self.source,
            "details": dict(self.details),
        }


def _result(raw: Any, *, rows: Mapping[str, PerformanceRow], where: str) -> BenchmarkResult:
    if not isinstance(raw, Mapping):
        raise ResultsError(f"{where}: a result must be a JSON object")
    metric = raw.get("metric")
    if not isinstance(metric, str) or metric not in rows:
        raise ResultsError(f"{where}: 'metric' must be an 8.2.3 row id such as '7.3.1.a.1', got {metric!r}")
    row = rows[metric]
    where = f"{where} ({metric})"
    method = raw.get("method")
    if not isinstance(method, str) or not method.strip():
        raise ResultsError(f"{where}: 'method' must say how the value was measured")
    environment = raw.get("environment")
    if not isinstance(environment, Mapping):
        raise ResultsError(f"{where}: 'environment' must be an object")
    capabilities = raw.get("capabilities", [])
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise ResultsError(f"{where}: 'capabilities' must be a list of strings")
    if unknown := sorted(set(capabilities) - set(row.capabilities.values())):
        raise ResultsError(
            f"{where}: unknown capabilities {unknown}; row {metric} knows {sorted(row.capabilities.values())}"
        )
    value = raw.get("value")
    unit = raw.get("unit", "")
    if not isinstance(unit, str):
        raise ResultsError(f"{where}: 'unit' must be a string")
    converted: Fraction | None = None
    if value is None:
        if not capabilities:
            raise ResultsError(f"{where}: 'value' may be null only when capabilities are declared")
    elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ResultsError(f"{where}: 'value' must be a finite number, got {value!r}")
    else:
        try:
            converted = convert(value, from_unit=unit, to_unit=row.unit)
        except UnitError as exc:
            raise ResultsError(f"{where}: {exc}") from exc
    simulated = raw.get("simulated", False) is True or environment.get("simulated") is True
    details = raw.get("details", {})
    if not isinstance(details, Mapping):
        raise ResultsError(f"{where}: 'details' must be an object")
    return BenchmarkResult(
        metric=metric,
        value=converted,
        reported_value=float(value) if value is not None else None,
        reported_unit=unit,
        method=method.strip(),
        environment=dict(environment),
        simulated=simulated,
        capabilities=tuple(capabilities),
        source=where.split(" ", 1)[0],
        details=dict(details),
    )


def load_results(results_dir: Path, *, catalogue: Catalogue) -> dict[str, BenchmarkResult]:
    """All results under ``results_dir`` keyed by metric; a metric given twice raises ``ResultsError``."""
    if not results_dir.is_dir():
        raise ResultsError(f"results directory {results_dir} does not exist")
    rows = {row.id: row for row in catalogue.performance_rows}
    results: dict[str, BenchmarkResult] = {}
    for path in sorted(results_dir.rglob("*.json")):
        name = str(path.relative_to(results_dir))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ResultsError(f"{name}: not readable JSON: {exc}") from exc
        items = data if isinstance(data, list) else [data]
        for index, raw in enumerate(items):
            result = _result(raw, rows=rows, where=f"{name}[{index}]" if isinstance(data, list) else name)
            if result.metric in results:
                raise ResultsError(
                    f"{name}: metric {result.metric} already given by {results[result.metric].source}"
                )
            results[result.metric] = result
    return results
