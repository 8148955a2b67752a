"""Predicted tags against a truth tag layer, on any slice: per-tag precision, recall, F1 and
support, micro and macro F1, subset accuracy and Hamming loss (scikit-learn's metrics, the
numbers every multi-label paper reports), plus each tag's average precision where the
predictions keep per-tag probabilities.

A tag model's predictions are a tag layer of kind ``model``: each label's value is the
predicted set (the same format as a person's), and its ``probs`` hold P(tag applies) for every
class of the dataset, in class order (independent probabilities, not a distribution). Only
items both layers label count; the truth layer decides what is right.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import InvalidParameter
from assay.labels.agreement import plain_json
from assay.store import filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = ["default_reference", "evaluate_tags", "load_tag_probs", "tag_metrics", "tag_source"]


def tag_source(conn: Connection, dataset_id: int, source: str) -> str:
    """The tag layer ``source`` names: a model run's predictions layer or a layer."""
    r = t.model_runs.c
    run = conn.execute(
        sa.select(r.layer_id).where(r.dataset_id == dataset_id, r.name == source)
    ).first()
    if run is not None and run.layer_id is not None:
        name = conn.execute(sa.select(t.layers.c.name).where(t.layers.c.id == run.layer_id))
        return str(name.scalar())
    row = queries.get_layer(conn, dataset_id, source)
    if row.value_kind != "tags":
        raise InvalidParameter(f"{source!r} holds {row.value_kind} labels, not tags.")
    return str(row.name)


def default_reference(conn: Connection, dataset_id: int, predictions: str) -> str:
    """The tag layer predictions are measured against when none is named: ``ground_truth``
    if it holds tags, else the first human tag layer nobody owns, else the first other tag
    layer; InvalidParameter when there is none."""
    la = t.layers.c
    rows = conn.execute(
        sa.select(la.name, la.kind, la.owner)
        .where(la.dataset_id == dataset_id, la.value_kind == "tags", la.name != predictions)
        .order_by(la.id)
    ).all()
    if not rows:
        raise InvalidParameter(
            f"No tag layer to evaluate {predictions!r} against: import or label the true tags "
            "in a tag layer first."
        )
    if "ground_truth" in [r.name for r in rows]:
        return "ground_truth"
    return str(min(rows, key=lambda r: (r.kind == "model", r.owner is not None)).name)


def load_tag_probs(
    conn: Connection, dataset_id: int, layer: str, filter: str | None = None
) -> tuple[list[str], dict[int, list[str]], dict[int, list[float]]]:
    """``(classes, tags, probs)`` of tag layer ``layer`` over the items ``filter`` selects:
    each labeled item's set and, where kept, its per-class P(tag applies)."""
    row = queries.get_layer(conn, dataset_id, layer)
    classes = [c.name for c in queries.list_classes(conn, dataset_id)]
    h, lab = t.label_heads.c, t.labels.c
    value: Any = lab.value
    if conn.dialect.name == "postgresql":
        value = sa.cast(lab.value, sa.Text)
    query = (
        sa.select(h.item_id, value, lab.probs)
        .select_from(t.label_heads.join(t.labels, lab.id == h.label_id))
        .where(h.layer_id == row.id, lab.value.is_not(None))
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.join(t.items, t.items.c.id == h.item_id).where(where)
    tags: dict[int, list[str]] = {}
    probs: dict[int, list[float]] = {}
    for item_id, v, p in conn.execute(query):
        v = orjson.loads(v) if isinstance(v, str | bytes) else v
        if v is None:
            continue
        tags[int(item_id)] = list(v)
        if p is not None:
            probs[int(item_id)] = list(orjson.loads(p) if isinstance(p, str | bytes) else p)
    return classes, tags, probs


def _binary(sets: Sequence[Sequence[str]], classes: Sequence[str]) -> np.ndarray:
    index = {c: k for k, c in enumerate(classes)}
    y = np.zeros((len(sets), len(classes)), dtype=np.int8)
    for i, s in enumerate(sets):
        for tag in s:
            if tag in index:
                y[i, index[tag]] = 1
    return y


def tag_metrics(
    truth: np.ndarray, pred: np.ndarray, classes: Sequence[str], scores: np.ndarray | None = None
) -> dict[str, Any]:
    """The metrics of predicted tags ``pred`` against ``truth`` ((n, k) 0/1 arrays over
    ``classes``), ``scores`` ((n, k) P(tag), optional) adding each tag's average precision."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        hamming_loss,
        precision_recall_fscore_support,
    )

    n = len(truth)
    if n == 0:
        raise InvalidParameter("No item is labeled by both the predictions and the truth layer.")
    p, r, f, s = precision_recall_fscore_support(truth, pred, average=None, zero_division=0)
    per_tag = []
    for k, name in enumerate(classes):
        row: dict[str, Any] = {
            "tag": name, "precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]),
            "support": int(s[k]), "predicted": int(pred[:, k].sum()),
        }  # fmt: skip
        if scores is not None and 0 < truth[:, k].sum() < n:
            row["average_precision"] = float(average_precision_score(truth[:, k], scores[:, k]))
        per_tag.append(row)
    return plain_json({
        "kind": "tags",
        "n_items": n,
        "micro_f1": float(f1_score(truth, pred, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(truth, pred, average="macro", zero_division=0)),
        "micro_precision": float(
            precision_recall_fscore_support(truth, pred, average="micro", zero_division=0)[0]
        ),
        "micro_recall": float(
            precision_recall_fscore_support(truth, pred, average="micro", zero_division=0)[1]
        ),
        "subset_accuracy": float(accuracy_score(truth, pred)),
        "hamming_loss": float(hamming_loss(truth, pred)),
        "per_tag": per_tag,
    })  # fmt: skip


def evaluate_tags(
    ds: Dataset,
    source: str,
    filter: str | None = None,
    *,
    reference_layer: str | None = None,
    score_threshold: float | None = None,
    **unused: Any,
) -> dict[str, Any]:
    """The metrics of tag predictions ``source`` (a model run or a tag layer) against
    ``reference_layer`` (default: :func:`default_reference`) on the items of ``filter`` both
    label. ``score_threshold``: predict the tags whose kept probability reaches it (default:
    the predicted sets as stored). Options of other kinds' evaluations (``top_errors``...)
    do not apply and are ignored."""
    del unused
    threshold = score_threshold
    with ds.store.read() as conn:
        layer = tag_source(conn, ds.id, source)
        reference = reference_layer or default_reference(conn, ds.id, layer)
        classes, pred_sets, probs = load_tag_probs(conn, ds.id, layer, filter)
        _, truth_sets, _ = load_tag_probs(conn, ds.id, reference, filter)
    items = sorted(pred_sets.keys() & truth_sets.keys())
    truth = _binary([truth_sets[i] for i in items], classes)
    pred = _binary([pred_sets[i] for i in items], classes)
    scores = None
    if items and all(i in probs for i in items):
        scores = np.array([probs[i] for i in items], dtype=float)
        if threshold is not None:
            pred = (scores >= threshold).astype(np.int8)
    result = tag_metrics(truth, pred, classes, scores)
    result.update(source=source, layer=layer, reference=reference, filter=filter)
    return result
