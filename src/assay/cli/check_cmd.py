"""``assay check``: a dataset's data tests (infer them with --init, then run them)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from assay.cli.app import app, handle_errors, open_project
from assay.cli.render import console, print_json
from assay.cli.stats_cmd import _only_dataset

STYLE = {"pass": "green", "fail": "bold red", "skipped": "yellow"}


@app.command()
@handle_errors
def check(
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", "-d", help="Dataset (default: the project's only or default one)."
        ),
    ] = None,
    init: Annotated[
        bool,
        typer.Option(
            "--init",
            help="Infer the expectations from the data as it is and write "
            "them to checks/<dataset>.toml (edit them afterwards).",
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --init: overwrite an existing file.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Run a dataset's data checks: pass, fail or skipped per expectation, the failing items'
    keys, and exit code 1 when one fails (for CI). The expectations live in
    checks/<dataset>.toml in the project, one table per expectation.

    Examples:

      assay check --init --dataset digits

      assay check --dataset digits

      assay check --json
    """
    from assay import checks

    project = open_project()
    ds = project.dataset(dataset or _only_dataset(project))
    if init:
        path = checks.init_expectations(ds, overwrite=force)
        n = len(checks.load_expectations(ds))
        if as_json:
            print_json({"dataset": ds.name, "path": str(path), "n_expectations": n})
        else:
            console.print(f"Wrote {n} expectations of '{ds.name}' to {path}; edit them, then "
                          "run `assay check`.")  # fmt: skip
        return
    report = checks.run_checks(ds)
    if as_json:
        print_json(report.to_dict())
    else:
        table = Table(title=f"Checks of '{ds.name}' ({report.source})", title_justify="left",
                      show_edge=False)  # fmt: skip
        for col in ("status", "expectation", "line", "result", "items"):
            table.add_column(col)
        for r in report.results:
            keys = ", ".join(str(i["key"]) for i in r.items[:5])
            more = f" (+{r.n_items - 5} more)" if r.n_items > 5 else ""
            table.add_row(
                f"[{STYLE[r.status]}]{r.status}[/]", r.name, str(r.line), r.message,
                keys + more if r.status == "fail" else "",
            )  # fmt: skip
        console.print(table)
        c = report.counts
        console.print(f"{c['pass']} passed, {c['fail']} failed, {c['skipped']} skipped.")
    if not report.passed:
        raise typer.Exit(1)
