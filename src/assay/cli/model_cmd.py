"""``assay train|predict|evaluate|models|features``: models and predictions on any slice."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from assay.cli.app import app, handle_errors
from assay.cli.label_cmd import DatasetOpt, JsonOpt, build_spec, dataset_of
from assay.cli.render import console, counts_table, err_console, fmt, print_json, progress_bar
from assay.cli.tags_print import print_tag_evaluation
from assay.errors import InvalidParameter
from assay.models.specs import CrossValidateSpec, TrainSpec

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model", "-m",
        help="auto, logreg, hgb, cnn, or a classifier's import path (sklearn.svm.SVC); for a box "
        "layer the detector centernet or components.",
    ),
]  # fmt: skip
LayerOpt = Annotated[str, typer.Option("--layer", "-l", help="Learn the labels of this layer.")]
FilterOpt = Annotated[
    str | None, typer.Option("--filter", "-f", help="Only this slice, e.g. split=train.")
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", help="A model parameter NAME=VALUE (repeatable; VALUE read as JSON)."),
]
SearchOpt = Annotated[
    float | None,
    typer.Option("--search-seconds", help="Search hyper-parameters with Optuna this long first."),
]
FeaturizerOpt = Annotated[
    str, typer.Option("--featurizer", help="auto, pixels, minilm, tabular or imported vectors.")
]
SeedOpt = Annotated[int, typer.Option(help="Random seed (folds, models, search).")]

# The specs' defaults, which the options show and keep.
_TRAIN, _CV = TrainSpec.model_validate({}), CrossValidateSpec.model_validate({})

features_app = typer.Typer(
    help="Feature vectors: compute and cache them, list them, import your own.",
    invoke_without_command=True,
)
app.add_typer(features_app, name="features")


def parse_params(values: list[str] | None) -> dict[str, Any]:
    """``["C=0.5", "kernel=rbf"]`` -> ``{"C": 0.5, "kernel": "rbf"}`` (values read as JSON)."""
    params: dict[str, Any] = {}
    for text in values or []:
        name, sep, raw = text.partition("=")
        if not sep or not name.strip():
            raise InvalidParameter(
                f"Give parameters as NAME=VALUE, e.g. --param C=0.5; got {text!r}."
            )
        try:
            params[name.strip()] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            params[name.strip()] = raw
    return params


@app.command()
@handle_errors
def train(
    name: Annotated[str | None, typer.Argument(help="Name of the run (default: made up).")] = None,
    model: ModelOpt = _TRAIN.model,
    layer: LayerOpt = _TRAIN.layer,
    filter: FilterOpt = None,
    param: ParamOpt = None,
    search_seconds: SearchOpt = None,
    featurizer: FeaturizerOpt = _TRAIN.featurizer,
    seed: SeedOpt = _TRAIN.seed,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train a model on the labels of a layer and save it as a run (then predict with it).

    Examples:

      assay train --filter split=train

      assay train svc --model sklearn.svm.SVC --param probability=true

      assay train --model hgb --search-seconds 60
    """
    spec = build_spec(
        TrainSpec,
        {"name": name, "model": model, "layer": layer, "filter": filter,
         "params": parse_params(param) or None, "search_seconds": search_seconds,
         "featurizer": featurizer, "seed": seed},
        name="NAME", params="--param",
    )  # fmt: skip
    ds = dataset_of(dataset)
    with progress_bar("training") as progress:
        run = ds.models.train(spec, progress=progress)
    if as_json:
        print_json(run)
        return
    m = run["metrics"]
    if m.get("value_kind") == "boxes":
        console.print(
            f"Trained run {run['name']!r} ({m['model']} detector) on {fmt(m['n_train'])} images "
            f"of {layer!r}: training F1 {m['train_f1']:.3f}. Predict with: assay predict --run "
            f"{run['name']} --filter ..."
        )
        return
    console.print(
        f"Trained run {run['name']!r} ({m['model']} on {m['featurizer']} features) on "
        f"{fmt(m['n_train'])} labels of {layer!r}: training accuracy {m['train_accuracy']:.4f}. "
        f"Predict with: assay predict --run {run['name']} --filter ..."
    )


