"""``assay stats``: the inventory of a dataset or slice, or two slices side by side."""

from __future__ import annotations

from typing import Annotated

import typer

from assay.cli.app import app, handle_errors, open_project
from assay.cli.render import print_comparison, print_inventory, print_json, progress_bar
from assay.errors import InvalidParameter


@app.command()
@handle_errors
def stats(
    dataset: Annotated[
        str | None, typer.Argument(help="Dataset (default: the only one in the project).")
    ] = None,
    filter: Annotated[
        str | None, typer.Option("--filter", "-f", help="A slice, e.g. 'split=train, label=3'.")
    ] = None,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(help="Two slices to put side by side, e.g. --compare split=train split=test."),
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(help="Compare with another dataset (e.g. new data against the training set)."),
    ] = None,
    dask: Annotated[
        str | None, typer.Option(help="Run on a Dask cluster, e.g. tcp://scheduler:8786.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the inventory: counts by kind and split, class balance and coverage per layer,
    label activity, per-feature statistics, image sizes, text lengths, duplicates.

    Examples:

      assay stats digits

      assay stats digits --filter "split=test" --json

      assay stats digits --compare split=train split=test

      assay stats train-set --against new-batch
    """
    project = open_project()
    ds = project.dataset(dataset or _only_dataset(project))
    if compare or against:
        filter_a, filter_b = compare or (filter, filter)
        result = ds.compare(filter_a or None, filter_b or None, other=against, dask=dask).to_dict()
        print_json(result) if as_json else print_comparison(result)
        return
    with progress_bar("computing statistics") as progress:
        inventory = ds.stats(filter, dask=dask, progress=progress).to_dict()
    print_json(inventory) if as_json else print_inventory(inventory)


def _only_dataset(project: object) -> str:
    names = [d["name"] for d in project.datasets()]  # type: ignore[attr-defined]
    named = project.default_dataset()  # type: ignore[attr-defined]
    if named is not None:
        return str(named)
    if not names:
        raise InvalidParameter(
            "The project has no datasets yet: import one with `assay import PATH`."
        )
    raise InvalidParameter(f"Say which dataset: {', '.join(names)}.")
