"""Suggestions for a tag layer (multi-label): which items to tag next.

Each tag is a yes/no question, so the uncertainty of a tag is how close the model's P(tag
applies) is to 0.5: ``1 - |2p - 1|`` (1 at 0.5, 0 at 0 or 1; the margin between "yes" and
"no", turned around). ``tag-margin`` ranks the items not yet tagged by their most uncertain
tag (one doubtful tag is enough for a person to look), ``tag-mean-margin`` by the mean over
the tags; ``random`` picks at random.

The probabilities are those of a predictions layer of tags (``predictions``: a model layer
whose labels keep per-class probabilities, e.g. ``<layer>_oof`` of the label-quality check)
or, without one, of a one-vs-rest logistic regression fitted here on the tagged items'
features and applied to the untagged ones.
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

__all__ = ["FOR_TAGS", "rank_tag_pool", "tag_uncertainty"]

FOR_TAGS = ("random", "tag-margin", "tag-mean-margin")


def tag_uncertainty(probs: np.ndarray, strategy: str = "tag-margin") -> np.ndarray:
    """Per row of ``probs`` ((n, k) P(tag applies)): the uncertainty of its most uncertain
    tag (``tag-margin``) or the mean over its tags (``tag-mean-margin``), in [0, 1]."""
    per_tag = 1.0 - np.abs(2.0 * np.asarray(probs, dtype=np.float64) - 1.0)
    if per_tag.shape[1] == 0:
        return np.zeros(len(per_tag))
    return per_tag.max(axis=1) if strategy == "tag-margin" else per_tag.mean(axis=1)


def _fitted_probs(ds: Dataset, tagged: dict[int, list[str]], pool: list[int],
                  classes: list[str], seed: int) -> np.ndarray:  # fmt: skip
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from assay.models.features import featurize

    train = np.array(sorted(tagged), dtype=np.int64)
    ids = np.array(sorted(set(train.tolist()) | set(pool)), dtype=np.int64)
    feats = featurize(ds, item_ids=ids)
    X_train = feats.take(train).X.astype(np.float64)
    X_pool = feats.take(np.asarray(pool, dtype=np.int64)).X.astype(np.float64)
    index = {c: j for j, c in enumerate(classes)}
    Y = np.zeros((len(train), len(classes)), dtype=np.int8)
    for i, item_id in enumerate(train.tolist()):
        for tag in tagged[item_id]:
            Y[i, index[tag]] = 1
    out = np.tile(Y.mean(axis=0) if len(Y) else np.full(len(classes), 0.5), (len(pool), 1))
    varied = Y.min(axis=0) != Y.max(axis=0) if len(Y) else np.zeros(len(classes), bool)
    if varied.any():
        from threadpoolctl import threadpool_limits

        model = make_pipeline(
            StandardScaler(),
            OneVsRestClassifier(
                LogisticRegression(solver="liblinear", max_iter=1000, random_state=seed)
            ),
        )
        with threadpool_limits(1):  # small problems: one BLAS thread (see quality.tags)
            model.fit(X_train, Y[:, varied])
            found = model.predict_proba(X_pool)
        # One varied tag is a binary problem: scikit-learn gives (no, yes) columns.
        out[:, varied] = found[:, -1:] if varied.sum() == 1 else found
    return out


def rank_tag_pool(
    ds: Dataset,
    layer: str,
    *,
    strategy: str = "auto",
    predictions: str | None = None,
    batch: int = 20,
    filter: str | None = None,
    seed: int = 0,
) -> Ranked:
    """Rank the items of the slice ``filter`` that tag layer ``layer`` has not tagged and
    pick ``batch`` of them (see the module doc). EmptyPool when every item is tagged;
    InvalidParameter for a layer that is not a tag layer or a strategy that does not fit."""
    from assay.models.tag_evaluation import load_tag_probs
    from assay.store import schema as t

    notes: list[str] = []
    with ds.store.read() as conn:
        row = queries.get_layer(conn, ds.id, layer)
        if row.value_kind != "tags":
            raise InvalidParameter(f"Layer {layer!r} is not a tag layer.")
        if strategy not in ("auto", *FOR_TAGS):
            raise InvalidParameter(
                f"Strategy {strategy!r} does not rank tag layers: use auto, {', '.join(FOR_TAGS)}."
            )
        chosen = "tag-margin" if strategy == "auto" else strategy
        classes, tagged, _ = load_tag_probs(conn, ds.id, layer, filter)
        query = (
            t.items.select().with_only_columns(t.items.c.id).where(t.items.c.dataset_id == ds.id)
        )
        where = filters.compile_filter(conn, ds.id, filter)
        if where is not None:
            query = query.where(where)
        pool = [int(i) for (i,) in conn.execute(query.order_by(t.items.c.id)) if i not in tagged]
        predicted: dict[int, list[float]] = {}
        if chosen != "random" and predictions is not None:
            _, _, predicted = load_tag_probs(conn, ds.id, predictions, filter)
    if not pool:
        raise EmptyPool(
            f"Nothing left to suggest: all {len(tagged)} items are tagged in layer {layer!r}. "
            "Pick another layer or a wider filter."
        )
    if batch > len(pool):
        notes.append(
            f"The batch ({batch}) is larger than the pool of items not tagged ({len(pool)}): "
            f"suggesting all {len(pool)}."
        )
        batch = len(pool)
    ids = np.asarray(pool, dtype=np.int64)
    model = None
    if chosen == "random":
        order = np.random.default_rng(seed).permutation(len(ids))[:batch]
        scores = np.zeros(batch)
        reasons = ["random pick"] * batch
    else:
        if predictions is not None:
            model = predictions
            has = np.array([i in predicted for i in pool])
            probs = np.array([predicted.get(i, [0.0] * len(classes)) for i in pool], dtype=float)
            if (~has).any():
                notes.append(
                    f"{int((~has).sum())} of the {len(pool)} items not tagged have no tag "
                    f"probabilities in layer {predictions!r}: they come last, by id."
                )
        else:
            model = "one-vs-rest logistic regression"
            has = np.ones(len(pool), dtype=bool)
            probs = _fitted_probs(ds, tagged, pool, classes, seed)
        score_all = np.where(has, tag_uncertainty(probs, chosen), 0.0)
        order = np.lexsort((ids, -score_all, ~has))[:batch]
        scores = score_all[order]
        reasons = []
        for p in order.tolist():
            if not has[p]:
                reasons.append(f"no tag probabilities in layer {predictions!r}")
                continue
            k = int(np.argmin(np.abs(probs[p] - 0.5))) if len(classes) else 0
            reasons.append(
                f"tag {classes[k]!r} at {probs[p, k]:.0%}" if classes else "no tags to predict"
            )
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    selection = st.Selection(chosen, order.astype(np.int64), scores.astype(np.float64), reasons)
    return Ranked(selection, ids[order], chosen, model, len(pool), len(tagged), notes)
