"""``assay label ...`` and ``assay layer ...``: write labels and manage annotation layers."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.table import Table

from assay.access import Viewer
from assay.cli.app import app, handle_errors, open_project
from assay.cli.render import console, fmt, print_json
from assay.errors import InvalidParameter
from assay.labels.kinds import DEFAULT_KIND
from assay.specs import Spec, first_problem

S = TypeVar("S", bound=Spec)

label_app = typer.Typer(help="Label items: one, many from a CSV, or every item of a filter.")
layer_app = typer.Typer(help="Annotation layers: list, create, copy, rename, freeze, export.")
app.add_typer(label_app, name="label")
app.add_typer(layer_app, name="layer")

DatasetOpt = Annotated[
    str | None,
    typer.Option("--dataset", "-d", help="Dataset (default: the only one in the project)."),
]
LayerOpt = Annotated[str, typer.Option("--layer", "-l", help="The layer to write to.")]
AuthorOpt = Annotated[
    str | None, typer.Option("--author", help="Who is writing (default: $ASSAY_USER or login).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def dataset_of(name: str | None) -> Any:
    """The named dataset, or the project's only one."""
    project = open_project()
    if name is None:
        names = [d["name"] for d in project.datasets()]
        name = project.default_dataset()
        if name is None:
            raise InvalidParameter(
                "Name the dataset with --dataset/-d; this project has "
                + (", ".join(names) if names else "no datasets yet")
                + "."
            )
    return project.dataset(name)


