"""``assay stats``: the inventory of a dataset or slice, or two slices side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import app, handle_errors, open_project
from assay.cli.numbers_render import print_number_layer
from assay.cli.render import (
    console,
    counts_table,
    fmt,
    print_comparison,
    print_inventory,
    print_json,
    progress_bar,
)
from assay.cli.tags_print import print_tag_layer
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
    layer: Annotated[
        str | None,
        typer.Option(
            "--layer",
            "--boxes",
            help="Only the statistics of this layer's kind (boxes per image and sizes, tag "
            "co-occurrence, span lengths, the distribution of numbers...).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the inventory: counts by kind and split, class balance and coverage per layer,
    label activity, per-feature statistics, image sizes, text lengths, duplicates; for each
    box layer: boxes per image, box sizes and aspect ratios, class balance of the boxes,
    images with no boxes or not annotated, boxes touching the image's edge.

    Examples:

      assay stats digits

      assay stats digits --filter "split=test" --json

      assay stats digits --compare split=train split=test

      assay stats train-set --against new-batch

      assay stats scenes --layer alice --json
    """
    project = open_project()
    ds = project.dataset(dataset or _only_dataset(project))
    if layer:
        from assay.stats.kind_stats import layer_statistics

        found = layer_statistics(ds, layer, filter, dask=dask)
        printer = LAYER_PRINTERS.get(found["value_kind"])
        print_json(found) if as_json or printer is None else printer(found)
        return
    if compare or against:
        filter_a, filter_b = compare or (filter, filter)
        result = ds.compare(filter_a or None, filter_b or None, other=against, dask=dask).to_dict()
        print_json(result) if as_json else print_comparison(result)
        return
    with progress_bar("computing statistics") as progress:
        inventory = ds.stats(filter, dask=dask, progress=progress).to_dict()
    if as_json:
        print_json(inventory)
        return
    print_inventory(inventory)
    for row in inventory["layers"]:
        if "boxes" in row:
            print_box_layer({"name": row["name"], **row["boxes"]})


def print_box_layer(s: dict[str, Any]) -> None:
    """One box layer's statistics as lines and tables."""
    per = s["boxes_per_image"]
    mean = "" if per["mean"] is None else f" (mean {per['mean']:.2f} per image, max {per['max']})"
    console.print(
        f"[bold]Boxes in layer '{s['name']}'[/bold]: {fmt(s['n_boxes'])} boxes in "
        f"{fmt(s['n_annotated'])} annotated images{mean}; {fmt(s['n_empty'])} with no boxes, "
        f"{fmt(s['n_not_annotated'])} not annotated; touching the edge: "
        f"{fmt(s['n_touching_edge'])} ({100 * s['touching_edge_share']:.1f}%)"
    )
    shares = s["class_shares"]
    table = Table(title=f"Box classes in '{s['name']}'", title_justify="left", show_edge=False)
    for col in ("class", "boxes", "share", "images"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for cls, n in s["classes"].items():
        images = s["images_per_class"].get(cls, 0)
        table.add_row(cls, fmt(n), f"{100 * shares[cls]:.1f}%", fmt(images))
    console.print(table)
    console.print(counts_table(f"Boxes per image in '{s['name']}'", per["counts"]))
    sizes = Table(title=f"Box sizes in '{s['name']}'", title_justify="left", show_edge=False)
    for col in ("", "mean", "min", "max"):
        sizes.add_column(col, justify="left" if not col else "right")
    rows = [
        ("width (px)", s["width"]), ("height (px)", s["height"]), ("area (px²)", s["area"]),
        ("width / image width", s["relative"]["width"]),
        ("height / image height", s["relative"]["height"]),
        ("area / image area", s["relative"]["area"]),
        ("aspect ratio (w / h)", s["aspect_ratio"]),
    ]  # fmt: skip
    if "scores" in s:
        rows.append(("score", s["scores"]))
    for name, d in rows:
        sizes.add_row(name, fmt(d["mean"]), fmt(d["min"]), fmt(d["max"]))
    console.print(sizes)
    console.print(counts_table(f"COCO size classes in '{s['name']}'", s["coco_sizes"]))


#: How each kind's layer statistics are printed (a kind without one: as JSON).
LAYER_PRINTERS: dict[str, Callable[[dict[str, Any]], None]] = {"boxes": print_box_layer}
LAYER_PRINTERS["tags"] = print_tag_layer


def print_span_layer(s: dict[str, Any]) -> None:
    """One span layer's statistics as lines and tables."""
    per = s["spans_per_text"]
    mean = "" if per.get("mean") is None else f" (mean {per['mean']:.2f} per text)"
    console.print(
        f"[bold]Spans in layer '{s['name']}'[/bold]: {fmt(s['n_spans'])} spans in "
        f"{fmt(s['n_annotated'])} annotated texts{mean}; {fmt(s['n_empty'])} with no spans, "
        f"{fmt(s['n_not_annotated'])} not annotated"
    )
    table = Table(title=f"Span classes in '{s['name']}'", title_justify="left", show_edge=False)
    for col in ("class", "spans", "share", "texts"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for cls, n in s["classes"].items():
        table.add_row(cls, fmt(n), f"{100 * s['class_shares'][cls]:.1f}%",
                      fmt(s["texts_per_class"].get(cls, 0)))  # fmt: skip
    console.print(table)
    for title, hist in (("Span length (characters)", s["length_chars"]),
                        ("Span length (tokens)", s["length_tokens"]),
                        ("Spans per text", per)):  # fmt: skip
        edges, counts = hist["edges"], hist["counts"]
        rows = {f"{edges[k]:g}-{edges[k + 1] - 1:g}" if edges[k + 1] - edges[k] > 1
                else f"{edges[k]:g}": n for k, n in enumerate(counts) if n}  # fmt: skip
        console.print(counts_table(f"{title} in '{s['name']}'", rows))


LAYER_PRINTERS["spans"] = print_span_layer

LAYER_PRINTERS["number"] = print_number_layer


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
