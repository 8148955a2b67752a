"""``assay suggest`` and ``assay simulate-al``: what to label next, and how much that saves."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.active.specs import SuggestSpec
from assay.cli.app import app, handle_errors
from assay.cli.label_cmd import AuthorOpt, DatasetOpt, JsonOpt, build_spec, dataset_of
from assay.cli.render import console, err_console, fmt, print_json, progress_bar
from assay.errors import InvalidParameter

STRATEGY_HELP = (
    "auto (cold start until two classes are labeled, then diverse), random, "
    "least-confidence, margin, entropy, diverse, kcenter, cold-start, activelab; box layers: "
    "auto (box-uncertainty), box-uncertainty, random."
)


@app.command()
@handle_errors
def suggest(
    layer: Annotated[str, typer.Option("--layer", "-l", help="The layer to label into.")],
    strategy: Annotated[str, typer.Option(help=STRATEGY_HELP)] = SuggestSpec.default("strategy"),
    batch: Annotated[
        int | None,
        typer.Option(
            help=f"How many items to suggest (default {SuggestSpec.default('batch')}; with "
            "--refresh: as before)."
        ),
    ] = None,
    model: Annotated[
        str, typer.Option(help="auto (fast logistic regression), logreg, hgb, or an import path.")
    ] = SuggestSpec.default("model"),
    filter: Annotated[
        str | None, typer.Option("--filter", "-f", help="Suggest from this slice only.")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seeds the model, k-means and random picks.")
    ] = SuggestSpec.default("seed"),
    annotators: Annotated[
        str | None,
        typer.Option(help="For activelab: comma-separated annotator layers (default: human)."),
    ] = None,
    predictions: Annotated[
        str | None,
        typer.Option(
            help="For a box layer: the layer of predicted boxes whose scores rank the images "
            "(default: the only model box layer)."
        ),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Retrain on the labels so far and re-rank with the layer's last settings "
            "(--batch may change).",
        ),
    ] = False,
    show: Annotated[
        bool, typer.Option("--show", help="Print the current list without computing a new one.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Print at most this many rows.")] = 50,
    dataset: DatasetOpt = None,
    author: AuthorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rank the items not yet labeled in a layer and store the list: rank, key, score and why.

    Labels that arrive in the layer mark suggestions done; --refresh retrains and re-ranks.

    Examples:

      assay suggest --layer alice --batch 50

      assay suggest --layer alice --strategy diverse --json

      assay suggest --layer alice --refresh

      assay suggest --layer boxes --predictions detector-run-3 --batch 100
    """
    from assay.active.api import Suggestions

    ds = dataset_of(dataset)
    s = Suggestions(ds)
    if show:
        current = s.current(layer)
        if current is None:
            raise InvalidParameter(
                f"Layer {layer!r} has no suggestions yet: run `assay suggest --layer {layer}`."
            )
    else:
        with warnings.catch_warnings(), progress_bar("suggesting") as progress:
            warnings.simplefilter("ignore", UserWarning)  # the notes below say the same
            if refresh:
                current = s.refresh(layer, batch=batch, author=author, progress=progress)
            else:
                spec = build_spec(
                    SuggestSpec,
                    {"layer": layer, "strategy": strategy, "batch": batch, "model": model,
                     "filter": filter, "seed": seed, "annotators": _split(annotators),
                     "predictions": predictions},
                )  # fmt: skip
                current = s.suggest(spec, author=author, progress=progress)
    rows = s.items(list_id=current.list_id, limit=limit)
    if as_json:
        print_json({"list": current.to_dict(), "suggestions": rows})
        return
    _print_list(current, rows, limit)


