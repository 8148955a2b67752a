"""Commands that move data in and out: import, export."""

from __future__ import annotations

import contextlib
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
            help="images, idx, table, jsonl, archive, coco, yolo or voc (default: detected); "
            "text spans: spacy-jsonl, conll or label-studio."
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
    spans_only: Annotated[
        bool,
        typer.Option(
            help="Spans (--format spacy-jsonl|conll|label-studio) onto the texts already in "
            "--dataset (matched by key and text), into --layer (default 'spans')."
        ),
    ] = False,
    tags_column: Annotated[
        str | None,
        typer.Option(
            help="Tags onto the items of --dataset: the column with each row's tags "
            "(a JSON list or names joined by | ; or ,), into the tag layer --layer."
        ),
    ] = None,
    tag_columns: Annotated[
        str | None,
        typer.Option(
            help="Tags onto the items of --dataset: one 0/1 column per tag, e.g. "
            "red,round,sweet (the tag named by its column)."
        ),
    ] = None,
    tag_sep: Annotated[
        str | None, typer.Option(help="The separator of --tags-column (default: | ; or ,).")
    ] = None,
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
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Run the dataset's data checks (checks/<dataset>.toml, `assay check --init`) on "
            "the data as it would be, and publish only if they all pass.",
        ),
    ] = False,
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

      assay import ner.conll --format conll --dataset ner               # texts + spans
      assay import tags.csv --dataset fruit --tags-column tags --key-column id --layer tags
      assay import prices.csv --number-column price --layer price --option min=0 --option unit=EUR

      assay import batch2/ --dataset pets --check   # refused if a data check fails
    """
    project = open_project()
    with project.checking_imports() if check else contextlib.nullcontext():
        spec = build_spec(
            ImportSpec,
            {"format": format, "label_column": label_column, "key_column": key_column,
             "split_column": split_column, "text_column": text_column, "split": split,
             "add_classes": add_classes},
        )  # fmt: skip
        options = spec.options() | ({"labels": labels} if labels is not None else {})
        options |= {k: v for k, v in (("images", images), ("layer", layer)) if v is not None}
        if spans_only:
            if dataset is None or spec.format is None:
                raise typer.BadParameter("--spans-only needs --dataset and --format.")
            with progress_bar(f"importing spans of {path.name}") as progress:
                done = project.dataset(dataset).import_spans(
                    path, layer=layer or "spans", format=spec.format, add_classes=add_classes,
                    progress=progress,
                )  # fmt: skip
            if as_json:
                print_json(done)
                return
            console.print(
                f"Imported the spans of {path.name} into layer '{done['layer']}' of dataset "
                f"'{dataset}': {fmt(done['n_new_labels'])} new labels."
            )
            return
        if tags_column is not None or tag_columns is not None:
            if dataset is None:
                raise typer.BadParameter(
                    "Tags go onto the items of a dataset: name it (--dataset)."
                )
            with progress_bar(f"importing tags of {path.name}") as progress:
                done = project.dataset(dataset).import_tags(
                    path, layer=layer or "tags", key_column=key_column or "key",
                    tags_column=tags_column,
                    tag_columns=[c.strip() for c in (tag_columns or "").split(",") if c.strip()],
                    sep=tag_sep, add_classes=add_classes, progress=progress,
                )  # fmt: skip
            if as_json:
                print_json(done)
                return
            console.print(
                f"Imported the tags of {path.name} into layer '{done['layer']}' of dataset "
                f"'{dataset}': {fmt(done['n_rows'])} rows, {fmt(done['n_new_labels'])} new labels"
                + (f", {done['n_classes_added']} new tags" if done["n_classes_added"] else "")
                + "."
            )
            return
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
                raise typer.BadParameter(
                    "--boxes-only needs --dataset (the dataset with the images)."
                )
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
            help="csv, parquet, jsonl, or for a box layer coco or yolo, for a span layer "
            "spacy-jsonl, conll or label-studio (default: from PATH)."
        ),
    ] = None,
    tag_columns: Annotated[
        bool, typer.Option(help="A tag layer: one 0/1 column per tag (default: a list column).")
    ] = False,
    tag_sep: Annotated[
        str, typer.Option(help="A tag layer in CSV: the separator of the tags column.")
    ] = "|",
) -> None:
    """Export the current labels of a layer (key, split, label, author, time, reason).

    Example: assay export digits labels.parquet --layer ground_truth --filter split=test

    A box layer: assay export scenes boxes.json --layer boxes --format coco (or a new folder
    with --format yolo: images/, labels/*.txt, classes.txt).
    """
    if format in ("coco", "yolo") and filter is not None:
        raise typer.BadParameter("--filter is not supported with --format coco|yolo.")
    ds = open_project().dataset(dataset)
    if any(r["name"] == layer and r["value_kind"] == "tags" for r in ds.layers()):
        done = ds.export_tags(path, layer=layer, columns=tag_columns, sep=tag_sep, filter=filter)
        console.print(f"Wrote the tags of {fmt(done['n_rows'])} items to {path}.")
        return
    with progress_bar(f"exporting {dataset}") as progress:
        n = ds.export(path, layer=layer, format=format, filter=filter, progress=progress)
    console.print(
        f"Wrote {fmt(n)} {'images' if format in ('coco', 'yolo') else 'labels'} to {path}."
    )
