"""``stic assess``: run the self-assessment and write the report as JSON, HTML or OSCAL.

Without ``--url`` the all-in-one app is started in this process on a temporary database; with
``--url`` the deployment there is assessed using the admin key from ``--admin-key`` or
``STIC_ADMIN_KEY``. A progress bar goes to stderr; the report goes to ``--out`` or stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from contextlib import AbstractAsyncContextManager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from services.assessment.deployment import in_process_deployment, remote_deployment
from services.assessment.domain import AssessmentRun
from services.assessment.report import render_html, render_json, render_oscal
from services.assessment.runner import run_assessment

app = typer.Typer(
    help="Self-assessment by T/ISC 安全可信智能云平台能力分级方法, section 8.", no_args_is_help=True
)


class OutputFormat(StrEnum):
    """Report formats."""

    JSON = "json"
    HTML = "html"
    OSCAL = "oscal"


@app.callback()
def main() -> None:
    """Grade a STIC deployment (or any platform with evidence) by section 8 of the standard."""


def render(run: AssessmentRun, output_format: OutputFormat) -> str:
    """The report of ``run`` in ``output_format`` as text."""
    if output_format is OutputFormat.HTML:
        return render_html(run)
    document = render_oscal(run) if output_format is OutputFormat.OSCAL else render_json(run)
    return json.dumps(document, ensure_ascii=False, indent=2)


async def _assess(
    target: AbstractAsyncContextManager[tuple[httpx.AsyncClient, str]],
    *,
    attestations: Path | None,
    results: Path | None,
) -> AssessmentRun:
    console = Console(stderr=True)
    with Progress(
        TextColumn("[bold]assess[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("probes", total=None)

        def on_progress(done: int, total: int, name: str) -> None:
            progress.update(task, completed=done, total=total, description=name)

        async with target as (client, admin_key):
            return await run_assessment(
                client=client,
                admin_key=admin_key,
                attestations=attestations,
                results_dir=results,
                on_progress=on_progress,
            )


@app.command()
def assess(
    url: Annotated[
        str | None, typer.Option(help="Base URL of the deployment; default: in-process all-in-one")
    ] = None,
    admin_key: Annotated[
        str | None, typer.Option(envvar="STIC_ADMIN_KEY", help="Admin API key for --url deployments")
    ] = None,
    attestations: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Operator attestation YAML")
    ] = None,
    results: Annotated[
        Path | None, typer.Option(exists=True, file_okay=False, help="Folder of benchmark result JSON files")
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Report format")
    ] = OutputFormat.JSON,
    out: Annotated[Path | None, typer.Option(help="Write the report here instead of stdout")] = None,
    demo: Annotated[
        bool,
        typer.Option(
            help="In-process only: seed the platform as `stic up --demo` does (simulated inventory, "
            "the tiny model served as tiny-llama) so the inference probes have a model"
        ),
    ] = False,
) -> None:
    """Run every registered probe, read attestations and benchmark results, grade, and report."""
    if url is not None and demo:
        raise typer.BadParameter(
            "--demo seeds the in-process platform; it cannot seed --url", param_hint="--demo"
        )
    if url is not None and not admin_key:
        raise typer.BadParameter(
            "--admin-key (or STIC_ADMIN_KEY) is required with --url", param_hint="--admin-key"
        )
    with tempfile.TemporaryDirectory(prefix="stic-assess-") as workdir:
        target = (
            remote_deployment(url, admin_key or "")
            if url is not None
            else in_process_deployment(Path(workdir), demo=demo)
        )
        run = asyncio.run(_assess(target, attestations=attestations, results=results))
    text = render(run, output_format)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(
            f"level {run.strict.level} (strict), {run.with_simulated.level} (with simulated) → {out}",
            err=True,
        )
