"""What colors a map's points: one small code per point, aligned with the map's item ids.

Codes are uint8 (``NONE_CODE`` = 255 for "nothing to show") indexing a legend, so the page
can paint 100,000 points from one typed array. Each mode is one indexed query streamed into
numpy arrays; access rules (blind mode) are the caller's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.store import queries
from assay.store import schema as t
from assay.store.vocabulary import ACTIVE_CASE_STATES, CASE_REASONS

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

COLOR_BY = ("label", "prediction", "issue", "disagreement")
NONE_CODE = 255
OTHER_CODE = 254  # classes beyond the 254th share one code
DISAGREEMENT_LEGEND = ["agree", "disagree"]


def default_prediction_layer(ds: Dataset) -> str | None:
    """The layer of the dataset's newest finished model run, if any."""
    r, la = t.model_runs.c, t.layers.c
    with ds.store.read() as conn:
        name = conn.execute(
            sa.select(la.name)
            .select_from(t.model_runs.join(t.layers, t.layers.c.id == r.layer_id))
            .where(r.dataset_id == ds.id, r.state == "done")
            .order_by(r.id.desc())
            .limit(1)
        ).scalar()
    return None if name is None else str(name)


def color_codes(
    ds: Dataset, item_ids: np.ndarray, by: str, layer: str | None = None
) -> dict[str, Any]:
    """Codes for the points ``item_ids`` (ascending) colored ``by`` one of :data:`COLOR_BY`.

    * ``label``: the current class in ``layer`` (default ``ground_truth``);
    * ``prediction``: the predicted class in a model layer (default: the newest run's);
    * ``issue``: the reason of the item's open review case (first in ``CASE_REASONS`` order);
    * ``disagreement``: whether the human layers' current labels differ (or an open
      ``disagreement`` case says so); items with fewer than two human labels get none.

    Returns ``{"by", "layer", "legend", "codes"}`` with ``codes`` a uint8 array.
    """
    if by not in COLOR_BY:
        raise InvalidParameter(f"Unknown color {by!r}; use one of {', '.join(COLOR_BY)}.")
    ids = np.asarray(item_ids, dtype=np.int64)
    codes = np.full(len(ids), NONE_CODE, dtype=np.uint8)
    legend: list[str]
    if by in ("label", "prediction"):
        if by == "prediction" and not layer:
            layer = default_prediction_layer(ds)
            if layer is None:
                raise InvalidParameter(
                    "This dataset has no model run yet: train or cross-validate one to color "
                    "the map by prediction."
                )
        layer = layer or "ground_truth"
        legend = _by_layer(ds, ids, codes, layer, model_only=by == "prediction")
    elif by == "issue":
        layer = None
        legend = list(CASE_REASONS)
        _by_issue(ds, ids, codes)
    else:
        layer = None
        legend = list(DISAGREEMENT_LEGEND)
        _by_disagreement(ds, ids, codes)
    return {"by": by, "layer": layer, "legend": legend, "codes": codes}


def _positions(ids: np.ndarray, item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``item`` sits in ``ids``, and which of them are on the map at all."""
    pos = np.searchsorted(ids, item)
    pos = np.minimum(pos, max(len(ids) - 1, 0))
    hit = ids[pos] == item if len(ids) else np.zeros(len(item), dtype=bool)
    return pos, hit


def _stream(ds: Dataset, query: sa.Select[Any]) -> tuple[np.ndarray, np.ndarray]:
    """A two-column integer query as two int64 arrays (read once, in chunks)."""
    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    with ds.store.read() as conn:
        for rows in queries.iter_tuples(conn, query, 50_000):
            cols = list(zip(*rows, strict=True))
            a.append(np.asarray(cols[0], dtype=np.int64))
            b.append(np.asarray(cols[1], dtype=np.int64))
    if not a:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(a), np.concatenate(b)


def _by_layer(
    ds: Dataset, ids: np.ndarray, codes: np.ndarray, layer: str, *, model_only: bool
) -> list[str]:
    with ds.store.read() as conn:
        row = queries.get_layer(conn, ds.id, layer)  # LayerNotFound with a hint
        classes = queries.list_classes(conn, ds.id)
    if model_only and row.kind != "model":
        raise InvalidParameter(f"Layer {layer!r} is not a model layer (it is {row.kind!r}).")
    legend = [c.name for c in classes[:OTHER_CODE]]
    if len(classes) > OTHER_CODE:
        legend.append("other classes")
    class_ids = np.array([c.id for c in classes], dtype=np.int64)
    order = np.argsort(class_ids)
    h = t.label_heads.c
    item, cls = _stream(
        ds, sa.select(h.item_id, h.class_id).where(h.layer_id == row.id, h.class_id.is_not(None))
    )
    pos, hit = _positions(ids, item)
    k = np.searchsorted(class_ids[order], cls[hit])
    code = np.minimum(order[np.minimum(k, len(order) - 1)], OTHER_CODE)
    codes[pos[hit]] = code.astype(np.uint8)
    return legend


def _by_issue(ds: Dataset, ids: np.ndarray, codes: np.ndarray) -> None:
    c = t.review_cases.c
    reason = sa.case(
        *[(c.reason == name, i) for i, name in enumerate(CASE_REASONS)], else_=NONE_CODE
    )
    item, code = _stream(
        ds,
        sa.select(c.item_id, reason).where(c.dataset_id == ds.id, c.state.in_(ACTIVE_CASE_STATES)),
    )
    pos, hit = _positions(ids, item)
    # The smallest code wins when an item has several open cases.
    np.minimum.at(codes, pos[hit], code[hit].astype(np.uint8))


def _by_disagreement(ds: Dataset, ids: np.ndarray, codes: np.ndarray) -> None:
    la, h = t.layers.c, t.label_heads.c
    human = sa.select(la.id).where(la.dataset_id == ds.id, la.kind == "human")
    item, cls = _stream(
        ds,
        sa.select(h.item_id, h.class_id).where(h.layer_id.in_(human), h.class_id.is_not(None)),
    )
    if len(item):
        labelled, n_labels = np.unique(item, return_counts=True)
        pairs = np.unique(np.stack([item, cls], axis=1), axis=0)
        _, n_classes = np.unique(pairs[:, 0], return_counts=True)
        # np.unique sorts both, and every labelled item has >= 1 class: the arrays align.
        two = n_labels >= 2
        pos, hit = _positions(ids, labelled[two])
        codes[pos[hit]] = (n_classes[two][hit] > 1).astype(np.uint8)
    c = t.review_cases.c
    case_items, _ = _stream(
        ds,
        sa.select(c.item_id, c.id).where(
            c.dataset_id == ds.id,
            c.state.in_(ACTIVE_CASE_STATES),
            c.reason == "disagreement",
        ),
    )
    pos, hit = _positions(ids, case_items)
    codes[pos[hit]] = 1
