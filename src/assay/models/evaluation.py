"""Metrics of predicted probabilities against reference labels, on any slice.

Per-class precision, recall and F1 (scikit-learn), accuracy, log loss, a reliability curve
with the expected calibration error, a confusion matrix whose cells keep the items behind
them, the errors sorted by loss, and conformal prediction sets with their empirical coverage
(``conformal`` is None, and ``conformal_unavailable`` says why, below 10 reference labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.models.conformal import (
    check_coverage,
    cross_conformal_sets,
    summarize_sets,
    too_few_to_calibrate,
)

CALIBRATION_BINS = 10
# Probabilities are clipped here before a log, as scikit-learn's log_loss clips float32 input:
# a loss is at most -ln(EPS) ~ 15.9 and the same wherever it is computed.
EPS = float(np.finfo(np.float32).eps)


def item_losses(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``-ln p(label)`` of each item, ``p`` clipped at :data:`EPS`."""
    return -np.log(np.clip(probs[np.arange(len(labels)), labels], EPS, 1.0))


def log_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean log loss of ``probs`` against class codes ``labels``: the one every face reports
    (``predict --cv``, ``evaluate``, the predictions page and its API)."""
    return float(item_losses(probs, labels).mean()) if len(labels) else float("nan")


def evaluate_probs(
    probs: np.ndarray,
    labels: np.ndarray,
    item_ids: np.ndarray,
    classes: Sequence[str],
    *,
    keys: Sequence[str] | None = None,
    coverage: float = 0.9,
    top_errors: int = 50,
    max_cell_items: int = 20,
    seed: int = 0,
) -> dict[str, Any]:
    """The metrics dict ``DatasetModels.evaluate`` returns (JSON-able).

    ``probs`` (n_items, n_classes) rows sum to 1; ``labels`` are the reference class codes.
    """
    coverage = check_coverage(coverage)
    n_classes = len(classes)
    probs = _normalized(probs)
    pred = probs.argmax(axis=1)
    codes = list(range(n_classes))
    precision, recall, f1, support = _per_class(labels, pred, n_classes)
    per_class = [
        {"class": classes[c], "precision": float(precision[c]), "recall": float(recall[c]),
         "f1": float(f1[c]), "support": int(support[c])}
        for c in codes
    ]  # fmt: skip
    loss = item_losses(probs, labels)
    out: dict[str, Any] = {
        "n_items": len(labels),
        "classes": list(classes),
        "accuracy": float((labels == pred).mean()) if len(labels) else 0.0,
        "log_loss": float(loss.mean()),
        "macro_f1": float(np.mean(f1[support > 0])) if (support > 0).any() else 0.0,
        "per_class": per_class,
        "calibration": reliability(probs, labels),
        "confusion": confusion(labels, pred, item_ids, classes, max_cell_items),
        "errors": worst_errors(probs, labels, pred, loss, item_ids, classes, keys, top_errors),
    }
    # Too few reference labels to calibrate leaves the sets out, not the metrics: an annotator
    # with a handful of labels still sees how the model does against them.
    out["conformal"] = None
    out["conformal_unavailable"] = too_few_to_calibrate(len(labels))
    if out["conformal_unavailable"]:
        return out
    sets = cross_conformal_sets(probs, labels, coverage=coverage, seed=seed)
    out["conformal"] = summarize_sets(sets, labels, coverage)
    out["conformal"]["per_class"] = per_class_coverage(sets, labels, classes)
    return out


def _per_class(
    labels: np.ndarray, pred: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 and support of each class, 0 where undefined: scikit-learn's
    ``precision_recall_fscore_support(zero_division=0)`` from one confusion matrix, without
    its input checks (a tenth of the time)."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (labels, pred), 1)
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

    f1 = ratio(2 * tp, (2 * tp + (predicted - tp) + (support - tp)).astype(np.float64))
    precision = ratio(tp, predicted.astype(np.float64))
    return precision, ratio(tp, support.astype(np.float64)), f1, support


def per_class_coverage(
    sets: np.ndarray, labels: np.ndarray, classes: Sequence[str]
) -> list[dict[str, Any]]:
    """Empirical coverage and mean set size among the items of each reference class
    (marginal coverage can hide a class the sets often miss); None where a class has no item."""
    sizes = sets.sum(axis=1)
    covered = sets[np.arange(len(labels)), labels]
    out = []
    for c, name in enumerate(classes):
        mask = labels == c
        n = int(mask.sum())
        out.append({
            "class": name, "n_items": n,
            "coverage": float(covered[mask].mean()) if n else None,
            "mean_set_size": float(sizes[mask].mean()) if n else None,
        })  # fmt: skip
    return out


def _normalized(probs: np.ndarray) -> np.ndarray:
    probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    total = probs.sum(axis=1, keepdims=True)
    return np.divide(probs, total, out=np.full_like(probs, 1.0 / probs.shape[1]), where=total > 0)


def reliability(
    probs: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS
) -> dict[str, Any]:
    """Reliability curve on the top-class confidence, and the expected calibration error."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    curve, ece = [], 0.0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        if n == 0:
            continue
        conf, acc = float(confidence[mask].mean()), float(correct[mask].mean())
        ece += n / len(labels) * abs(acc - conf)
        curve.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": n,
                      "confidence": conf, "accuracy": acc})  # fmt: skip
    return {"ece": float(ece), "bins": bins, "curve": curve}


def confusion(
    labels: np.ndarray,
    pred: np.ndarray,
    item_ids: np.ndarray,
    classes: Sequence[str],
    max_cell_items: int,
) -> dict[str, Any]:
    """Counts (rows: reference, columns: predicted) and, per non-empty cell, its first items."""
    n = len(classes)
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (labels, pred), 1)
    order = np.lexsort((item_ids, pred, labels))
    cells = []
    starts = np.flatnonzero(np.r_[True, np.diff(labels[order] * n + pred[order]) != 0])
    for s, e in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        idx = order[s:e]
        cells.append({
            "true": classes[int(labels[idx[0]])], "pred": classes[int(pred[idx[0]])],
            "count": len(idx), "item_ids": [int(i) for i in item_ids[idx[:max_cell_items]]],
        })  # fmt: skip
    return {"classes": list(classes), "matrix": matrix.tolist(), "cells": cells}


def worst_errors(
    probs: np.ndarray,
    labels: np.ndarray,
    pred: np.ndarray,
    loss: np.ndarray,
    item_ids: np.ndarray,
    classes: Sequence[str],
    keys: Sequence[str] | None,
    top: int,
) -> list[dict[str, Any]]:
    """Misclassified items, highest loss first: given and predicted class, probabilities."""
    wrong = np.flatnonzero(pred != labels)
    wrong = wrong[np.lexsort((item_ids[wrong], -loss[wrong]))][:top]
    return [
        {
            "item_id": int(item_ids[k]),
            "key": None if keys is None else keys[int(k)],
            "label": classes[int(labels[k])],
            "predicted": classes[int(pred[k])],
            "p_label": float(probs[k, labels[k]]),
            "p_predicted": float(probs[k, pred[k]]),
            "loss": float(loss[k]),
        }
        for k in wrong
    ]
