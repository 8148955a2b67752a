"""The Typer application, its global options and the one place errors become exit codes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from assay.errors import AssayError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="assay",
    help="Assay: keep a dataset, label it, audit the labels and see what models make of it.\n\n"
    "Commands act on the project in the current folder (or the nearest one above it), "
    "or on --project PATH.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class State:
    """Global options shared by every command."""

    project: Path | None = None
    db: str | None = None


STATE = State()


@app.callback()
def _global(
    project: Annotated[
        Path | None,
        typer.Option("--project", "-p", help="The project folder (default: here or above)."),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(help="Database URL, e.g. postgresql://user@host/db (default: SQLite)."),
    ] = None,
) -> None:
    STATE.project = project
    STATE.db = db


def handle_errors(fn: F) -> F:
    """Turn Assay's errors into one clean line and exit code 1 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AssayError as exc:
            # Typer ships its own copy of click, so click.ClickException would not be caught.
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from exc

    return wrapper  # type: ignore[return-value]


def open_project() -> Any:
    """The project the global options point at."""
    import assay

    return assay.open(STATE.project or Path.cwd(), db=STATE.db)


def main() -> None:
    """Entry point of the ``assay`` script."""
    app()
