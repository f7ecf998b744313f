"""``stic model build-tiny``: build the project's tiny Llama model and tokenizer from local text."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from inference.tinymodel.spec import TinyLlamaSpec, TinyModelSpecError

if TYPE_CHECKING:
    from inference.tinymodel.builder import BuildResult

app = typer.Typer(help="The project's tiny Llama model (built locally, no downloads).", no_args_is_help=True)
console = Console(stderr=True)


class OutputFormat(StrEnum):
    """Human text or one JSON object."""

    text = "text"
    json = "json"


@app.callback()
def tiny_model() -> None:
    """Build the tiny Llama model used by tests and the demo."""


@app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", help="directory to write the model into")],
    seed: Annotated[int, typer.Option(help="seed of initialisation and training")] = 0,
    steps: Annotated[int, typer.Option(help="training steps (0: untrained random weights)", min=0)] = 200,
    vocab_size: Annotated[int, typer.Option(help="upper bound of the BPE vocabulary")] = 2048,
    hidden: Annotated[int, typer.Option(help="hidden size")] = 128,
    heads: Annotated[int, typer.Option(help="attention heads (hidden/heads must be >= 32)")] = 2,
    layers: Annotated[int, typer.Option(help="decoder layers")] = 2,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="text or json")] = OutputFormat.text,
) -> None:
    """Build the tiny model into OUT; a no-op when OUT already holds a build of the same spec."""
    # torch and transformers load here, not at import: mounting this app must keep `stic` fast.
    from transformers.utils import logging as transformers_logging

    from inference.tinymodel.builder import TinyModelDirError, build_from_spec

    transformers_logging.disable_progress_bar()  # rich shows progress; tqdm's would interleave
    try:
        spec = TinyLlamaSpec(
            seed=seed, vocab_size=vocab_size, hidden=hidden, heads=heads, layers=layers, train_steps=steps
        )
    except TinyModelSpecError as exc:
        raise typer.BadParameter(str(exc)) from exc
    progress = Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TimeElapsedColumn(),
        console=console,
        disable=output_format is OutputFormat.json or steps == 0,
    )
    with progress:
        task = progress.add_task("train", total=steps, loss=float("nan"))
        try:
            result = build_from_spec(
                out,
                spec=spec,
                on_step=lambda step, _total, loss: progress.update(task, completed=step, loss=loss),
            )
        except TinyModelDirError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    _report(result, output_format)


def _report(result: BuildResult, output_format: OutputFormat) -> None:
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(result.to_json(), sort_keys=True))
        return
    state = "already built (cached)" if result.cached else f"built in {result.seconds:.1f} s"
    loss = "untrained" if result.final_loss is None else f"final loss {result.final_loss:.3f}"
    typer.echo(
        f"{result.path}: {state}; {result.parameters:,} parameters, vocabulary {result.vocab_size}, {loss}"
    )
