"""``stic safety``: check a text against a rule pack, and evaluate a pack on a labelled file.

``--format json`` prints one JSON object to stdout; the default prints rich tables.
``--semantic`` adds the embedding-similarity stage (loads all-MiniLM-L6-v2; seconds).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from security.safety import evaluate as evaluation
from security.safety.engine import check as check_text
from security.safety.packs import CompiledPack, compile_pack
from security.safety.rules import Direction, PackValidationError, load_pack

app = typer.Typer(help="Content safety: check texts and evaluate rule packs.", no_args_is_help=True)

PackOption = Annotated[Path, typer.Option("--pack", help="Rule pack YAML file.", exists=True, dir_okay=False)]
FormatOption = Annotated[str, typer.Option("--format", help="table or json.")]
SemanticOption = Annotated[bool, typer.Option("--semantic", help="Add the embedding-similarity stage.")]

_err = Console(stderr=True, soft_wrap=True)


def _load(path: Path) -> CompiledPack:
    try:
        return compile_pack(load_pack(path))
    except PackValidationError as exc:
        _err.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None


def _check_format(value: str) -> str:
    if value not in ("table", "json"):
        _err.print(f"[red]--format must be table or json, not {value!r}[/red]")
        raise typer.Exit(code=2)
    return value


def _semantic(pack: CompiledPack, enabled: bool) -> Any:
    if not enabled:
        return None
    from security.safety.semantic import EmbeddingSimilarityClassifier, MiniLMEmbedder

    with _err.status("loading all-MiniLM-L6-v2"):
        return EmbeddingSimilarityClassifier.for_pack(pack, embedder=MiniLMEmbedder())


@app.command()
def check(
    text: Annotated[str, typer.Argument(help="The text to check.")],
    pack: PackOption,
    direction: Annotated[Direction, typer.Option("--direction", help="input or output.")] = Direction.INPUT,
    format: FormatOption = "table",
    semantic: SemanticOption = False,
) -> None:
    """Check TEXT against the pack and print the decision."""
    _check_format(format)
    compiled = _load(pack)
    decision = check_text(text, pack=compiled, direction=direction, semantic=_semantic(compiled, semantic))
    record = decision.audit_record(text)
    record["masked_text"] = decision.masked_text
    record["message"] = decision.message
    if format == "json":
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    console = Console()
    console.print(f"[bold]{decision.action.value}[/bold] (category: {decision.category or '-'})")
    if decision.message:
        console.print(decision.message)
    if decision.masked_text is not None:
        console.print(decision.masked_text)
    table = Table("category", "action", "source", "rule", "span")
    for match in decision.matches:
        table.add_row(match.category, match.action.value, match.source.value, match.rule, str(match.span))
    console.print(table)


def _report_table(report: evaluation.EvaluationReport) -> None:
    console = Console()
    table = Table(
        "category",
        "TP",
        "FP",
        "FN",
        "precision",
        "recall",
        "F1",
        title=f"{report.pack_id}@{report.pack_version}",
    )
    rows = [
        *sorted(report.per_category.items()),
        ("overall (micro)", report.overall),
        ("flagged", report.flagged),
    ]
    for name, counts in rows:
        table.add_row(
            name, str(counts.tp), str(counts.fp), str(counts.fn),
            f"{counts.precision:.3f}", f"{counts.recall:.3f}", f"{counts.f1:.3f}",
        )  # fmt: skip
    console.print(table)
    if report.action_labelled:
        console.print(f"action accuracy: {report.action_correct}/{report.action_labelled}")
    for miss in report.misses:
        expected, got = list(miss.expected), list(miss.predicted)
        console.print(f"line {miss.line}: expected {expected} got {got} ({miss.action}): {miss.text}")


@app.command()
def evaluate(
    pack: PackOption,
    labelled: Annotated[
        Path, typer.Option("--labelled", help="Labelled JSONL file.", exists=True, dir_okay=False)
    ],
    format: FormatOption = "table",
    semantic: SemanticOption = False,
) -> None:
    """Report precision/recall/F1 of the pack per category and overall on a labelled file."""
    _check_format(format)
    compiled = _load(pack)
    try:
        examples = evaluation.load_examples(labelled)
    except evaluation.LabelledFileError as exc:
        _err.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    classifier = _semantic(compiled, semantic)
    with Progress(console=_err, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(examples))
        report = evaluation.evaluate(
            examples, pack=compiled, semantic=classifier, progress=lambda: progress.advance(task)
        )
    if format == "json":
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        _report_table(report)
