"""``assay map``: compute the embedding map the web app's Map tab shows."""

from __future__ import annotations

import warnings
from typing import Annotated

import typer

from assay.cli.app import app, handle_errors, open_project
from assay.cli.label_cmd import AuthorOpt, JsonOpt, build_spec
from assay.cli.render import console, err_console, fmt, print_json, progress_bar
from assay.cli.stats_cmd import _only_dataset
from assay.maps.specs import MapSpec


@app.command("map")
@handle_errors
def map_cmd(
    dataset: Annotated[
        str | None, typer.Argument(help="Dataset (default: the only one in the project).")
    ] = None,
    featurizer: Annotated[
        str, typer.Option(help="auto (by item kind), pixels, minilm, tabular, or imported vectors.")
    ] = MapSpec.default("featurizer"),
    filter: Annotated[
        str | None, typer.Option("--filter", "-f", help="Map only this slice, e.g. 'split=test'.")
    ] = None,
    method: Annotated[
        str, typer.Option(help="umap (needs assay[map]; PCA without it) or pca (quick, linear).")
    ] = MapSpec.default("method"),
    n_neighbors: Annotated[
        int, typer.Option(help="UMAP: neighbours per point (2-200).")
    ] = MapSpec.default("n_neighbors"),
    min_dist: Annotated[
        float, typer.Option(help="UMAP: how tightly points pack (0-1).")
    ] = MapSpec.default("min_dist"),
    seed: Annotated[
        int, typer.Option(help="Seeds UMAP, PCA and the fitting sample.")
    ] = MapSpec.default("seed"),
    author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Place every item on a 2-D map by the similarity of its features (UMAP, else PCA).

    The map is stored in the project; the web app's Map tab shows the newest one.

    Examples:

      assay map digits

      assay map mnist --method pca --filter "split=test"
    """
    spec = build_spec(
        MapSpec,
        {"featurizer": featurizer, "filter": filter, "method": method,
         "n_neighbors": n_neighbors, "min_dist": min_dist, "seed": seed},
    )  # fmt: skip
    project = open_project()
    ds = project.dataset(dataset or _only_dataset(project))
    with warnings.catch_warnings(), progress_bar("computing the map") as progress:
        warnings.simplefilter("ignore", UserWarning)
        info = ds.maps.compute(spec, author=author, progress=progress)
    if as_json:
        print_json(info)
        return
    for note in info["notes"]:
        err_console.print(f"Note: {note}")
    console.print(
        f"Map {info['map_id']} of {ds.name!r}: {fmt(info['n_points'])} points, "
        f"{info['method'].upper()} of {info['featurizer']!r} features, {info['seconds']:.1f} s. "
        "Open the Map tab of `assay serve` to explore it."
    )
