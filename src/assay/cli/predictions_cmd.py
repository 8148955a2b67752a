"""``assay predictions import|server``: predictions made outside Assay, stored as model runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.app import app, handle_errors
from assay.cli.label_cmd import AuthorOpt, DatasetOpt, dataset_of
from assay.cli.render import console, fmt

predictions_app = typer.Typer(
    help="Predictions from outside: a file of probabilities, or your model server."
)
app.add_typer(predictions_app, name="predictions")


@predictions_app.command("import")
@handle_errors
def predictions_import(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV/Parquet (key + one column per class), .npz, or a COCO results .json."
        ),
    ],
    name: Annotated[str, typer.Option(help="Name of the model run (and of its layer).")],
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
    format: Annotated[
        str | None,
        typer.Option(
            help="probs, or coco-results: boxes [{image_id, category_id, bbox, score}] "
            "(default: coco-results for a .json file)."
        ),
    ] = None,
    instances: Annotated[
        Path | None,
        typer.Option(
            help="coco-results: the COCO instances file the predictions were made on, to map "
            "image ids to file names (default: the ids a COCO import kept)."
        ),
    ] = None,
) -> None:
    """Import probabilities computed elsewhere as a model run (label = argmax), or predicted
    boxes in the COCO results format as a model box layer.

    Example: assay predictions import probs.csv --name resnet-v3

    Example: assay predictions import results.json --name detr-v1 --dataset coco
    """
    if format not in (None, "probs", "coco-results"):
        raise typer.BadParameter("--format is probs or coco-results.")
    if format == "coco-results" or (format is None and path.suffix.lower() == ".json"):
        done = dataset_of(dataset).import_box_predictions(
            path, layer=name, instances=instances, author=author or "import"
        )
        console.print(
            f"Stored the boxes of {path.name} as model box layer {name!r} (model run "
            f"{done['run']!r}, `assay models`): {fmt(done['n_new_labels'])} new labels."
        )
        return
    from assay.models.external import import_predictions

    run = import_predictions(dataset_of(dataset), path, name=name, author=author)
    console.print(f"Stored {fmt(run.n_items)} predictions as model layer {run.layer!r}.")


@predictions_app.command("server")
@handle_errors
def predictions_server(
    server: Annotated[str, typer.Argument(help="A server named in assay.toml [model_servers].")],
    name: Annotated[str, typer.Option(help="Name of the model run (and of its layer).")],
    filter: Annotated[
        str | None, typer.Option("--filter", "-f", help="Only these items, e.g. split=test.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Items per request.")] = 64,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 30.0,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Ask your model server for probabilities (protocol: docs/model-server.md).

    Example: assay predictions server my-model --name my-model-2026-11 --filter split=test
    """
    from assay.models.external import predict_with_server

    with console.status(f"asking {server}"):
        run = predict_with_server(
            dataset_of(dataset),
            server,
            name=name,
            filter=filter,
            batch_size=batch_size,
            timeout_s=timeout,
            author=author,
        )
    console.print(f"Stored {fmt(run.n_items)} predictions as model layer {run.layer!r}.")
