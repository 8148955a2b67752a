"""Likely mislabeled tags: cleanlab's multi-label check on out-of-fold probabilities.

A tag layer is checked against a model's P(tag applies) per item and tag, taken from a layer
of tag predictions (a model layer whose labels keep per-class probabilities in ``probs``, see
:mod:`assay.models.tag_evaluation`) or, without one, from a built-in one-vs-rest logistic
regression on the items' features (:func:`assay.models.features.featurize`), cross-validated
so every item's probabilities come from a model that never saw its tags
(:func:`out_of_fold_tags`; the probabilities are written to a model layer beside the checked
one, so evaluation, suggestions and the next check reuse them).

The scores and flags are cleanlab's (``cleanlab.multilabel_classification``:
``rank.get_label_quality_scores`` and ``filter.find_label_issues``), not our own: they are the
reference implementation of confident learning for multi-label data. What we add is the
evidence a reviewer needs: which tags are at issue, each as "tag X missing" (not given, the
model is confident it applies) or "tag Y probably wrong" (given, the model is confident it does
not), with the model's probability.

Methods (:data:`TAG_METHODS`): ``cleanlab`` (find_label_issues as it comes: the default) and
``confident`` (cleanlab's flags where the model contradicts a tag firmly: fewer flags).
``benchmarks/bench_kind_issues.py`` compares them with cleanlab called directly under four
noise models and on MNIST's confirmed errors: ``confident`` is a little more precise under
uniform flips and forgotten tags, but under structured noise (one annotator omitting a tag,
a tag given for one it co-occurs with) it loses both precision and 0.3 of recall, so the
default stays ``cleanlab``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from assay.errors import InvalidParameter
from assay.progress import ProgressCallback

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = [
    "DEFAULT_TAG_METHOD",
    "TAG_METHODS",
    "TagIssues",
    "TagParams",
    "find_run",
    "find_tag_issues",
    "open_cases_for_run",
    "out_of_fold_tags",
]


@dataclass(frozen=True)
class TagParams:
    """How a method flags: cleanlab's ``filter_by``, and an optional margin: cleanlab's flags
    are kept only where the model contradicts a tag by more than 0.5 + margin (a given tag
    at P < 0.2, a missing one at P > 0.8 for 0.3; None: cleanlab's flags as they are)."""

    filter_by: str = "prune_by_noise_rate"
    confident_margin: float | None = None


TAG_METHODS: dict[str, TagParams] = {
    "cleanlab": TagParams(),
    "confident": TagParams(confident_margin=0.3),
}
DEFAULT_TAG_METHOD = "cleanlab"


def check_tag_method(name: str) -> str:
    if name not in TAG_METHODS:
        raise InvalidParameter(
            f"Unknown label-issue method {name!r} for tag layers; use one of "
            f"{', '.join(TAG_METHODS)} ({DEFAULT_TAG_METHOD} is the default)."
        )
    return name


@dataclass
class TagIssues:
    """Per item (in the order given): label quality, whether flagged, the suspect tags."""

    quality: np.ndarray
    is_issue: np.ndarray
    suspects: list[list[dict[str, Any]]]


def _suspects(given: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> list[dict[str, Any]]:
    """The tags of one item the model contradicts, most confident first (at least one: the
    most contradicted tag)."""
    gap = np.abs(given - probs)
    wrong_side = (given == 1) & (probs < 0.5) | (given == 0) & (probs >= 0.5)
    order = np.argsort(-gap, kind="stable")
    picked = [int(k) for k in order if wrong_side[k]] or [int(order[0])]
    return [
        {
            "tag": classes[k],
            "kind": "wrong" if given[k] else "missing",
            "prob": round(float(probs[k]), 4),
            "note": (
                f"tag {classes[k]} probably wrong (model: {probs[k]:.0%})"
                if given[k]
                else f"tag {classes[k]} missing (model: {probs[k]:.0%})"
            ),
        }
        for k in picked
    ]


def find_tag_issues(
    labels: Sequence[Sequence[int]],
    pred_probs: np.ndarray,
    classes: Sequence[str],
    method: str = DEFAULT_TAG_METHOD,
) -> TagIssues:
    """cleanlab's multi-label check of ``labels`` (per item, the indices into ``classes`` of
    its tags) against ``pred_probs`` ((n, k) P(tag applies)), with the suspect tags of every
    flagged item."""
    from cleanlab.multilabel_classification.filter import find_label_issues
    from cleanlab.multilabel_classification.rank import get_label_quality_scores

    params = TAG_METHODS[check_tag_method(method)]
    probs = np.clip(np.asarray(pred_probs, dtype=np.float64), 1e-6, 1 - 1e-6)
    n, k = probs.shape
    given = np.zeros((n, k), dtype=np.int8)
    for i, tags in enumerate(labels):
        given[i, list(tags)] = 1
    lists = [list(map(int, tags)) for tags in labels]
    quality = np.asarray(get_label_quality_scores(lists, probs), dtype=np.float64)
    flags = np.asarray(find_label_issues(lists, probs, filter_by=params.filter_by), dtype=bool)
    if params.confident_margin is not None:  # only where the model contradicts a tag firmly
        flags &= (np.abs(given - probs) > 0.5 + params.confident_margin).any(axis=1)
    suspects = [_suspects(given[i], probs[i], classes) if flags[i] else [] for i in range(n)]
    return TagIssues(np.clip(quality, 0.0, 1.0), flags, suspects)


def out_of_fold_tags(X: np.ndarray, Y: np.ndarray, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold P(tag applies) ((n, k)) of a one-vs-rest logistic regression (scaled
    features) on ``X`` for the 0/1 tags ``Y``, by scikit-learn's ``cross_val_predict``. A tag
    every training item has (or none has) gets its rate as a constant probability."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n, k = Y.shape
    folds = max(2, min(folds, n))
    out = np.zeros((n, k))
    varied = Y.min(axis=0) != Y.max(axis=0)
    out[:, ~varied] = Y[:, ~varied].mean(axis=0)
    if varied.any():
        from threadpoolctl import threadpool_limits

        # liblinear on one BLAS thread: small binary problems, where lbfgs on a shared
        # machine's BLAS thread pool was 20x slower (benchmarks/bench_tags.py).
        model = make_pipeline(
            StandardScaler(),
            OneVsRestClassifier(LogisticRegression(solver="liblinear", max_iter=1000)),
        )
        cv = KFold(folds, shuffle=True, random_state=seed)
        with threadpool_limits(1):
            found = cross_val_predict(model, X, Y[:, varied], cv=cv, method="predict_proba")
        # One varied tag is a binary problem: scikit-learn gives (no, yes) columns.
        out[:, varied] = found[:, -1:] if varied.sum() == 1 else found
    return out


def _layer_tags(
    conn: Connection, dataset_id: int, layer: str, filter: str | None
) -> tuple[list[str], dict[int, list[str]], dict[int, list[float]], dict[int, int]]:
    from assay.models.tag_evaluation import load_tag_probs
    from assay.store import queries
    from assay.store import schema as t

    classes, tags, probs = load_tag_probs(conn, dataset_id, layer, filter)
    row = queries.get_layer(conn, dataset_id, layer)
    h = t.label_heads.c
    ids = {
        int(i): int(label_id)
        for i, label_id in conn.execute(
            sa.select(h.item_id, h.label_id).where(h.layer_id == row.id)
        )
    }
    return classes, tags, probs, ids


def predict_oof(
    dataset: Dataset, layer: str, filter: str | None, *, into: str, actor: str,
    folds: int = 5, seed: int = 0, progress: ProgressCallback | None = None,
) -> str:  # fmt: skip
    """Out-of-fold tag probabilities for the items of ``layer`` (in ``filter``) written to the
    model layer ``into`` (made if new): each label the predicted set (P >= 0.5) with the
    probabilities in ``probs``. Returns ``into``."""
    from assay.labels.layers import check_system_target, create_layer
    from assay.labels.writes import LabelWrite, write_labels
    from assay.models.features import featurize

    with dataset.store.read() as conn:
        classes, tags, _, _ = _layer_tags(conn, dataset.id, layer, filter)
    if len(tags) < 4:
        raise InvalidParameter(
            f"Layer {layer!r} tags {len(tags)} items{' in this slice' if filter else ''}; "
            "a cross-validated check needs at least 4."
        )
    ids = np.array(sorted(tags), dtype=np.int64)
    feats = featurize(dataset, filter, item_ids=ids, progress=progress).take(ids)
    index = {c: j for j, c in enumerate(classes)}
    Y = np.zeros((len(ids), len(classes)), dtype=np.int8)
    for i, item_id in enumerate(ids.tolist()):
        for tag in tags[item_id]:
            Y[i, index[tag]] = 1
    probs = out_of_fold_tags(np.asarray(feats.X, dtype=np.float64), Y, folds=folds, seed=seed)
    writes = [
        LabelWrite(
            int(item_id),
            [c for j, c in enumerate(classes) if probs[i, j] >= 0.5],
            probs=[float(p) for p in probs[i]],
            confidence=float(np.min(np.maximum(probs[i], 1 - probs[i]))) if len(classes) else 1.0,
        )
        for i, item_id in enumerate(ids.tolist())
    ]
    with dataset.store.write() as conn:
        row = check_system_target(conn, dataset.id, into, "model")
        if row is None:
            create_layer(conn, dataset.id, into, kind="model", value_kind="tags",
                         description=f"Out-of-fold tag probabilities for {layer}")  # fmt: skip
        elif row.value_kind != "tags":
            raise InvalidParameter(f"Layer {into!r} holds {row.value_kind} labels, not tags.")
        write_labels(conn, dataset.id, into, writes, author=actor, skip_unchanged=True)
    return into


def find_run(
    dataset: Dataset,
    *,
    layer: str,
    predictions: str | None,
    filter: str | None,
    method: str | None,
    actor: str,
    progress: ProgressCallback,
    folds: int = 5,
    seed: int = 0,
) -> int:
    """Check tag layer ``layer`` against the tag probabilities of ``predictions`` (default:
    out-of-fold ones, computed into ``<layer>_oof``), store the results on the predictions'
    model run (as :func:`assay.quality.boxes.find_run` does) and return the run's id. The
    suspect tags of flagged items go to the run's summary, under ``evidence``."""
    from assay.quality import runs

    method = check_tag_method(method or DEFAULT_TAG_METHOD)
    if predictions is None:
        progress(0, None, "out-of-fold tag probabilities (one-vs-rest logistic regression)")
        predictions = predict_oof(
            dataset, layer, filter, into=f"{layer}_oof", actor=actor, folds=folds, seed=seed,
            progress=progress,
        )  # fmt: skip
    with dataset.store.read() as conn:
        classes, tags, _, label_ids = _layer_tags(conn, dataset.id, layer, filter)
        _, _, probs, _ = _layer_tags(conn, dataset.id, predictions, filter)
    item_ids = sorted(i for i in tags if i in probs)
    if not item_ids:
        raise InvalidParameter(
            f"No item has tags in {layer!r} and tag probabilities in {predictions!r}"
            f"{' in this slice' if filter else ''}: nothing to check."
        )
    index = {c: j for j, c in enumerate(classes)}
    labels = [[index[tg] for tg in tags[i]] for i in item_ids]
    pred = np.array([probs[i] for i in item_ids], dtype=np.float64)
    progress(0, None, "scoring label quality (cleanlab multi-label)")
    found = find_tag_issues(labels, pred, classes, method)
    evidence: dict[str, Any] = {}
    counts = {"missing": 0, "wrong": 0}
    for k in np.flatnonzero(found.is_issue).tolist():
        evidence[str(item_ids[k])] = {
            "label_id": label_ids.get(item_ids[k]),
            "suspects": found.suspects[k],
        }
        for s in found.suspects[k]:
            counts[s["kind"]] += 1
    summary = {
        "family": "tags", "layer": layer, "model_layer": predictions, "annotator_layers": None,
        "filter": filter, "method": method, "n_items": len(item_ids),
        "n_issues": int(found.is_issue.sum()), "n_estimated": int(found.is_issue.sum()),
        "n_outliers": 0, "n_duplicates": 0, "n_without_probs": len(tags) - len(item_ids),
        "n_suspects": counts, "outlier_threshold": None,
        "computed_at": datetime.now(UTC).isoformat(), "evidence": evidence,
    }  # fmt: skip
    progress(0, None, "saving")
    with dataset.store.write() as conn:
        return runs.save_for_layer(
            conn, dataset.id, predictions, actor, np.asarray(item_ids),
            found.quality, found.is_issue, summary,
        )  # fmt: skip


def tag_evidence(
    suspects: Sequence[Mapping[str, Any]], layer: str, pred_layer: str
) -> dict[str, Any]:
    """An item's suspect tags as case evidence: the layers, the tags at issue (``tag_issues``
    as a disagreement names them, with the model's probability) and a sentence."""
    return {
        "tag_layers": [layer],
        "predictions": pred_layer,
        "suspect_tags": list(suspects),
        "summary": "; ".join(s["note"] for s in suspects),
    }


def open_cases_for_run(
    conn: Connection,
    dataset_id: int,
    run: Row[Any],
    *,
    limit: int | None,
    actor: str,
    top: int | None = None,
) -> dict[str, Any]:
    """``mislabel`` cases for a tag run's flagged items (``top``: the first items of the full
    ranking instead), most suspect first, each naming its suspect tags."""
    from assay.quality import runs

    return runs.open_mislabel_cases(
        conn, dataset_id, run, tag_case_evidence, limit=limit, actor=actor, top=top
    )


def tag_case_evidence(row: Mapping[str, Any], run: Any, info: Mapping[str, Any]) -> dict[str, Any]:
    """A flagged item's case evidence: the run, the layer, the tag set checked (its label id:
    the case stops holding when it changes), the quality and :func:`tag_evidence`."""
    layer, pred_layer = info["layer"], info["model_layer"]
    return {
        "run_id": int(run.id),
        "run": run.name,
        "layer": layer,
        "label_id": row.get("label_id"),
        "quality": row["quality"],
        "flagged": row["is_issue"],
        **tag_evidence(row.get("suspects") or [], layer, pred_layer),
    }
