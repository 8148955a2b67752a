"""The CLI's words for number layers: the import of a number column, and how their statistics,
agreement and evaluation are printed (the library computes them; this only shapes them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from assay.cli.render import bar, console, fmt, print_json, progress_bar

__all__ = [
    "import_number_column",
    "print_number_agreement",
    "print_number_evaluation",
    "print_number_layer",
]


def _num(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def import_number_column(
    project: Any,
    path: Path,
    *,
    dataset: str | None,
    column: str,
    layer: str | None,
    key_column: str | None,
    options: list[str],
    as_json: bool,
    import_options: dict[str, Any],
) -> None:
    """``assay import TABLE --number-column C``: onto the items of an existing dataset
    (matched by key), or a new dataset of the table's rows (the column is no feature) with
    the numbers in layer ``layer`` (default: the column's name)."""
    from assay.cli.label_cmd import parse_options
    from assay.ingest.numbers import check_numbers, read_number_column

    target = layer or column
    opts = parse_options(options)
    names = {d["name"] for d in project.datasets()}
    name = dataset or path.name.split(".")[0]
    n_items = 0
    if name not in names:
        from assay.labels.kinds import get_kind

        # Checked before the table lands: a bad value imports nothing at all.
        kept = get_kind("number").check_options(opts, {})
        check_numbers(read_number_column(path, column, key_column=key_column), kept)
        import_options.pop("layer", None)
        with progress_bar(f"importing {path.name}") as progress:
            result = project.import_path(
                path, dataset=name, progress=progress, exclude_columns=[column],
                **{k: v for k, v in import_options.items() if v is not None},
            )  # fmt: skip
        n_items = result.n_new_items
    with progress_bar(f"importing the numbers of {path.name}") as progress:
        done = project.dataset(name).import_numbers(
            path, column=column, layer=target, key_column=key_column, options=opts,
            progress=progress,
        )  # fmt: skip
    if as_json:
        print_json({**done, "dataset": name, "n_new_items": n_items})
        return
    console.print(
        f"Imported {fmt(done['n_rows'])} rows of {column!r} into number layer '{target}' of "
        f"dataset '{name}': {fmt(n_items)} new items, {fmt(done['n_new_labels'])} new labels."
    )


def print_number_layer(s: dict[str, Any]) -> None:
    """A number layer's distribution: summary, quantiles and a text histogram."""
    unit = f" {s['unit']}" if s.get("unit") else ""
    if not s["n_values"]:
        console.print(f"Layer '{s['name']}' holds no values ({fmt(s['n_not_annotated'])} items).")
        return
    console.print(
        f"[bold]Numbers in layer '{s['name']}'[/bold]: {fmt(s['n_values'])} values, "
        f"{fmt(s['n_not_annotated'])} items not annotated; mean {s['mean']:.4g}{unit}, std "
        f"{s['std']:.4g}, min {s['min']:.4g}, max {s['max']:.4g}"
    )
    q = Table(title="Quantiles (from the histogram)", title_justify="left", show_edge=False)
    for key in s["quantiles"]:
        q.add_column(key, justify="right")
    q.add_row(*(_num(v, 4) for v in s["quantiles"].values()))
    console.print(q)
    edges, counts = s["histogram"]["edges"], s["histogram"]["counts"]
    top = max(counts) if counts else 0
    h = Table(title="Histogram", title_justify="left", show_edge=False)
    for col in ("from", "to", "count", ""):
        h.add_column(col, justify="right" if col else "left")
    for k, n in enumerate(counts):
        h.add_row(f"{edges[k]:.4g}", f"{edges[k + 1]:.4g}", fmt(n), bar(n / top if top else 0))
    console.print(h)


def print_number_agreement(r: dict[str, Any]) -> None:
    """Agreement of number layers: alpha (interval), ICC and the pairs."""
    console.print(
        f"{fmt(r['n_items'])} items labeled, {fmt(r['n_items_with_2plus_labels'])} by two or "
        f"more of: {', '.join(r['annotators'])}; Krippendorff's alpha (interval) "
        f"{_num(r['krippendorff_alpha_interval'])}, ICC(2,1) {_num(r['icc_2_1'])}; tolerance "
        f"{r['tolerance']:.4g}"
    )
    table = Table(title="Pairs", title_justify="left", show_edge=False)
    for col in ("a", "b", "items", "alpha", "mean |a-b|", "within tolerance"):
        table.add_column(col, justify="left" if col in ("a", "b") else "right")
    for p in r["pairs"]:
        within = p["share_within_tolerance"]
        table.add_row(p["a"], p["b"], fmt(p["n_items"]), _num(p["alpha"]),
                      _num(p["mean_abs_difference"], 4),
                      "—" if within is None else f"{100 * within:.1f}%")  # fmt: skip
    console.print(table)
    against = r.get("against_reference")
    if against:
        t2 = Table(title=f"Against {r['reference']}", title_justify="left", show_edge=False)
        for col in ("layer", "items", "alpha", "mean |diff|"):
            t2.add_column(col, justify="left" if col == "layer" else "right")
        for name, p in against.items():
            t2.add_row(name, fmt(p["n_items"]), _num(p["alpha"]),
                       _num(p["mean_abs_difference"], 4))  # fmt: skip
        console.print(t2)


def print_number_evaluation(r: dict[str, Any]) -> None:
    """Predicted numbers: errors, R², intervals and the largest errors."""
    where = f" where {r['filter']}" if r.get("filter") else ""
    console.print(
        f"[bold]{r['source']}[/bold] against {r['reference_layer']!r}{where}: "
        f"{fmt(r['n_items'])} items, MAE {r['mae']:.4g}, RMSE {r['rmse']:.4g}, R² "
        f"{_num(r['r2'])}, mean residual {r['mean_residual']:.4g}"
    )
    c = r.get("conformal")
    if c:
        console.print(
            f"Conformal intervals at {100 * c['confidence']:.0f}% ({c['method']}): coverage "
            f"{100 * c['coverage']:.1f}% on {fmt(c['n_test'])} held-out items, mean width "
            f"{c['mean_width']:.4g}"
        )
    table = Table(title="Largest errors", title_justify="left", show_edge=False)
    for col in ("item", "true", "predicted", "error"):
        table.add_column(col, justify="right")
    for e in r["largest_errors"][:10]:
        table.add_row(str(e["item_id"]), f"{e['true']:.4g}", f"{e['predicted']:.4g}",
                      f"{e['error']:+.4g}")  # fmt: skip
    console.print(table)
