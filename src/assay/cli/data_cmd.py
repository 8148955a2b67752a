"""Commands that move data in and out: import, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assay.cli.app import app, handle_errors, open_project
from assay.cli.label_cmd import build_spec
from assay.cli.render import console, fmt, print_json, progress_bar
from assay.ingest.specs import ImportSpec


@app.command("import")
@handle_errors
def import_(
    path: Annotated[
        Path,
        typer.Argument(
            help="Image folder, IDX file/folder, .csv/.parquet, .jsonl, boxes (COCO .json, "
            "YOLO or VOC folder), or a .zip of one."
        ),
    ],
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="Dataset name (default: from PATH).")
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            help="images, idx, table, jsonl, archive, coco, yolo or voc (default: detected)."
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="Labels: a CSV (filename,label) for a flat image folder, or an IDX labels file."
        ),
    ] = None,
    label_column: Annotated[
        str | None, typer.Option(help="Table column or JSONL field with the label.")
    ] = None,
    key_column: Annotated[
        str | None, typer.Option(help="Column or field with each item's unique key.")
    ] = None,
    split_column: Annotated[
        str | None, typer.Option(help="Column or field with the split.")
    ] = None,
    text_column: Annotated[
        str | None, typer.Option(help="Column or JSONL field holding text (JSONL default: text).")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Split for every imported item, e.g. train.")
    ] = None,
    add_classes: Annotated[
        bool, typer.Option(help="Allow labels that are not yet classes of an existing dataset.")
    ] = ImportSpec.default("add_classes"),
    images: Annotated[
        Path | None,
        typer.Option(help="Boxes: the folder of a COCO file's images (default: found beside it)."),
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(help="Layer the labels go to (boxes: default 'boxes')."),
    ] = None,
    boxes_only: Annotated[
        bool,
        typer.Option(
            help="Boxes onto the images already in --dataset (matched by file name), as a new "
            "layer (--layer): a second annotator's COCO/YOLO/VOC file."
        ),
    ] = False,
    number_column: Annotated[
        str | None,
        typer.Option(
            help="Table column of numbers into the number layer --layer (default: the column's "
            "name): onto --dataset's items by --key-column, or with a new dataset of the table."
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help="A new number layer's option KEY=VALUE (min, max, unit...)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Import data into a dataset; all of it lands, or none of it does.

    Importing the same files again adds nothing new. Examples:

      assay import ./pets                       # one sub-folder per class

      assay import ./mnist-test --dataset mnist  # IDX files (t10k-images-idx3-ubyte.gz ...)

      assay import houses.csv --label-column price_band --key-column id

      assay import reviews.jsonl --label-column sentiment

      assay import annotations/instances_val2017.json --dataset coco  # images + boxes

      assay import bob.json --dataset coco --boxes-only --layer bob    # boxes onto its images

      assay import prices.csv --number-column price --layer price --option min=0 --option unit=EUR
    """
    spec = build_spec(
        ImportSpec,
        {"format": format, "label_column": label_column, "key_column": key_column,
         "split_column": split_column, "text_column": text_column, "split": split,
         "add_classes": add_classes},
    )  # fmt: skip
    options = spec.options() | ({"labels": labels} if labels is not None else {})
    options |= {k: v for k, v in (("images", images), ("layer", layer)) if v is not None}
    project = open_project()
    if number_column is not None:
        from assay.cli.numbers_render import import_number_column

        import_number_column(
            project, path, dataset=dataset, column=number_column, layer=layer,
            key_column=key_column, options=option or [], as_json=as_json,
            import_options={**options, "format": spec.format},
        )  # fmt: skip
        return
    if boxes_only:
        if dataset is None:
            raise typer.BadParameter("--boxes-only needs --dataset (the dataset with the images).")
        with progress_bar(f"importing boxes of {path.name}") as progress:
            done = project.dataset(dataset).import_boxes(
                path, layer=layer or "boxes", format=spec.format, progress=progress
            )
        if as_json:
            print_json(done)
            return
        console.print(
            f"Imported the boxes of {path.name} into layer '{done['layer']}' of dataset "
            f"'{dataset}': {fmt(done['n_new_labels'])} new labels."
        )
        return
    with progress_bar(f"importing {path.name}") as progress:
        result = project.import_path(
            path, dataset=dataset, format=spec.format, progress=progress, **options
        )
    if as_json:
        print_json(result.__dict__)
        return
    console.print(
        f"Imported {fmt(result.n_rows)} rows into dataset '{result.dataset}': "
        f"{fmt(result.n_new_items)} new items, {fmt(result.n_new_labels)} new labels"
        + (f", {result.n_classes_added} new classes" if result.n_classes_added else "")
        + "."
    )


@app.command()
@handle_errors
def export(
    dataset: Annotated[str, typer.Argument(help="Dataset to export.")],
    path: Annotated[
        Path,
        typer.Argument(help="Output file: .csv, .parquet, .jsonl, .json (coco); a folder (yolo)."),
    ],
    layer: Annotated[str, typer.Option(help="Annotation layer to export.")] = "ground_truth",
    filter: Annotated[
        str | None, typer.Option(help="Only items matching, e.g. split=test.")
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            help="csv, parquet, jsonl, or for a box layer coco or yolo (default: from PATH)."
        ),
    ] = None,
) -> None:
    """Export the current labels of a layer (key, split, label, author, time, reason).

    Example: assay export digits labels.parquet --layer ground_truth --filter split=test

    A box layer: assay export scenes boxes.json --layer boxes --format coco (or a new folder
    with --format yolo: images/, labels/*.txt, classes.txt).
    """
    if format in ("coco", "yolo") and filter is not None:
        raise typer.BadParameter("--filter is not supported with --format coco|yolo.")
    ds = open_project().dataset(dataset)
    with progress_bar(f"exporting {dataset}") as progress:
        n = ds.export(path, layer=layer, format=format, filter=filter, progress=progress)
    console.print(
        f"Wrote {fmt(n)} {'images' if format in ('coco', 'yolo') else 'labels'} to {path}."
    )
