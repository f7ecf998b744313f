"""``stic``: one entry point, a sub-command group per area.

``stic up`` runs every service in one process; ``stic serve <service>`` runs one alone, from
the same app factories. Area groups (``sched``, ``audit``, ``bench``, ...) are mounted from
their packages in ``_mount_areas``.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer
import uvicorn

from services.allinone import SERVICE_MODULES, create_app, load_module
from services.cli.admin import app as admin_app
from services.kernel.app import create_service_app
from services.kernel.logging import configure_logging
from services.kernel.settings import Settings
from services.kernel.version import VERSION

app = typer.Typer(
    name="stic",
    help="STIC — Secure & Trustworthy Intelligent Cloud control plane.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(admin_app, name="admin")

# (module path, attribute, group name or None to merge the group's commands at top level)
AREA_GROUPS: tuple[tuple[str, str, str | None], ...] = (
    ("services.assessment.cli", "app", None),
    ("security.cli", "app", None),
    ("security.auditlog.cli", "app", "audit"),
    ("security.safety.cli", "app", "safety"),
    ("benchmarks.cli", "app", "bench"),
    ("scheduler.cli", "app", "sched"),
    ("inference.tinymodel.cli", "app", "model"),
    ("scheduler.jobcli", "app", "job"),
)


def _mount_areas() -> None:
    for module_path, attribute, name in AREA_GROUPS:
        group = getattr(importlib.import_module(module_path), attribute)
        if name is None:
            for command in group.registered_commands:
                app.registered_commands.append(command)
        else:
            app.add_typer(group, name=name)


def _settings(host: str | None, port: int | None) -> Settings:
    settings = Settings()
    return settings.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )


def _serve(application: object, settings: Settings) -> None:
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    uvicorn.run(application, host=settings.host, port=settings.port, log_config=None, access_log=False)  # type: ignore[arg-type]


@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="Bind address (default STIC_HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default STIC_PORT or 8000)")] = None,
    demo: Annotated[bool, typer.Option(help="Seed a small simulated inventory for a first try")] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes on the port: the first runs every service, the others the gateway only "
            "(see inference.gateway.workers)",
        ),
    ] = 1,
) -> None:
    """Run every STIC service in one process (the embedded default), plus gateway workers if asked."""
    settings = _settings(host, port).model_copy(update={"demo": demo})
    if workers == 1:
        _serve(create_app(settings), settings)
        return
    from inference.gateway.workers import run_platform

    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    run_platform(create_app(settings), host=settings.host, port=settings.port, workers=workers)


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICE_MODULES)}")],
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
) -> None:
    """Run one service alone (the same app factory ``stic up`` composes)."""
    try:
        module = load_module(service)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="SERVICE") from None
    settings = _settings(host, port)
    _serve(create_service_app(modules=[module], settings=settings), settings)


@app.command()
def version() -> None:
    """Print the installed STIC version."""
    typer.echo(VERSION)


_mount_areas()
