"""``assay issues``: likely mislabeled items, outliers and near-duplicates, most likely first."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import app, handle_errors
from assay.cli.label_cmd import AuthorOpt, DatasetOpt, JsonOpt, dataset_of
from assay.cli.render import console, err_console, fmt, print_json, progress_bar

ModelLayerOpt = Annotated[
    str | None,
    typer.Option(
        "--model-layer",
        help="A layer of out-of-fold probabilities (assay predict --cv 5); default: the latest "
        "cross-validation of --layer if its labels have not changed since, else a new one.",
    ),
]
LayerOpt = Annotated[
    str | None, typer.Option("--layer", "-l", help="The labels to check (default: ground_truth).")
]


def _split(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def scan_if_needed(
    ds: Any,
    *,
    force: bool,
    layer: str | None = None,
    model_layer: str | None = None,
    annotators: list[str] | None = None,
    filter: str | None = None,
    features: bool = True,
    author: str | None = None,
) -> Any:
    """The latest label-issue search, or a new one if asked, if there is none, or if the
    latest one checked other layers than those named."""
    from assay.quality.runs import RunNotFound

    latest = None
    if not force:
        try:
            latest = ds.quality.run()
        except RunNotFound:
            latest = None
    stale = latest is not None and (
        (layer is not None and latest.layer != layer)
        or (model_layer is not None and latest.model_layer != model_layer)
        or (annotators is not None and latest.annotator_layers != annotators)
    )
    if latest is not None and not stale:
        return latest
    with progress_bar("finding label issues") as progress:
        run = ds.quality.find(
            layer=layer or "ground_truth",
            model_layer=model_layer,
            annotator_layers=annotators,
            filter=filter,
            features=features,
            actor=author,
            progress=progress,
        )
    err_console.print(
        f"Checked {fmt(run.n_items)} labels of {run.layer!r} with the probabilities of "
        f"{run.model_layer!r}: {fmt(run.n_issues)} likely mislabeled, {fmt(run.n_outliers)} "
        f"outliers, {fmt(run.n_duplicates)} near-duplicates."
    )
    return run


@app.command()
@handle_errors
def issues(
    layer: LayerOpt = None,
    model_layer: ModelLayerOpt = None,
    annotators: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated annotator layers: items several of them labeled are checked "
            "against CROWDLAB's consensus."
        ),
    ] = None,
    kind: Annotated[
        str, typer.Option(help="label (likely mislabeled), outlier or duplicate.")
    ] = "label",
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    after: Annotated[
        str | None, typer.Option(help="The cursor printed after the previous page.")
    ] = None,
    scan: Annotated[
        bool, typer.Option("--scan", help="Search again instead of listing the last search.")
    ] = False,
    features: Annotated[
        bool, typer.Option(help="Also find outliers and near-duplicates from features.")
    ] = True,
    filter: Annotated[
        str | None, typer.Option("--filter", "-f", help="Check only this slice (with --scan).")
    ] = None,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List likely mislabeled items, most likely first: key, given label, suggested label,
    score (1 - label quality) and nearest neighbours. The first call (or --scan) searches:
    confident learning (cleanlab) on out-of-fold probabilities, plus outliers and
    near-duplicates; later calls list the stored results.

    Examples:

      assay issues

      assay issues --model-layer cv-logreg --scan --json

      assay issues --kind outlier --limit 20
    """
    ds = dataset_of(dataset)
    run = scan_if_needed(
        ds,
        force=scan,
        layer=layer,
        model_layer=model_layer,
        annotators=_split(annotators),
        filter=filter,
        features=features,
        author=author,
    )
    rows = ds.quality.issues(run.run_id, kind=kind, limit=limit, after=after)
    if as_json:
        print_json({"run": run.to_dict(), "issues": rows})
        return
    _print_rows(run, kind, rows, limit)


def _print_rows(run: Any, kind: str, rows: list[dict[str, Any]], limit: int) -> None:
    title = {"label": "Likely mislabeled", "outlier": "Outliers", "duplicate": "Near-duplicates"}
    table = Table(title=f"{title.get(kind, kind)} (run {run.run_name})", title_justify="left")
    for col in ("#", "key", "given", "suggested", "score", "confidence", "neighbours", "note"):
        table.add_column(col, justify="right" if col in ("#", "score", "confidence") else "left")
    for n, r in enumerate(rows, 1):
        table.add_row(
            str(n),
            r["key"],
            r["given"] or "",
            r["suggested"] if r["suggested"] != r["given"] else "",
            f"{r['score']:.3f}",
            "" if r["confidence"] is None else f"{r['confidence']:.2f}",
            ", ".join(f"{x['key']}:{x['label']}" for x in r["neighbours"]),
            _note(r),
        )
    console.print(table)
    if not rows:
        console.print("Nothing flagged.")
    elif len(rows) == limit:
        console.print(f"More: assay issues --kind {kind} --after {rows[-1]['cursor']}")


def _note(row: dict[str, Any]) -> str:
    notes = []
    if row["is_outlier"]:
        notes.append(f"outlier ({row['outlier_score']:.3f})")
    if row["duplicate_of"] is not None:
        notes.append(f"near-duplicate of {row['duplicate_of']} ({row['duplicate_label']})")
    return "; ".join(notes)
