"""Suggestions for number layers: ask first about the items whose value is least certain.

``interval-width`` ranks the slice's items the number layer has not annotated by the width
of their conformal interval (crepes, normalized: the spread of the k nearest labeled
neighbours' values scales a quantile calibrated on out-of-fold residuals of the built-in
regressor, :mod:`assay.models.number_models`): a wider interval is a value the labeled data
pins down less, whose label teaches the model more. ``random`` is the baseline.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from assay.active import strategies as st
from assay.active.pool import EmptyPool
from assay.active.ranking import Ranked
from assay.errors import InvalidParameter
from assay.store import filters, queries

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = ["FOR_NUMBERS", "rank_number_pool"]

FOR_NUMBERS = ("random", "interval-width")
FOLDS = 5


def rank_number_pool(
    ds: Dataset,
    layer: str,
    *,
    strategy: str = "auto",
    batch: int = 20,
    filter: str | None = None,
    seed: int = 0,
) -> Ranked:
    """Rank the items of the slice ``filter`` that number layer ``layer`` has not annotated and
    pick ``batch`` of them (see the module doc). EmptyPool when all are annotated."""
    from assay.models.features import featurize
    from assay.models.number_models import (
        conformal_intervals,
        make_regressor,
        oof_predict,
        read_numbers,
    )
    from assay.stats.layer_scan import iter_layer_values

    notes: list[str] = []
    with ds.store.read() as conn:
        row = queries.get_layer(conn, ds.id, layer)
        if row.value_kind != "number":
            raise InvalidParameter(f"Layer {layer!r} is not a number layer.")
        if strategy not in ("auto", *FOR_NUMBERS):
            raise InvalidParameter(
                f"Strategy {strategy!r} does not rank number layers: use auto, "
                f"{', '.join(FOR_NUMBERS)}."
            )
        where = filters.compile_filter(conn, ds.id, filter)
        pool: list[int] = []
        for rows in iter_layer_values(conn, ds.id, int(row.id), where=where):
            pool.extend(int(r[0]) for r in rows if r[3] is None)
        ids_l, y = read_numbers(conn, ds.id, layer, filter)
    if not pool:
        raise EmptyPool(
            f"Nothing left to suggest: every item of the slice has a value in layer {layer!r}."
        )
    chosen = "interval-width" if strategy == "auto" else strategy
    if chosen == "interval-width" and len(y) < 2 * FOLDS:
        notes.append(
            f"Only {len(y)} labeled value(s) in {layer!r}: too few for a model; random picks."
        )
        chosen = "random"
    ids = np.asarray(pool, dtype=np.int64)
    if batch > len(ids):
        notes.append(f"The batch ({batch}) is larger than the pool ({len(ids)}): all of it.")
        batch = len(ids)
    if chosen == "random":
        order = np.random.default_rng(seed).permutation(len(ids))[:batch]
        scores = np.zeros(len(order))
        reasons = ["random pick"] * len(order)
    else:
        feats = featurize(ds, filter)
        pos = {int(i): k for k, i in enumerate(feats.item_ids.tolist())}
        keep = np.asarray([int(i) in pos for i in ids_l], dtype=bool)
        X_l = feats.X[[pos[int(i)] for i in ids_l[keep]]].astype(np.float64)
        y = y[keep]
        has = np.asarray([int(i) in pos for i in ids], dtype=bool)
        X_p = feats.X[[pos[int(i)] for i in ids[has]]].astype(np.float64)
        model = make_regressor("auto", len(y), seed)
        oof = oof_predict(X_l, y, model, FOLDS, seed)
        fitted = make_regressor("auto", len(y), seed).fit(X_l, y)
        pred = fitted.predict(X_p) if len(X_p) else np.zeros(0)
        iv = conformal_intervals(y, oof, pred, X_cal=X_l, X=X_p)
        width = np.full(len(ids), -np.inf)
        width[has] = iv.width
        order = np.lexsort((ids, -width))[:batch]
        scores = np.where(np.isfinite(width[order]), width[order], 0.0)
        lookup = dict(zip(np.flatnonzero(has).tolist(), range(int(has.sum())), strict=True))
        reasons = [
            f"{100 * iv.confidence:.0f}% interval {iv.low[lookup[p]]:.4g} .. "
            f"{iv.high[lookup[p]]:.4g} (width {width[p]:.4g})"
            if p in lookup
            else "no features"
            for p in order.tolist()
        ]
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    selection = st.Selection(chosen, order.astype(np.int64), scores.astype(np.float64), reasons)
    return Ranked(selection, ids[order], chosen, None, len(ids), len(y), notes)