@app.command()
@handle_errors
def predict(
    cv: Annotated[
        int | None,
        typer.Option("--cv", help="Cross-validate with K folds: out-of-fold probabilities."),
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", "-r", help="Predict with this trained run.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of the new run (with --cv).")] = None,
    into_layer: Annotated[
        str | None, typer.Option(help="Model layer to write (with --run; default: the run).")
    ] = None,
    model: ModelOpt = _CV.model,
    layer: LayerOpt = _CV.layer,
    filter: FilterOpt = None,
    param: ParamOpt = None,
    search_seconds: SearchOpt = None,
    featurizer: FeaturizerOpt = _CV.featurizer,
    seed: SeedOpt = _CV.seed,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
    dask: Annotated[
        str | None,
        typer.Option(help="Train the --cv folds on this Dask scheduler (tcp://host:8786)."),
    ] = None,
) -> None:
    """Predictions into a model layer: out-of-fold (--cv K) or from a trained run (--run).

    With --cv K, K models are trained on stratified folds, so every labeled item gets
    probabilities from a model that never saw it: what `assay issues` needs. For a box
    layer a detector (--model centernet|components) gives out-of-fold scored boxes.

    Examples:

      assay predict --cv 5

      assay predict --cv 5 --dask tcp://10.0.0.5:8786

      assay predict --run train-cnn-1 --filter split=test

      assay predict --cv 5 --layer boxes --model centernet
    """
    ds = dataset_of(dataset)
    if (cv is None) == (run is None):
        raise InvalidParameter("Give either --cv K (cross-validate) or --run NAME (predict).")
    if dask is not None and cv is None:
        raise InvalidParameter("--dask trains cross-validation folds: use it with --cv K.")
    if cv is not None:
        spec = build_spec(
            CrossValidateSpec,
            {"name": name, "folds": cv, "model": model, "layer": layer, "filter": filter,
             "params": parse_params(param) or None, "search_seconds": search_seconds,
             "featurizer": featurizer, "seed": seed},
            folds="--cv", params="--param",
        )  # fmt: skip
        with progress_bar("cross-validating") as progress:
            info = ds.models.cross_validate(spec, progress=progress, dask=dask)
        if as_json:
            print_json(info)
            return
        m = info["metrics"]
        if m.get("value_kind") == "number":
            console.print(
                f"Run {info['name']!r}: {cv}-fold out-of-fold values of {m['model']} for "
                f"{fmt(m['n_items'])} items (and {fmt(m['n_unlabeled'])} unlabeled) in layer "
                f"{info['layer']!r}; MAE {m['oof_mae']:.4g}, RMSE {m['oof_rmse']:.4g}, R² "
                f"{m['oof_r2']:.3f}; {100 * m['interval_confidence']:.0f}% intervals cover "
                f"{100 * m['interval_coverage']:.1f}%, mean width {m['interval_mean_width']:.4g}."
            )
            return
        if m.get("value_kind") == "boxes":
            console.print(
                f"Run {info['name']!r}: {cv}-fold out-of-fold boxes of {m['model']} for "
                f"{fmt(m['n_items'])} images (and {fmt(m['n_unlabeled'])} unlabeled) in layer "
                f"{info['layer']!r}; at IoU 0.5 and score 0.5: precision "
                f"{m['oof_precision']:.3f}, recall {m['oof_recall']:.3f}, F1 {m['oof_f1']:.3f} "
                f"({m['fit_seconds']:.0f} s)."
            )
            return
        console.print(
            f"Run {info['name']!r}: {cv}-fold out-of-fold probabilities of {m['model']} for "
            f"{fmt(m['n_items'])} items in layer {info['layer']!r}; accuracy "
            f"{m['oof_accuracy']:.4f}, log loss {m['oof_log_loss']:.4f} "
            f"({m['fit_seconds']:.0f} s)."
        )
        return
    assert run is not None
    with progress_bar("predicting") as progress:
        preds = ds.models.predict(run, filter, into_layer=into_layer, progress=progress)
    if as_json:
        print_json({"run": run, "layer": preds.layer, "n_items": len(preds.item_ids)})
        return
    console.print(
        f"Predicted {fmt(len(preds.item_ids))} items with {run!r} into layer {preds.layer!r}."
    )


@app.command()
@handle_errors
def evaluate(
    source: Annotated[str, typer.Argument(help="A model run or a model layer.")],
    filter: FilterOpt = None,
    reference_layer: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="The layer holding the true labels (default: ground_truth; for boxes, the "
            "truth box layer).",
        ),
    ] = None,
    coverage: Annotated[
        float, typer.Option(help="Target coverage of the conformal prediction sets.")
    ] = 0.9,
    score_threshold: Annotated[
        float | None,
        typer.Option(
            "--score-threshold",
            help="Boxes: predictions at or above this score count as detections in the false "
            "positives and negatives (default 0.5).",
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="How many errors to list (worst first).")] = 10,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Metrics of a run or model layer on a slice: per class, confusion matrix, calibration,
    errors by loss and conformal prediction sets with their empirical coverage. For predicted
    boxes: COCO mAP, AP per class, and the false positives and negatives by score.

    Examples:

      assay evaluate cv-cnn-1 --filter split=test --coverage 0.95

      assay evaluate detector-1 --reference boxes --score-threshold 0.4
    """
    ds = dataset_of(dataset)
    options: dict[str, Any] = {"coverage": coverage, "top_errors": top}
    if reference_layer is not None:
        options["reference_layer"] = reference_layer
    if score_threshold is not None:
        options["score_threshold"] = score_threshold
    result = ds.models.evaluate(source, filter, **options)
    if as_json:
        print_json(result)
        return
    if result.get("kind") == "boxes":
        print_box_evaluation(result)
        return
    if result.get("kind") == "spans":
        print_span_evaluation(result)
        return
    if result.get("kind") == "tags":
        print_tag_evaluation(result)
        return
    if result.get("kind") == "number":
        from assay.cli.numbers_render import print_number_evaluation

        print_number_evaluation(result)
        return
    print_evaluation(result)


def print_span_evaluation(r: dict[str, Any]) -> None:
    """Entity-level scores per class (strict and partial), micro/macro, and the errors."""
    where = f" where {r['filter']}" if r.get("filter") else ""
    strict, partial = r["strict"], r["partial"]

    def f(v: float | None) -> str:
        return "—" if v is None else f"{v:.3f}"

    console.print(
        f"[bold]{r['source']}[/bold] against {r['reference_layer']!r}{where}: "
        f"{fmt(r['n_texts'])} texts, {fmt(r['n_true'])} true spans, "
        f"{fmt(r['n_predicted'])} predicted; micro F1 {f(strict['micro']['f1'])} strict, "
        f"{f(partial['micro']['f1'])} partial; macro F1 {f(strict['macro_f1'])} strict"
    )
    table = Table(title="Entities per class", title_justify="left", show_edge=False)
    for col in ("class", "precision", "recall", "F1", "partial F1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for cls, v in strict["per_class"].items():
        table.add_row(cls, f(v["precision"]), f(v["recall"]), f(v["f1"]),
                      f(partial["per_class"][cls]["f1"]), fmt(v["support"]))  # fmt: skip
    console.print(table)
    console.print(counts_table("Errors by kind", r["error_counts"]))
    errors = Table(title="Errors", title_justify="left", show_edge=False)
    for col in ("item", "kind", "true", "predicted"):
        errors.add_column(col)
    for e in r["errors"]:
        shown = [f"{s['class']} {s['text']!r}" if s else "—" for s in (e["truth"], e["predicted"])]
        errors.add_row(str(e["item_id"]), e["kind"], *shown)
    console.print(errors)


def print_evaluation(r: dict[str, Any]) -> None:
    """The evaluation as rich tables."""
    where = f" where {r['filter']}" if r.get("filter") else ""
    c, cal = r["conformal"], r["calibration"]
    console.print(
        f"[bold]{r['source']}[/bold] against {r['reference_layer']!r}{where}: "
        f"{fmt(r['n_items'])} items, accuracy {r['accuracy']:.4f}, macro F1 {r['macro_f1']:.4f}, "
        f"log loss {r['log_loss']:.4f}, ECE {cal['ece']:.4f}"
    )
    if c is None:
        console.print(r["conformal_unavailable"])
    else:
        console.print(
            f"Conformal sets at {100 * c['target_coverage']:.0f}% target: empirical coverage "
            f"{100 * c['empirical_coverage']:.1f}%, mean set size {c['mean_set_size']:.2f} "
            f"({100 * c['singleton_rate']:.0f}% single class, {100 * c['empty_rate']:.0f}% empty)"
        )
    if r.get("warning"):
        err_console.print(f"[yellow]Warning:[/yellow] {r['warning']}")
    console.print(_per_class_table(r["per_class"]))
    console.print(_confusion_table(r["confusion"]))
    if r["errors"]:
        console.print(_errors_table(r["errors"]))


def print_box_evaluation(r: dict[str, Any]) -> None:
    """A box evaluation as rich tables: COCO metrics, AP per class, the top errors."""
    where = f" where {r['filter']}" if r.get("filter") else ""
    at = r["at_threshold"]
    console.print(
        f"[bold]{r['source']}[/bold] against {r['reference_layer']!r}{where}: "
        f"{fmt(r['n_images'])} images, {fmt(r['n_truth_boxes'])} true boxes, "
        f"{fmt(r['n_predicted_boxes'])} predicted"
    )
    metrics = Table(title="COCO metrics", title_justify="left", show_edge=False)
    for col in ("mAP@[.5:.95]", "AP50", "AP75", "AR100", "AP small", "AP medium", "AP large"):
        metrics.add_column(col, justify="right")
    metrics.add_row(*(_ap(r.get(k)) for k in ("map", "ap50", "ap75", "ar100", "ap_small",
                                              "ap_medium", "ap_large")))  # fmt: skip
    console.print(metrics)
    console.print(
        f"At score >= {r['score_threshold']:g} and IoU {r['iou_threshold']:g}: "
        f"{fmt(at['tp'])} true positives, {fmt(at['fp'])} false positives, "
        f"{fmt(at['fn'])} false negatives; precision {_ap(at['precision'])}, "
        f"recall {_ap(at['recall'])}"
    )
    table = Table(title="Per class", title_justify="left", show_edge=False)
    for col in ("class", "AP", "AP50", "AR100", "true", "predicted", "TP", "FP", "FN"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for c in r["per_class"]:
        if c["n_truth"] or c["n_predicted"]:
            table.add_row(
                c["class"], _ap(c["ap"]), _ap(c["ap50"]), _ap(c["ar100"]), fmt(c["n_truth"]),
                fmt(c["n_predicted"]), fmt(c["tp"]), fmt(c["fp"]), fmt(c["fn"]),
            )  # fmt: skip
    console.print(table)
    if r["false_positives"]:
        fps = Table(title=f"False positives ({fmt(r['n_false_positives'])}, most confident first)",
                    title_justify="left", show_edge=False)  # fmt: skip
        for col in ("key", "box", "class", "score", "why", "truth there"):
            fps.add_column(col, justify="right" if col == "score" else "left")
        for e in r["false_positives"]:
            near = e["truth"]
            fps.add_row(
                str(e["key"]), str(e["box"]["id"]), e["class"], f"{e['score']:.3f}", e["kind"],
                f"{near['class']} (IoU {near['iou']:.2f})" if near else "—",
            )  # fmt: skip
        console.print(fps)
    if r["false_negatives"]:
        fns = Table(title=f"False negatives ({fmt(r['n_false_negatives'])})",
                    title_justify="left", show_edge=False)  # fmt: skip
        for col in ("key", "box", "class", "why", "best prediction there"):
            fns.add_column(col)
        for e in r["false_negatives"]:
            near = e["prediction"]
            fns.add_row(
                str(e["key"]), str(e["box"]["id"]), e["class"], e["kind"],
                f"{near['class']} p={near['score']:.3f} (IoU {near['iou']:.2f})" if near else "—",
            )  # fmt: skip
        console.print(fns)


def _ap(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _per_class_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Per class", title_justify="left", show_edge=False)
    for col in ("class", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for row in rows:
        table.add_row(
            row["class"], f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}",
            fmt(row["support"]),
        )  # fmt: skip
    return table


def _confusion_table(confusion: dict[str, Any]) -> Table:
    classes = confusion["classes"]
    table = Table(title="Confusion matrix (rows: label, columns: predicted)",
                  title_justify="left", show_edge=False)  # fmt: skip
    table.add_column("")
    for name in classes:
        table.add_column(name, justify="right")
    for i, (name, row) in enumerate(zip(classes, confusion["matrix"], strict=True)):
        cells = [
            f"[bold]{fmt(v)}[/bold]" if i == j else (fmt(v) if v else "·")
            for j, v in enumerate(row)
        ]
        table.add_row(name, *cells)
    return table


def _errors_table(errors: list[dict[str, Any]]) -> Table:
    table = Table(title="Errors by loss", title_justify="left", show_edge=False)
    for col in ("key", "label", "predicted", "p(label)", "p(predicted)", "loss"):
        table.add_column(col, justify="right" if col.startswith(("p", "loss")) else "left")
    for e in errors:
        table.add_row(
            str(e["key"]), e["label"], e["predicted"], f"{e['p_label']:.3f}",
            f"{e['p_predicted']:.3f}", f"{e['loss']:.2f}",
        )  # fmt: skip
    return table


@app.command("models")
@handle_errors
def models_list(dataset: DatasetOpt = None, as_json: JsonOpt = False) -> None:
    """List the model runs: trainings, cross-validations and imported predictions."""
    ds = dataset_of(dataset)
    rows = ds.models.runs()
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No model runs yet. Start one with `assay predict --cv 5` or `assay train`.")
        return
    table = Table(show_edge=False)
    for col in ("name", "kind", "state", "model", "layer", "trained on", "accuracy/F1", "created"):
        table.add_column(col)
    for r in rows:
        m = r.get("metrics") or {}
        acc = m.get("oof_accuracy", m.get("train_accuracy", m.get("oof_f1", m.get("train_f1"))))
        source = f"{r['train_layer']}" + (
            f" [{r['train_filter']}]" if r.get("train_filter") else ""
        )
        state = r["state"] if r["state"] != "failed" else f"failed: {(r.get('error') or '')[:60]}"
        table.add_row(
            r["name"], r["kind"], state, r["model"], r.get("layer") or "—",
            source if r.get("train_layer") else "—", fmt(acc),
            r["created_at"].strftime("%Y-%m-%d %H:%M"),
        )  # fmt: skip
    console.print(table)


@features_app.callback()
@handle_errors
def features(
    ctx: typer.Context,
    featurizer: FeaturizerOpt = "auto",
    filter: FilterOpt = None,
    dataset: DatasetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute (or reuse) the feature vectors of the dataset and describe them.

    Examples:

      assay features

      assay features --featurizer minilm

      assay features import vectors.parquet --name clip
    """
    if ctx.invoked_subcommand is not None:
        return
    ds = dataset_of(dataset)
    with progress_bar("features") as progress:
        feats = ds.models.features(filter, featurizer=featurizer, progress=progress)
    info = {
        "featurizer": feats.name, "n_items": len(feats.item_ids), "dim": feats.dim,
        "kind": feats.kind, "image_shape": feats.image_shape, "from_cache": feats.from_cache,
        "feature_set_id": feats.feature_set_id,
    }  # fmt: skip
    if as_json:
        print_json(info)
        return
    shape = f" ({feats.image_shape[0]}x{feats.image_shape[1]} pixels)" if feats.image_shape else ""
    source = "from the cache" if feats.from_cache else "computed and cached"
    console.print(
        f"{fmt(info['n_items'])} items x {info['dim']} features{shape} from {feats.name!r}, "
        f"{source}."
    )