def build_spec(spec: type[S], options: Mapping[str, Any], **flags: str) -> S:
    """The operation's spec from the options the user set (None: not set, so the spec's
    default applies). A bad value is refused in one line naming its option, e.g.
    ``--cv: Input should be greater than or equal to 2.``; ``flags`` names the options that
    are not ``--field-name``."""
    try:
        return spec.model_validate({k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        where, message = first_problem(exc)
        option = flags.get(where, "--" + where.replace("_", "-"))
        raise InvalidParameter(f"{option}: {message}.") from None


def item_ref(text: str) -> int | str:
    """An item given on the command line: its key, or ``#123`` for the id 123."""
    return int(text[1:]) if text.startswith("#") and text[1:].isdigit() else text


@label_app.command("set")
@handle_errors
def label_set(
    item: Annotated[str, typer.Argument(help="Item key (or #ID).")],
    label: Annotated[
        str, typer.Argument(help="Class name (a box layer: its boxes as a JSON list).")
    ],
    layer: LayerOpt,
    note: Annotated[str | None, typer.Option(help="Why (kept in the history).")] = None,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Label one item in a layer (the previous label stays in the history).

    Example: assay label set img-0042 cat --layer alice --note "ears visible"

    A box layer takes the image's whole set of boxes, in pixels from the top-left corner:
    assay label set street-7.jpg '[{"class": "car", "x": 10, "y": 20, "w": 64, "h": 48}]'
    --layer boxes
    """
    ds = dataset_of(dataset)
    written = ds.set_label(
        item_ref(item),
        ds.parse_label(layer, label),
        layer=layer,
        author=author,
        note=note,
        viewer=Viewer.local(),
    )
    now = ds.item(written["item_id"])["labels"][layer]["label"]
    shown = item if not item.startswith("#") else f"{item} (id)"
    console.print(f"Item {shown} is now {now!r} in layer {layer!r}.")


@label_app.command("clear")
@handle_errors
def label_clear(
    item: Annotated[str, typer.Argument(help="Item key (or #ID).")],
    layer: LayerOpt,
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Remove an item's label from a layer (recorded in the history, like any change)."""
    ds = dataset_of(dataset)
    result = ds.set_label(
        item_ref(item), None, layer=layer, author=author, note=note, viewer=Viewer.local()
    )
    console.print(f"Item {result['item_id']} has no label in layer {layer!r} now.")


@label_app.command("bulk")
@handle_errors
def label_bulk(
    layer: LayerOpt,
    csv: Annotated[
        Path | None,
        typer.Option(help="CSV with columns key (or item_id), label and optionally note."),
    ] = None,
    filter: Annotated[
        str | None, typer.Option("--filter", "-f", help="Label every item of this slice...")
    ] = None,
    label: Annotated[str | None, typer.Option("--class", help="...with this class.")] = None,
    note: Annotated[str | None, typer.Option(help="A note on every label.")] = None,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Label many items in one go: all of them land, or (on any bad line) none do.

    Examples:

      assay label bulk --layer alice --csv corrections.csv

      assay label bulk --layer alice --filter "split=test, label=3" --class 5
    """
    ds = dataset_of(dataset)
    if (csv is None) == (filter is None and label is None):
        raise InvalidParameter("Give either --csv FILE or --filter SLICE with --class NAME.")
    if csv is not None:
        from assay.labels.bulk import read_label_csv
        from assay.labels.writes import LabelWrite

        rows = read_label_csv(csv, ds.classes())
        keyed = [(r.item, r.label) for r in rows if isinstance(r.item, str)]
        writes: list[Any] = []
        if keyed:
            with ds.store.read() as conn:
                from assay.labels.writes import resolve_items

                ids = resolve_items(conn, ds.id, [k for k, _ in keyed])
        for r in rows:
            item_id = ids[r.item] if isinstance(r.item, str) else r.item
            writes.append(LabelWrite(item_id, r.label, r.note or note))
        result = ds.set_labels(writes, layer=layer, author=author, viewer=Viewer.local())
    else:
        if label is None:
            raise InvalidParameter("--filter needs --class: the class to give those items.")
        result = ds.label_where(
            filter, label, layer=layer, author=author, note=note, viewer=Viewer.local()
        )
    console.print(f"Wrote {fmt(result.n_written)} labels to layer {layer!r}.")


@label_app.command("history")
@handle_errors
def label_history(
    item: Annotated[str, typer.Argument(help="Item key (or #ID).")],
    layer: Annotated[str | None, typer.Option("--layer", "-l", help="Only this layer.")] = None,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every label the item ever had, in every layer: who set what, when and why."""
    ds = dataset_of(dataset)
    rows = ds.history(item_ref(item), layer=layer)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"History of item {item}")
    for col in ("layer", "label", "author", "when", "note", "confidence"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["layer"],
            r["label"] if r["label"] is not None else "(cleared)",
            r["author"],
            f"{r['created_at']:%Y-%m-%d %H:%M:%S}",
            r["note"] or "",
            fmt(r["confidence"]) if r["confidence"] is not None else "",
        )
    console.print(table)


@layer_app.command("list")
@handle_errors
def layer_list(dataset: DatasetOpt = None, as_json: JsonOpt = False) -> None:
    """The dataset's layers with their kind, the kind of their labels (value kind), owner and
    whether they are frozen."""
    ds = dataset_of(dataset)
    rows = ds.layers()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Layers of {ds.name}")
    for col in ("layer", "kind", "value kind", "owner", "frozen", "created", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            r["kind"],
            r["value_kind"],
            r["owner"] or "",
            "yes" if r["frozen"] else "",
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            r["description"],
        )
    console.print(table)


def parse_options(given: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` arguments as a dict of strings; the layer's kind reads the values (the web
    form sends strings too)."""
    out: dict[str, str] = {}
    for text in given:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise InvalidParameter(f"--option {text!r}: write KEY=VALUE, e.g. --option min=0.")
        out[key.strip()] = value.strip()
    return out


@layer_app.command("create")
@handle_errors
def layer_create(
    name: Annotated[str, typer.Argument(help="Layer name, e.g. the annotator's.")],
    kind: Annotated[str, typer.Option(help="human, model, consensus, reviewed or import.")] = (
        "human"
    ),
    owner: Annotated[str | None, typer.Option(help="The annotator it belongs to.")] = None,
    description: Annotated[str, typer.Option(help="What it holds.")] = "",
    value_kind: Annotated[
        str, typer.Option(help="The annotation kind of its labels (a registered kind).")
    ] = DEFAULT_KIND,
    option: Annotated[
        list[str] | None,
        typer.Option(
            help="A setting of the annotation kind, KEY=VALUE, repeatable: a number's "
            "min=0 max=5 unit=stars, spans' overlap=true."
        ),
    ] = None,
    dataset: DatasetOpt = None,
) -> None:
    """Add an empty annotation layer holding labels of one annotation kind."""
    ds = dataset_of(dataset)
    info = ds.create_layer(
        name,
        kind=kind,
        value_kind=value_kind,
        owner=owner,
        description=description,
        options=parse_options(option or []),
    )
    console.print(f"Created {kind} layer {info['name']!r} of {info['value_kind']} labels.")


@layer_app.command("copy")
@handle_errors
def layer_copy(
    source: Annotated[str, typer.Argument(help="Layer to copy.")],
    target: Annotated[str, typer.Argument(help="Name of the new layer.")],
    owner: Annotated[str | None, typer.Option(help="The annotator it belongs to.")] = None,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
) -> None:
    """Start a new layer from the current labels of another."""
    ds = dataset_of(dataset)
    ds.copy_layer(source, target, author=author, owner=owner)
    console.print(f"Copied layer {source!r} to {target!r}.")


@layer_app.command("rename")
@handle_errors
def layer_rename(
    old: Annotated[str, typer.Argument(help="Current name.")],
    new: Annotated[str, typer.Argument(help="New name.")],
    dataset: DatasetOpt = None,
) -> None:
    """Rename a layer; its labels, history and snapshots follow it."""
    dataset_of(dataset).rename_layer(old, new)
    console.print(f"Renamed layer {old!r} to {new!r}.")


@layer_app.command("freeze")
@handle_errors
def layer_freeze(
    name: Annotated[str, typer.Argument(help="Layer to make read-only.")],
    dataset: DatasetOpt = None,
) -> None:
    """Make a layer read-only: every write to it is refused until it is unfrozen."""
    dataset_of(dataset).freeze_layer(name, True)
    console.print(f"Layer {name!r} is frozen.")


@layer_app.command("unfreeze")
@handle_errors
def layer_unfreeze(
    name: Annotated[str, typer.Argument(help="Layer to make writable again.")],
    dataset: DatasetOpt = None,
) -> None:
    """Make a frozen layer writable again."""
    dataset_of(dataset).freeze_layer(name, False)
    console.print(f"Layer {name!r} is writable.")


def key_pairs(pairs: list[str]) -> dict[str, str]:
    """``CLASS=KEY`` arguments as {class: key} (the last ``=`` splits; ``cat==`` gives ``=``)."""
    keys: dict[str, str] = {}
    for text in pairs:
        name, sep, key = text.rpartition("=")
        if name.endswith("=") and not key:
            name, key = name[:-1], "="
        if not sep or not name:
            raise InvalidParameter(
                f"Give each key as CLASS=KEY (as in 9=9 or cat=c), not {text!r}."
            )
        keys[name] = key
    return keys


@layer_app.command("keys")
@handle_errors
def layer_keys(
    name: Annotated[str, typer.Argument(help="The layer.")],
    pairs: Annotated[
        list[str] | None, typer.Argument(help="CLASS=KEY pairs, replacing the keys set before.")
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Forget the keys set: back to the default rule.")
    ] = False,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show or set the keys that pick each class when labeling in a layer.

    By default a class named by a single key ("0"-"9", "a") is picked by it, the others by
    1-9, 0, a-z in order; keys set here come first. Example: assay layer keys alice cat=c dog=d
    """
    ds = dataset_of(dataset)
    if pairs or reset:
        ds.set_layer_keys(name, {} if reset else key_pairs(pairs or []))
    else:
        ds.layer(name)  # LayerNotFound with a hint
    keys = ds.class_keys(name)
    if as_json:
        print_json({"layer": name, "keys": {c: k for k, c in keys}})
        return
    table = Table("class", "key", title=f"Keys of layer {name!r}")
    for key, c in keys:
        table.add_row(c, key or "(none)")
    console.print(table)


@layer_app.command("export")
@handle_errors
def layer_export(
    name: Annotated[str, typer.Argument(help="Layer to export.")],
    path: Annotated[Path, typer.Argument(help="Output file: .csv, .parquet or .jsonl.")],
    history: Annotated[
        bool, typer.Option(help="Every label ever set, not just the current ones.")
    ] = False,
    dataset: DatasetOpt = None,
) -> None:
    """Export a layer's labels (with author, time and note)."""
    from assay.ingest.export import export_layer

    ds = dataset_of(dataset)
    n = export_layer(ds, path, layer=name, history=history)
    console.print(f"Wrote {fmt(n)} labels to {path}.")
