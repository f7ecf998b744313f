"""``stic bench``: the section-7 benchmark suite, one sub-command per area.

Each area module exposes ``command(...)`` with typer-annotated options; ``BENCHMARKS`` is the
explicit list. Every benchmark prints figures as ratios against a baseline run side by side
and, with ``--format json``, a ``results`` list the self-assessment reads.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    help="Benchmarks for section 7 of the standard (ratios against baselines).", no_args_is_help=True
)

# sub-command name → (module, function) with typer-annotated options
BENCHMARKS: dict[str, tuple[str, str]] = {
    "crypto": ("benchmarks.crypto", "command"),
    "audit": ("benchmarks.audit", "command"),
    "safety": ("benchmarks.safety", "command"),
    "sched": ("scheduler.cli", "bench"),
    "serve": ("benchmarks.serving.serve", "command"),
    "gateway": ("benchmarks.serving.gateway", "command"),
}

for _name, (_module, _function) in BENCHMARKS.items():
    app.command(_name)(getattr(importlib.import_module(_module), _function))