@features_app.command("list")
@handle_errors
def features_list(dataset: DatasetOpt = None, as_json: JsonOpt = False) -> None:
    """The cached and imported feature sets."""
    rows = dataset_of(dataset).models.feature_sets()
    if as_json:
        print_json(rows)
        return
    table = Table(show_edge=False)
    for col in ("id", "featurizer", "imported", "items", "dim", "item version", "state"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]), r["featurizer"], "yes" if r["imported"] else "", fmt(r["n_items"]),
            str(r["dim"]), r["item_version"], r["state"],
        )  # fmt: skip
    console.print(table)


@features_app.command("import")
@handle_errors
def features_import(
    path: Annotated[Path, typer.Argument(help=".npy matrix (with --ids) or Parquet with keys.")],
    name: Annotated[str, typer.Option(help="Name to use the vectors by (--featurizer NAME).")],
    ids: Annotated[
        Path | None, typer.Option(help="For .npy: a .npy or text file of item ids or keys.")
    ] = None,
    key_column: Annotated[str, typer.Option(help="For Parquet: the item key column.")] = "key",
    dataset: DatasetOpt = None,
) -> None:
    """Import your own embeddings as a featurizer.

    Example: assay features import clip.parquet --name clip, then
    assay predict --cv 5 --featurizer clip
    """
    ds = dataset_of(dataset)
    with progress_bar("importing vectors") as progress:
        info = ds.models.import_features(
            path, name=name, ids=ids, key_column=key_column, progress=progress
        )
    console.print(
        f"Imported {fmt(info['n_items'])} vectors of {info['dim']} values as {info['name']!r}."
    )
