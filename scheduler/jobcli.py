"""``stic job``: submit and manage jobs through the scheduler API.

The server and key come from ``--url`` / ``--api-key`` or ``STIC_URL`` / ``STIC_API_KEY``. Job
files are YAML (or JSON) ``JobCreate`` documents; ``--project`` fills a missing ``project_id``.
``--format json`` prints one JSON object on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from scheduler.service.client import SchedulerAPIError, SchedulerClient
from scheduler.service.jobspec import parse_yaml

app = typer.Typer(help="Submit and manage scheduler jobs.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

Url = Annotated[str, typer.Option("--url", envvar="STIC_URL", help="API base URL")]
ApiKey = Annotated[str, typer.Option("--api-key", envvar="STIC_API_KEY", help="API key")]
Tenant = Annotated[str | None, typer.Option("--tenant", help="Tenant id (default: your own)")]
Format = Annotated[str, typer.Option("--format", help="table or json")]
JobArg = Annotated[str, typer.Argument(help="Job id or name")]


def _client(url: str, api_key: str) -> SchedulerClient:
    return SchedulerClient(url, api_key)


def _run(url: str, api_key: str, work: Any) -> Any:
    client = _client(url, api_key)
    try:
        return work(client)
    except SchedulerAPIError as exc:
        detail = exc.body.get("detail") if isinstance(exc.body, dict) else None
        err.print(f"[red]error:[/red] {exc}" + (f" ({detail})" if detail else ""))
        raise typer.Exit(1) from exc
    finally:
        client.close()


def _job_table(jobs: list[dict[str, Any]]) -> Table:
    table = Table()
    for column in ("id", "name", "type", "queue", "state", "tasks", "reasons"):
        table.add_column(column)
    for job in jobs:
        states: dict[str, int] = {}
        for task in job["tasks"]:
            states[task["state"]] = states.get(task["state"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        table.add_row(
            job["id"],
            job["name"],
            job["type"],
            job["queue"],
            job["state"],
            summary,
            "; ".join(job["reasons"])[:120],
        )
    return table


def _emit(data: Any, fmt: str, render: Any) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, default=str))
    else:
        console.print(render(data))


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Job spec (YAML or JSON)")],
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
    project: Annotated[
        str | None, typer.Option("--project", help="Project id if the file names none")
    ] = None,
    tenant: Tenant = None,
    fmt: Format = "table",
) -> None:
    """Submit a job file."""
    try:
        spec = parse_yaml(file.read_text(), project_id=project)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from exc
    job = _run(url, api_key, lambda c: c.submit(spec.model_dump(mode="json"), tenant=tenant))
    _emit(job, fmt, lambda j: _job_table([j]))


@app.command("list")
def list_jobs(
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
    state: Annotated[str | None, typer.Option(help="Only jobs in this state")] = None,
    tenant: Tenant = None,
    fmt: Format = "table",
) -> None:
    """List jobs, newest first."""
    jobs = _run(url, api_key, lambda c: c.list_jobs(state=state, tenant=tenant))
    _emit({"items": jobs}, fmt, lambda d: _job_table(d["items"]))


@app.command()
def get(
    job: JobArg,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
    tenant: Tenant = None,
    fmt: Format = "table",
) -> None:
    """Show a job, its tasks and its events."""

    def work(c: SchedulerClient) -> dict[str, Any]:
        data = c.get(job, tenant=tenant)
        data["events"] = c.events(data["id"], tenant=tenant)
        return data

    def render(data: dict[str, Any]) -> Table:
        table = Table(title=f"{data['name']} ({data['id']}): {data['state']}")
        for column in ("task", "state", "node", "devices", "attempt", "exit", "simulated"):
            table.add_column(column)
        for t in data["tasks"]:
            table.add_row(
                t["name"],
                t["state"],
                t["node"] or "-",
                str(t["devices"]),
                str(t["attempt"]),
                str(t["exit_code"]),
                str(t["simulated"]),
            )
        for event in data["events"][-15:]:
            table.caption = (
                table.caption or ""
            ) + f"\n{event['time']} {event['kind']} {event['task'] or ''} {event['message']}"
        return table

    _emit(_run(url, api_key, work), fmt, render)


@app.command()
def logs(
    job: JobArg,
    task: Annotated[str, typer.Argument(help="Task name, e.g. worker-0")],
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
    attempt: Annotated[int | None, typer.Option(help="Attempt (default: latest)")] = None,
    tenant: Tenant = None,
    fmt: Format = "table",
) -> None:
    """Print a task's output."""
    data = _run(url, api_key, lambda c: c.logs(job, task, attempt=attempt, tenant=tenant))
    if fmt == "json":
        typer.echo(json.dumps(data))
    else:
        typer.echo(data["content"], nl=False)


def _action(verb: str) -> Any:
    def command(
        job: JobArg,
        url: Url = "http://127.0.0.1:8000",
        api_key: ApiKey = "",
        tenant: Tenant = None,
        fmt: Format = "table",
    ) -> None:
        data = _run(url, api_key, lambda c: c.action(job, verb, tenant=tenant))
        _emit(data, fmt, lambda j: _job_table([j]))

    command.__doc__ = f"{verb.capitalize()} a job."
    return command


app.command("start")(_action("start"))
app.command("suspend")(_action("suspend"))
app.command("resume")(_action("resume"))


@app.command()
def delete(
    job: JobArg,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
    tenant: Tenant = None,
    fmt: Format = "table",
) -> None:
    """Cancel (if unfinished) and delete a job."""
    _run(url, api_key, lambda c: c.delete(job, tenant=tenant))
    _emit({"deleted": job}, fmt, lambda d: f"deleted {d['deleted']}")
