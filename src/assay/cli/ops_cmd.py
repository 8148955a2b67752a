"""``assay doctor``, ``assay backup`` and ``assay restore``: keep the store whole."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from assay.cli.app import app, handle_errors, open_project
from assay.cli.render import console, fmt, print_json


@app.command()
@handle_errors
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check the store: database integrity, foreign keys, label-history chains, current
    labels, orphaned media, partial imports and resolved review cases. Exits 1 on a problem."""
    from assay.store.doctor import check_store

    report = check_store(open_project().store)
    if as_json:
        print_json(report.to_dict())
    else:
        table = Table(title="assay doctor")
        for col in ("check", "result", "what it looked at"):
            table.add_column(col)
        for c in report.checks:
            result = "ok" if c.ok else f"{fmt(c.n_problems)} problems"
            table.add_row(c.name, result, c.description)
        console.print(table)
        for c in report.checks:
            for problem in c.problems:
                console.print(f"  {c.name}: {problem}")
        console.print("The store is whole." if report.ok else "The store has problems (above).")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@handle_errors
def backup(
    path: Annotated[Path, typer.Argument(help="The backup file to write (must not exist).")],
) -> None:
    """Write a consistent copy of the store while it is in use (SQLite online backup;
    pg_dump for PostgreSQL). Image folders referenced by path are not copied."""
    from assay.store.backup import backup as run_backup

    with console.status("backing up"):
        written = run_backup(open_project().store, path)
    console.print(f"Backup written to {written} ({fmt(written.stat().st_size)} bytes).")


@app.command()
@handle_errors
def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `assay backup`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace the store's content without asking.")
    ] = False,
) -> None:
    """Replace the store's content with a backup, all at once (checked before anything is
    replaced). Stop `assay serve` first."""
    from assay.store.backup import restore as run_restore

    project = open_project()
    if not yes and not typer.confirm(f"Replace everything in {project.root}'s store?"):
        raise typer.Exit(1)
    run_restore(project.store, path)
    console.print(f"Restored {path} into {project.root}.")
