"""Model runs, their evaluation and the likely label issues, over the web.

What the predictions page shows and its JSON twins return, computed once here (like
:mod:`assay.web.views.agreement`). The library stores a run's evaluation with the run until a
label of its model or reference layer changes (``ds.models.evaluate``); on top of that the
answer is kept in the app's cache while the dataset's data version (largest item and label
ids) is unchanged.

Blind mode: an annotator sees only the runs trained on a layer they see (a model trained on
hidden labels would tell those labels item by item: :class:`assay.access.Viewer`), evaluates
against a layer they see (else 403), and reads a label-issue search only when they see the
layers it checked and the model layer it used.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from assay.dataset import Dataset
from assay.errors import InvalidParameter, PermissionDenied
from assay.models import kind_evaluation, number_evaluation
from assay.models import runs as model_runs
from assay.quality import runs as quality_runs
from assay.store import filters, reads
from assay.web.auth import Principal
from assay.web.errors import Forbidden
from assay.web.state import AppState
from assay.web.urls import item_page_url, media_url, q
from assay.web.views import box_predictions, tag_views
from assay.web.views.agreement import cell_filter

RUN_FIELDS = (
    "id",
    "name",
    "kind",
    "state",
    "model",
    "params",
    "featurizer",
    "train_layer",
    "train_filter",
    "folds",
    "seed",
    "layer",
    "snapshot",
    "snapshot_id",
    "metrics",
    "error",
    "created_by",
    "created_at",
    "finished_at",
)
ISSUE_KINDS = {
    "mislabel": "label",
    "label": "label",
    "outlier": "outlier",
    "duplicate": "duplicate",
}
# The review-case reason of each kind of finding, and the grid filter value that selects it
CASE_REASON = {"label": "mislabel", "outlier": "outlier", "duplicate": "duplicate"}
MAX_ISSUES_PAGE = 500
SNIPPET = 160
NO_ISSUE_RUN = (
    "No label-issue search has run on this dataset yet: start one on Suggestions & jobs "
    "(Find label issues), or with `assay issues` (ds.quality.find() in Python)."
)


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def public_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the API shows it: no server paths, and the label-quality summary without its
    per-item evidence (the issues endpoint pages through that)."""
    out = {k: run.get(k) for k in RUN_FIELDS}
    metrics = dict(out["metrics"] or {})
    if isinstance(metrics.get(quality_runs.KEY), dict):
        summary = dict(metrics[quality_runs.KEY])
        summary.pop("evidence", None)
        metrics[quality_runs.KEY] = summary
    out["metrics"] = json_safe(metrics) if out["metrics"] is not None else None
    return out


def list_runs(who: Principal, dataset: Dataset) -> list[dict[str, Any]]:
    """The model runs of the dataset the user may see, newest first."""
    visible = who.viewer.layer_names(dataset)
    runs = dataset.models.runs()
    return [public_run(r) for r in runs if who.viewer.can_see_run(r, visible)]


def get_run(who: Principal, dataset: Dataset, name: str) -> dict[str, Any]:
    """One run (RunNotFound, a 404, if the dataset has none of that name; 403 if hidden)."""
    run = dataset.models.run(name)
    who.viewer.check_run(run, who.viewer.layer_names(dataset))
    return public_run(run)


def default_run(runs: list[dict[str, Any]]) -> str | None:
    """The run the page opens on: the newest finished cross-validation, else the newest
    finished run with predictions, else None."""
    done = [r for r in runs if r["state"] == "done"]
    for r in done:
        if r["kind"] == "cv" and r["layer"]:
            return str(r["name"])
    for r in done:
        if r["layer"] or r["kind"] == "train":
            return str(r["name"])
    return None


def check_reference(who: Principal, dataset: Dataset, layer: str) -> None:
    """Refuse a reference layer the user may not see (403 in blind mode, else 404)."""
    if layer in who.viewer.layer_names(dataset):
        return
    if who.viewer.blind:
        raise Forbidden(
            f"In blind mode annotators do not see the labels of layer {layer!r}; evaluate "
            "against one of your own layers."
        )
    who.viewer.layer(dataset, layer)  # LayerNotFound with a hint


