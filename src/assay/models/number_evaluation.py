"""Predicted numbers against a truth number layer, on any slice: MAE, RMSE, R², residuals,
conformal intervals (crepes) with their empirical coverage and mean width, largest errors.

Only items both layers label count. The intervals are split-conformal: the items are shuffled
(``seed``) and halved; crepes' ConformalRegressor is calibrated on one half's residuals and
its intervals are measured on the other half (coverage: the share of true values inside; width:
their mean), so the figures say what the intervals are worth on new items. scikit-learn
computes the errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.models.number_models import CONFIDENCE, conformal_intervals, read_numbers
from assay.store import schema as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from assay.handle import DatasetHandle as Dataset

__all__ = ["default_reference", "evaluate_numbers", "evaluate_source"]

MAX_POINTS = 2_000  # residual-plot points kept (evenly spaced over the items)


def number_source(conn: Connection, dataset_id: int, source: str) -> str | None:
    """The number layer ``source`` names (a run's predictions layer, or the layer itself)."""
    r, la = t.model_runs.c, t.layers.c
    run = conn.execute(
        sa.select(r.layer_id).where(r.dataset_id == dataset_id, r.name == source)
    ).first()
    if run is not None and run.layer_id is not None:
        found = conn.execute(sa.select(la.name, la.value_kind).where(la.id == run.layer_id)).first()
        return str(found.name) if found is not None and found.value_kind == "number" else None
    kind = conn.execute(
        sa.select(la.value_kind).where(la.dataset_id == dataset_id, la.name == source)
    ).scalar()
    return source if kind == "number" else None


def default_reference(conn: Connection, dataset_id: int, predictions: str) -> str:
    """``ground_truth`` if it holds numbers, else the first human number layer nobody owns,
    else the first other number layer."""
    la = t.layers.c
    rows = conn.execute(
        sa.select(la.name, la.kind, la.owner)
        .where(la.dataset_id == dataset_id, la.value_kind == "number", la.name != predictions)
        .order_by(la.id)
    ).all()
    if not rows:
        raise InvalidParameter(
            f"No number layer to evaluate {predictions!r} against: import the true values first."
        )
    if "ground_truth" in [r.name for r in rows]:
        return "ground_truth"
    return str(min(rows, key=lambda r: (r.kind == "model", r.owner is not None)).name)


def evaluate_numbers(
    item_ids: np.ndarray,
    y: np.ndarray,
    pred: np.ndarray,
    *,
    confidence: float = CONFIDENCE,
    top_errors: int = 20,
    seed: int = 0,
) -> dict[str, Any]:
    """The measures of predictions ``pred`` of true values ``y`` (aligned with ``item_ids``)."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    n = len(y)
    if n == 0:
        raise InvalidParameter("No item has both a predicted and a true value: nothing to measure.")
    residual = y - pred
    order = np.argsort(-np.abs(residual), kind="stable")[:top_errors]
    keep = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).astype(np.int64))
    out: dict[str, Any] = {
        "kind": "number",
        "n_items": n,
        "mae": float(mean_absolute_error(y, pred)),
        "rmse": float(root_mean_squared_error(y, pred)),
        "r2": float(r2_score(y, pred)) if n > 1 and np.ptp(y) > 0 else None,
        "mean_residual": float(residual.mean()),
        "points": {
            "item_id": item_ids[keep].tolist(),
            "true": y[keep].tolist(),
            "predicted": pred[keep].tolist(),
        },
        "largest_errors": [
            {
                "item_id": int(item_ids[k]),
                "true": float(y[k]),
                "predicted": float(pred[k]),
                "error": float(residual[k]),
            }
            for k in order.tolist()
        ],
        "conformal": None,
    }
    if n >= 10:
        perm = np.random.default_rng(seed).permutation(n)
        cal, test = perm[: n // 2], perm[n // 2 :]
        iv = conformal_intervals(y[cal], pred[cal], pred[test], confidence=confidence)
        inside = (y[test] >= iv.low) & (y[test] <= iv.high)
        out["conformal"] = {
            "method": "split conformal (crepes ConformalRegressor), half calibration",
            "confidence": confidence,
            "n_calibration": len(cal),
            "n_test": len(test),
            "coverage": float(inside.mean()),
            "mean_width": float(iv.width.mean()),
        }
    return out


def evaluate_source(
    ds: Dataset,
    source: str,
    filter: str | None = None,
    *,
    reference_layer: str | None = None,
    top_errors: int = 20,
    confidence: float = CONFIDENCE,
    **ignored: Any,
) -> dict[str, Any]:
    """:func:`evaluate_numbers` of a number model run (its predictions layer) or a number
    layer against ``reference_layer`` (default :func:`default_reference`), on the slice."""
    del ignored  # options of other kinds (score_threshold, max_cell_items)
    with ds.store.read() as conn:
        layer = number_source(conn, ds.id, source)
        if layer is None:
            raise InvalidParameter(f"{source!r} is neither a number model run nor a number layer.")
        reference = reference_layer or default_reference(conn, ds.id, layer)
        p_ids, p_vals = read_numbers(conn, ds.id, layer, filter)
        t_ids, t_vals = read_numbers(conn, ds.id, reference, filter)
    common, pi, ti = np.intersect1d(p_ids, t_ids, assume_unique=True, return_indices=True)
    report = evaluate_numbers(common, t_vals[ti], p_vals[pi], confidence=confidence,
                              top_errors=top_errors)  # fmt: skip
    return {"source": source, "layer": layer, "reference_layer": reference, "filter": filter,
            **report}  # fmt: skip