def _split(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def _print_list(current: Any, rows: list[dict[str, Any]], limit: int) -> None:
    for note in current.notes:
        err_console.print(f"Note: {note}")
    how = (current.strategy or current.requested) + (
        f" on {current.model}" if current.model else ""
    )
    table = Table(
        title=f"Suggestions for {current.layer!r} (list {current.list_id}: {how}; "
        f"{fmt(current.n_done)}/{fmt(current.n_suggestions)} done)",
        title_justify="left",
    )
    for col in ("#", "key", "score", "done", "why"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for r in rows:
        table.add_row(str(r["rank"]), r["key"], f"{r['score']:.3f}", r["label"] or "", r["reason"])
    console.print(table)
    if len(rows) == limit and current.n_suggestions > limit:
        console.print(f"({fmt(current.n_suggestions - limit)} more: --limit or --json)")


@app.command("simulate-al")
@handle_errors
def simulate_al_cmd(
    layer: Annotated[
        str, typer.Option("--layer", "-l", help="A layer whose labels are known.")
    ] = "ground_truth",
    strategies: Annotated[
        str,
        typer.Option(help="Comma-separated strategies to compare (include random for ratios)."),
    ] = "random,least-confidence,margin,entropy,diverse,kcenter",
    seeds: Annotated[int, typer.Option(help="Seeds 0..N-1: split, seed set, model.")] = 3,
    seed_size: Annotated[int, typer.Option(help="Labels revealed before round 1.")] = 20,
    batch: Annotated[int, typer.Option(help="Labels revealed per round.")] = 20,
    rounds: Annotated[int, typer.Option(help="Rounds after the seed set.")] = 20,
    holdout: Annotated[
        float, typer.Option(help="Held-out share (below 1) or count (1 and up) of the items.")
    ] = 0.2,
    model: Annotated[str, typer.Option(help="The loop's model (auto: fast logreg).")] = "auto",
    filter: Annotated[str | None, typer.Option("--filter", "-f", help="A slice only.")] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="Where to write the PNG plot (default: active-<dataset>-<layer>.png)."),
    ] = None,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulate active learning on known labels: learning curves per strategy, the labels
    each needs to reach 95% of the accuracy of training on the whole pool, and the ratio to
    random sampling. Writes a PNG plot.

    Examples:

      assay simulate-al --seeds 3 --rounds 30

      assay simulate-al --strategies random,margin --json --plot curves.png
    """
    from assay.active.plot import plot_curves
    from assay.active.simulate import simulate_al

    ds = dataset_of(dataset)
    if seeds < 1:
        raise InvalidParameter(f"--seeds must be at least 1; got {seeds}.")
    with progress_bar("simulating") as progress:
        result = simulate_al(
            ds,
            layer=layer,
            strategies=_split(strategies) or [],
            seed_size=seed_size,
            batch=batch,
            rounds=rounds,
            holdout=holdout if holdout < 1 else int(holdout),
            seeds=list(range(seeds)),
            model=model,
            filter=filter,
            progress=progress,
        )
    path = plot or Path(f"active-{ds.name}-{layer}.png")
    plot_curves(result, path, title=f"{ds.name}: active learning on {layer!r}")
    if as_json:
        print_json({**result.to_dict(), "plot": str(path)})
        return
    _print_simulation(result, path)


def _print_simulation(result: Any, path: Path) -> None:
    full = sum(result.full_pool_accuracy.values()) / len(result.full_pool_accuracy)
    table = Table(
        title=f"Labels to reach {result.target:.0%} of the full-pool accuracy ({full:.3f}), "
        f"{result.model}, {len(result.seeds)} seeds",
        title_justify="left",
    )
    for col in ("strategy", "median labels", "per seed", "ratio vs random", "final accuracy"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    ratios = result.labels_ratio_vs_random()
    budget = result.seed_size + result.batch * result.rounds
    for strategy in result.strategies:
        median = result.median_labels_to_target(strategy)
        per_seed = ", ".join(
            "—" if v is None else str(v) for v in result.labels_to_target(strategy)
        )
        ratio = ratios[strategy]
        table.add_row(
            strategy,
            f"> {budget}" if median is None else f"{median:g}",
            per_seed,
            "—" if ratio is None else f"{ratio:.2f}",
            f"{result.mean_curve(strategy)[1][-1]:.3f}",
        )
    console.print(table)
    console.print(f"Plot: {path}")