def _source(who: Principal, dataset: Dataset, name: str) -> tuple[Any, str | None]:
    """(the run of that name or None, the model layer whose labels the evaluation reads or
    None for a trained run, which predicts afresh); either must be one the user may see."""
    visible = who.viewer.layer_names(dataset)
    found = {r["name"]: r for r in dataset.models.runs()}.get(name)
    if found is not None:
        who.viewer.check_run(found, visible)
        return found, None if found["kind"] == "train" else found["layer"]
    if name not in {la["name"] for la in dataset.layers()}:
        names = ", ".join(sorted(found_names(dataset))) or "none yet: run `assay predict --cv 5`"
        raise model_runs.RunNotFound(
            f"No model run or layer named {name!r} in dataset {dataset.name!r} (runs: {names})."
        )
    if name not in visible:
        raise Forbidden(f"In blind mode annotators do not see the labels of layer {name!r}.")
    return None, name


def found_names(dataset: Dataset) -> list[str]:
    """The names of the dataset's model runs."""
    return [str(r["name"]) for r in dataset.models.runs()]


def _url(path: str, **params: str | None) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path


def _snippet(text: str | None) -> str | None:
    if not text:
        return None
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def _item_links(dataset: Dataset, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per item id: its kind, image URL (images only), text snippet and page URL."""
    out = {}
    for row in reads.items_by_ids(dataset.store, dataset.id, ids):
        image = row.get("kind") == "image"
        out[int(row["id"])] = {
            "kind": row.get("kind"),
            "media_url": media_url(dataset.name, row["id"]) if image else None,
            "thumb_url": media_url(dataset.name, row["id"]) + "?thumb=true" if image else None,
            "text": _snippet(row.get("text")),
            "item_url": item_page_url(dataset.name, int(row["id"]), row.get("external_key")),
            "width": row.get("width"),
            "height": row.get("height"),
        }
    return out


def evaluation(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    run: str,
    reference: str | None = None,
    filter: str | None = None,
    coverage: float = 0.9,
    score_threshold: float = 0.5,
) -> dict[str, Any]:
    """``ds.models.evaluate`` of a run or model layer against ``reference`` (default
    ``ground_truth``; for boxes the truth box layer) on the slice, made JSON-safe, with the grid
    filter and URL of every confusion cell and links for each error. Cell filters are null for
    a trained run (its predictions are made afresh, not read from a layer) and where a name
    cannot be written in the filter language. A run or layer of boxes gets the box evaluation
    (:mod:`assay.web.views.box_predictions`) at ``score_threshold``."""
    who.viewer.check_filter(dataset, filter)
    found, layer = _source(who, dataset, run)
    kind = None
    if layer is not None:  # the kind of the predictions picks the measures (one read)
        with dataset.store.read() as conn:
            kind = kind_evaluation.source_kind(conn, dataset.id, layer)
    if layer is not None and kind == "boxes":
        visible = who.viewer.layer_names(dataset)
        reference = reference or box_predictions.default_reference(dataset, layer, visible)
        if reference is None:
            raise InvalidParameter(f"No box layer you may see to evaluate {layer!r} against.")
        check_reference(who, dataset, reference)
        result = box_predictions.evaluation(
            state, who, dataset, run=run, layer=layer, reference=reference, filter=filter,
            score_threshold=score_threshold,
        )  # fmt: skip
        return {**json_safe(result), "run": public_run(found) if found is not None else None}
    if layer is not None and kind == "tags":  # per-tag metrics
        visible = who.viewer.layer_names(dataset)
        result = tag_views.evaluation(dataset, layer, run, reference, filter, visible)
        return {**json_safe(result), "run": public_run(found) if found is not None else None}
    if layer is not None and kind == "number":  # MAE, RMSE, R²
        with dataset.store.read() as conn:
            reference = reference or number_evaluation.default_reference(conn, dataset.id, layer)
        check_reference(who, dataset, reference)
        found_ev = dict(dataset.models.evaluate(run, filter or None, reference_layer=reference))
        # The largest errors name their items by key (people know items by key, not by id).
        errors = found_ev.get("largest_errors") or []
        rows = reads.items_by_ids(dataset.store, dataset.id, [e["item_id"] for e in errors])
        keys = {r["id"]: r["external_key"] for r in rows}
        found_ev["largest_errors"] = [
            {**e, "key": keys.get(e["item_id"]), "page_url": item_page_url(
                dataset.name, e["item_id"], keys.get(e["item_id"]))}
            for e in errors
        ]  # fmt: skip
        return {**json_safe(found_ev), "run": public_run(found) if found is not None else None}
    reference = reference or "ground_truth"
    check_reference(who, dataset, reference)
    key = (
        "predictions",
        dataset.id,
        run,
        reference,
        filter or None,
        float(coverage),
        reads.data_version(dataset.store, dataset.id),
    )

    def compute() -> dict[str, Any]:
        result = dataset.models.evaluate(
            run, filter or None, reference_layer=reference, coverage=coverage
        )
        return dict(json_safe(result))

    result = dict(state.stats.get(key, compute))
    if result.get("kind") == "spans":  # entity-level scores, no class confusion
        return result
    grid = f"/datasets/{q(dataset.name)}/items"
    linkable = layer is not None and layer in who.viewer.layer_names(dataset)
    confusion = dict(result["confusion"])
    cells = []
    for cell in confusion["cells"]:
        text = None
        if linkable and layer is not None:
            text = cell_filter(reference, cell["true"], layer, cell["pred"], filter)
        url = _url(grid, filter=text, layer=reference) if text else None
        cells.append({**cell, "filter": text, "url": url})
    confusion["cells"] = cells
    links = _item_links(dataset, [e["item_id"] for e in result["errors"]])
    errors = [{**e, **links.get(e["item_id"], {})} for e in result["errors"]]
    return {
        "ok": True,
        **result,
        "run": public_run(found) if found is not None else None,
        "layer": layer,
        "reference_layer": reference,
        "filter": filter or None,
        "confusion": confusion,
        "errors": errors,
    }


def issues(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    run: str | None = None,
    kind: str = "mislabel",
    after: str | None = None,
    limit: int = 50,
    all_items: bool = False,
) -> dict[str, Any]:
    """One keyset page of a label-issue search's findings (default: the latest search), most
    suspect first, each with links; with ``all_items``, every item of the search (for label
    issues the full ranking: the flagged ones first, each row with ``is_issue`` and its
    ``rank``). Without any search: no issues and a ``message``."""
    if kind not in ISSUE_KINDS:
        raise InvalidParameter(f"Unknown issue kind {kind!r}; use mislabel, outlier or duplicate.")
    if not 1 <= limit <= MAX_ISSUES_PAGE:
        raise InvalidParameter(f"limit must be between 1 and {MAX_ISSUES_PAGE}, got {limit}.")
    try:
        summary = dataset.quality.run(run)
    except quality_runs.RunNotFound:
        if run is not None:
            raise
        return {"ok": True, "run": None, "kind": kind, "all": all_items, "issues": [],
                "next": None, "message": NO_ISSUE_RUN}  # fmt: skip
    for layer in [summary.layer, *(summary.annotator_layers or []), summary.model_layer]:
        if layer is not None:
            check_reference(who, dataset, layer)
    rows = dataset.quality.issues(
        summary.run_id,
        kind=ISSUE_KINDS[kind],
        limit=limit + 1,
        after=after,
        only_issues=not all_items,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    links = _item_links(dataset, [r["item_id"] for r in rows])
    rows = [{**r, **links.get(r["item_id"], {})} for r in rows]
    if summary.family == "boxes":  # the boxes drawn, the suspect ones highlighted
        from assay.quality.boxes import figures

        with dataset.store.read() as conn:
            figures(conn, dataset.id, summary.layer, summary.model_layer, rows)
    return {
        "ok": True,
        "run": json_safe(summary.to_dict()),
        "kind": kind,
        "all": all_items,
        "issues": [json_safe(r) for r in rows],
        "next": rows[-1]["cursor"] if more and rows else None,
        "message": None,
        **issue_links(who, dataset, summary.run_name, ISSUE_KINDS[kind]),
    }


def issue_links(who: Principal, dataset: Dataset, run: str, kind: str) -> dict[str, str | None]:
    """Where a search's findings of one kind open as a whole: the items grid filtered on them
    (``grid_filter``, ``grid_url``; None where the filter cannot name the run, for outliers,
    or in blind mode) and the review queue's cases of that reason (``review_url``)."""
    text = f"issue[{run}]={kind}"
    try:
        wanted = [filters.Clause("issue", run, "=", kind)]
        grid_filter = text if kind != "outlier" and filters.parse(text) == wanted else None
        who.viewer.check_filter(dataset, grid_filter)
    except (InvalidParameter, PermissionDenied):
        grid_filter = None
    name = q(dataset.name)
    return {
        "grid_filter": grid_filter,
        "grid_url": _url(f"/datasets/{name}/items", filter=grid_filter) if grid_filter else None,
        "review_url": _url(f"/datasets/{name}/review", reason=CASE_REASON[kind]),
    }
