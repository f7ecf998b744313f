"""PNG plots of a serving report: latency CDFs, and the QPS search when one ran (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _cdf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    ordered = sorted(values)
    n = len(ordered)
    return ordered, [(i + 1) / n for i in range(n)]


def plot_serve(report: Mapping[str, Any], path: Path) -> None:
    """Write TTFT and E2E CDFs (and P99-vs-rate of the QPS search) of a ``bench serve`` report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    search = report.get("qps_search")
    panels = 2 if search else 1
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    left = axes[0][0]
    for name, values in report["latencies_ms"].items():
        if values:
            xs, ys = _cdf(values)
            left.plot(xs, ys, label=name.upper())
    left.set_xlabel("latency (ms)")
    left.set_ylabel("fraction of requests")
    left.set_title("latency CDF")
    left.legend()
    if search:
        right = axes[0][1]
        probes = search["probes"]
        for ok, colour in ((True, "tab:green"), (False, "tab:red")):
            chosen = [p for p in probes if p["ok"] is ok and p["value"] != float("inf")]
            if not chosen:
                continue
            right.scatter(
                [p["level"] for p in chosen],
                [p["value"] for p in chosen],
                c=colour,
                label="within bound" if ok else "over bound",
            )
        right.set_xlabel("request rate (req/s)")
        right.set_ylabel("P99 (ms)")
        right.set_title("max-QPS search")
        right.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def plot_gateway(report: Mapping[str, Any], path: Path) -> None:
    """Write the E2E latency CDFs of the direct and gateway sides of a ``bench gateway`` report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, values in report["latencies_ms"].items():
        if values:
            xs, ys = _cdf(values)
            axis.plot(xs, ys, label=name)
    axis.set_xlabel("E2E latency (ms)")
    axis.set_ylabel("fraction of requests")
    axis.set_title("direct vs through the gateway")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
