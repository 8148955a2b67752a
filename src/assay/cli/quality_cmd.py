"""``assay issues``: likely mislabeled items, outliers and near-duplicates, most likely first."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import app, handle_errors
from assay.cli.label_cmd import AuthorOpt, DatasetOpt, JsonOpt, build_spec, dataset_of
from assay.cli.render import console, err_console, fmt, print_json, progress_bar
from assay.cli.tags_print import print_tag_issue_rows
from assay.quality.scores import format_score
from assay.quality.specs import IssuesSpec

ModelLayerOpt = Annotated[
    str | None,
    typer.Option(
        "--model-layer",
        "--predictions",
        help="A layer of out-of-fold probabilities (assay predict --cv 5); default: the latest "
        "cross-validation of --layer if its labels have not changed since, else a new one. "
        "For a box layer: the layer of predicted boxes (required).",
    ),
]
LayerOpt = Annotated[
    str | None,
    typer.Option(
        "--layer", "-l", help=f"The labels to check (default: {IssuesSpec.default('layer')})."
    ),
]
MethodOpt = Annotated[
    str | None,
    typer.Option(
        "--method",
        help="How to score and flag label issues: cleanlab (the default), one of cleanlab's "
        "filters (prune_by_noise_rate, prune_by_class, both, confident_learning, "
        "predicted_neq_given, low_normalized_margin, low_self_confidence), self_confidence or "
        "normalized_margin; for a box layer assay (the default), cleanlab or cleanlab_wide; an "
        "unknown name lists them. Recorded with the search; a method other than the latest "
        "search's searches again.",
    ),
]
RECOMPUTE = "assay issues --scan --recompute"


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
    method: str | None = None,
    recompute: bool = False,
    author: str | None = None,
    model: str | None = None,
    folds: int | None = None,
    seed: int | None = None,
) -> Any:
    """The latest label-issue search, or a new one if asked (``force``, ``recompute``), if
    there is none, or if the latest one checked other layers or used another method than
    those named. A new search of the latest one's labels (another method) uses its model
    layer and slice unless others are named. ``recompute`` cross-validates anew instead of
    reusing probabilities. The search's parameters are checked (as an
    :class:`~assay.quality.specs.IssuesSpec`) before anything is searched or stored."""
    from assay.errors import InvalidParameter
    from assay.quality.runs import RunNotFound

    build_spec(IssuesSpec, _options(layer, model_layer, annotators, filter, features, method,
                                    recompute, model, folds, seed))  # fmt: skip
    if recompute and model_layer is not None:
        raise InvalidParameter(
            "--recompute cross-validates anew; leave out --model-layer (whose probabilities "
            "are given, not computed)."
        )
    latest = None
    if not (force or recompute):
        try:
            latest = ds.quality.run()
        except RunNotFound:
            latest = None
    if latest is not None and not _differs(latest, layer, model_layer, annotators, method):
        warn_if_stale(latest)
        return latest
    if (
        latest is not None
        and layer in (None, latest.layer)
        and annotators in (None, latest.annotator_layers)
    ):
        # The same labels (another method or model layer): search them as the latest did.
        layer, annotators = latest.layer, latest.annotator_layers
        model_layer = model_layer or latest.model_layer
        filter = filter if filter is not None else latest.filter
    spec = build_spec(IssuesSpec, _options(layer, model_layer, annotators, filter, features,
                                           method, recompute, model, folds, seed))  # fmt: skip
    with progress_bar("finding label issues") as progress:
        run = ds.quality.find(spec, actor=author, progress=progress)
    err_console.print(
        f"Checked {fmt(run.n_items)} labels of {run.layer!r} with the probabilities of "
        f"{run.model_layer!r} (method {run.method}): {fmt(run.n_issues)} likely mislabeled, "
        f"{fmt(run.n_outliers)} outliers, {fmt(run.n_duplicates)} near-duplicates."
    )
    warn_if_stale(run)
    return run


def _options(
    layer: str | None,
    model_layer: str | None,
    annotators: list[str] | None,
    filter: str | None,
    features: bool,
    method: str | None,
    recompute: bool,
    model: str | None,
    folds: int | None,
    seed: int | None,
) -> dict[str, Any]:
    """The options of a search, in the words of :class:`IssuesSpec`."""
    return {
        "layer": layer, "model_layer": model_layer, "annotator_layers": annotators,
        "filter": filter, "features": features, "method": method, "reuse": not recompute,
        "model": model, "folds": folds, "seed": seed,
    }  # fmt: skip


def _differs(
    latest: Any,
    layer: str | None,
    model_layer: str | None,
    annotators: list[str] | None,
    method: str | None,
) -> bool:
    """Whether the latest search checked other layers or used another method than named."""
    return (
        (layer is not None and latest.layer != layer)
        or (model_layer is not None and latest.model_layer != model_layer)
        or (annotators is not None and latest.annotator_layers != annotators)
        or (method is not None and latest.method != method)
    )


def warn_if_stale(run: Any) -> None:
    """Say on stderr that a search used out-of-date probabilities, and how to recompute."""
    if run.stale:
        err_console.print(
            f"Warning: {run.stale_message} To do so: {RECOMPUTE}", style="yellow", markup=False
        )


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
    limit: Annotated[
        int, typer.Option(help="Show at most this many (one page; the next page's cursor follows).")
    ] = 50,
    after: Annotated[
        str | None, typer.Option(help="The cursor printed after the previous page.")
    ] = None,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every labeled item by label quality, not only the flagged ones: the flagged "
            "ones first (marked), then the rest, past the cut.",
        ),
    ] = False,
    method: MethodOpt = None,
    scan: Annotated[
        bool, typer.Option("--scan", help="Search again instead of listing the last search.")
    ] = False,
    recompute: Annotated[
        bool,
        typer.Option(
            "--recompute",
            help="Search again on a new cross-validation instead of reusing probabilities "
            "(implies --scan).",
        ),
    ] = False,
    features: Annotated[
        bool, typer.Option(help="Also find outliers and near-duplicates from features.")
    ] = IssuesSpec.default("features"),
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="The model cross-validated when probabilities are "
            "needed: auto (an ensemble), logreg, hgb, cnn or an import path.",
        ),
    ] = IssuesSpec.default("model"),
    folds: Annotated[
        int, typer.Option(help="Cross-validation folds, when probabilities are needed.")
    ] = IssuesSpec.default("folds"),
    seed: Annotated[int, typer.Option(help="Cross-validation seed.")] = IssuesSpec.default("seed"),
    filter: Annotated[
        str | None, typer.Option("--filter", "-f", help="Check only this slice (with --scan).")
    ] = None,
    open_cases: Annotated[
        bool,
        typer.Option("--open-cases", help="Also open review cases for what the search flagged."),
    ] = False,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List likely mislabeled items, most likely first: key, given label, suggested label,
    score (1 - label quality) and nearest neighbours. The first call (or --scan) searches:
    confident learning (cleanlab) on out-of-fold probabilities, plus outliers and
    near-duplicates; later calls list the stored results.

    --limit bounds one page; the cursor of the next page is printed after it (in --json:
    "next"), to pass to --after. A search on probabilities whose labels changed since their
    cross-validation warns, and --recompute cross-validates anew.

    Examples:

      assay issues

      assay issues --model-layer cv-logreg --scan --json

      assay issues --all --limit 100 --method prune_by_class

      assay issues --kind outlier --limit 20

      assay issues --layer boxes --predictions detector-cv --open-cases
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
        method=method,
        recompute=recompute,
        author=author,
        model=model,
        folds=folds,
        seed=seed,
    )
    rows = ds.quality.issues(
        run.run_id, kind=kind, limit=limit + 1, after=after, only_issues=not show_all
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_page = rows[-1]["cursor"] if more and rows else None
    opened = ds.quality.to_review(run.run_id, actor=author) if open_cases else None
    if as_json:
        print_json({"run": run.to_dict(), "issues": rows, "next": next_page,
                    **({"review": opened} if opened is not None else {})})  # fmt: skip
        return
    if run.family == "boxes":
        _print_box_rows(run, rows, next_page, show_all)
    elif run.family == "tags":
        print_tag_issue_rows(run, rows, next_page, show_all)
    else:
        _print_rows(run, kind, rows, next_page, show_all)
    if opened is not None:
        found = [r for r in ("mislabel", "outlier", "duplicate") if opened[r]["found"]]
        counts = [
            f"{r}: {opened[r]['found']} found, {opened[r]['opened']} new cases" for r in found
        ]
        err_console.print("Review: " + ("; ".join(counts) or "nothing to open."))


def _print_box_rows(
    run: Any, rows: list[dict[str, Any]], next_page: str | None, show_all: bool
) -> None:
    """Images of a box search, most suspect first, with their suspect boxes."""
    from assay.quality.boxes import summary_text

    counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in (run.n_suspects or {}).items())
    table = Table(
        title=f"Likely mislabeled boxes{', whole ranking' if show_all else ''} (run "
        f"{run.run_name}, {run.layer} against {run.model_layer}, method {run.method}; "
        f"{counts})",
        title_justify="left",
    )
    for col in ("#", *(["flag"] if show_all else []), "key", "score", "suspect boxes"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for n, r in enumerate(rows, 1):
        table.add_row(
            str(r["rank"] or n),
            *(["flagged" if r["is_issue"] else ""] if show_all else []),
            r["key"],
            format_score(r),
            summary_text(r["suspects"] or []),
        )
    console.print(table)
    if not rows:
        console.print("Nothing flagged." if not show_all else "Nothing more.")
    elif next_page is not None:
        console.print(f"More: assay issues{' --all' if show_all else ''} --after {next_page}")


def _flag(kind: str, row: dict[str, Any]) -> bool:
    """Whether the search flagged the row as an issue of ``kind``."""
    if kind == "outlier":
        return bool(row["is_outlier"])
    if kind == "duplicate":
        return row["duplicate_of"] is not None
    return bool(row["is_issue"])


def _print_rows(
    run: Any, kind: str, rows: list[dict[str, Any]], next_page: str | None, show_all: bool
) -> None:
    title = {"label": "Likely mislabeled", "outlier": "Outliers", "duplicate": "Near-duplicates"}
    heading = title.get(kind, kind) + (", whole ranking" if show_all else "")
    table = Table(
        title=f"{heading} (run {run.run_name}, method {run.method})", title_justify="left"
    )
    columns = ["#", *(["flag"] if show_all else []), "key", "given", "suggested", "score"]
    for col in (*columns, "confidence", "neighbours", "note"):
        table.add_column(col, justify="right" if col in ("#", "score", "confidence") else "left")
    for n, r in enumerate(rows, 1):
        table.add_row(
            str(r["rank"] or n),
            *(["flagged" if _flag(kind, r) else ""] if show_all else []),
            r["key"],
            r["given"] or "",
            r["suggested"] if r["suggested"] != r["given"] else "",
            format_score(r) if kind == "label" else f"{r['score']:.3f}",
            "" if r["confidence"] is None else f"{r['confidence']:.2f}",
            ", ".join(f"{x['key']}:{x['label']}" for x in r["neighbours"]),
            _note(r),
        )
    console.print(table)
    if not rows:
        console.print("Nothing flagged." if not show_all else "Nothing more.")
    elif next_page is not None:
        more = " --all" if show_all else ""
        console.print(f"More: assay issues --kind {kind}{more} --after {next_page}")


def _note(row: dict[str, Any]) -> str:
    notes = []
    if row["is_outlier"]:
        notes.append(f"outlier ({row['outlier_score']:.3f})")
    if row["duplicate_of"] is not None:
        notes.append(f"near-duplicate of {row['duplicate_of']} ({row['duplicate_label']})")
    return "; ".join(notes)
