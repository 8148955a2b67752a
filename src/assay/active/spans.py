"""Suggestions for span layers: token entropy of the built-in token classifier.

The token classifier (:mod:`assay.models.span_tagger`) learns BIO tags from the texts the
layer has annotated and gives every token of the texts it has not a tag distribution; a
text's uncertainty is the mean (``token-entropy``) or the largest (``max-token-entropy``)
entropy over its tokens: the texts the model is least sure how to mark come first.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from assay.active import strategies as st
from assay.active.pool import EmptyPool
from assay.active.ranking import Ranked
from assay.errors import InvalidParameter
from assay.labels.span_tokens import bio_classes, bio_tags, tokenize
from assay.store import filters, queries

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = ["FOR_SPANS", "rank_span_pool"]

FOR_SPANS = ("random", "token-entropy", "max-token-entropy")


def rank_span_pool(
    ds: Dataset, layer: str, *, strategy: str = "auto", batch: int = 20,
    filter: str | None = None, seed: int = 0,
) -> Ranked:  # fmt: skip
    """Rank the texts of the slice span layer ``layer`` has not annotated and pick ``batch``."""
    from assay.models.span_tagger import featurize, fit_predict, token_entropy
    from assay.stats.layer_scan import iter_layer_values

    notes: list[str] = []
    chosen = "token-entropy" if strategy == "auto" else strategy
    if chosen not in FOR_SPANS:
        raise InvalidParameter(
            f"Strategy {strategy!r} does not rank span layers: use auto, {', '.join(FOR_SPANS)}."
        )
    labeled: list[tuple[str, list[dict[str, Any]]]] = []
    pool: list[int] = []
    pool_texts: list[str] = []
    with ds.store.read() as conn:
        row = queries.get_layer(conn, ds.id, layer)
        if row.value_kind != "spans":
            raise InvalidParameter(f"Layer {layer!r} is not a span layer.")
        classes = [c.name for c in queries.list_classes(conn, ds.id)]
        where = filters.compile_filter(conn, ds.id, filter)
        for rows in iter_layer_values(
            conn, ds.id, int(row.id), where=where, item_columns=("text",)
        ):
            for item_id, text, value in rows:
                if value is None:
                    pool.append(int(item_id))
                    pool_texts.append(str(text or ""))
                else:
                    spans = orjson.loads(value) if isinstance(value, str | bytes) else value
                    labeled.append((str(text or ""), spans))
    if not pool:
        raise EmptyPool(
            f"Nothing left to suggest: all {len(labeled)} texts are annotated in span layer "
            f"{layer!r}. Pick another layer or a wider filter."
        )
    if batch > len(pool):
        notes.append(f"The batch ({batch}) is larger than the pool ({len(pool)}): all of it.")
        batch = len(pool)
    ids = np.asarray(pool, dtype=np.int64)
    if chosen != "random" and len(labeled) < 5:
        notes.append(f"Only {len(labeled)} texts are annotated: too few to learn from; random.")
        chosen = "random"
    if chosen == "random":
        order = np.random.default_rng(seed).permutation(len(ids))[:batch]
        scores = np.zeros(batch)
        reasons = ["random pick"] * batch
    else:
        train_tokens = [tokenize(t) for t, _ in labeled]
        tags = np.concatenate(
            [np.asarray(bio_tags(tk, s, classes), dtype=np.int64)
             for tk, (_, s) in zip(train_tokens, labeled, strict=True)] or [np.zeros(0, np.int64)]
        )  # fmt: skip
        pool_tokens = [tokenize(t) for t in pool_texts]
        names = bio_classes(classes)
        probs = fit_predict(
            featurize([t for t, _ in labeled], train_tokens), tags,
            featurize(pool_texts, pool_tokens), len(names), seed=seed,
        )  # fmt: skip
        ent = token_entropy(probs)
        bounds = np.cumsum([0, *(len(t) for t in pool_tokens)])
        per_text = [ent[bounds[k] : bounds[k + 1]] for k in range(len(pool))]
        agg = np.max if chosen == "max-token-entropy" else np.mean
        scores_all = np.array([float(agg(e)) if len(e) else 0.0 for e in per_text])
        order = np.lexsort((ids, -scores_all))[:batch]
        scores = scores_all[order]
        word = "max" if chosen == "max-token-entropy" else "mean"
        reasons = [f"{word} token entropy {scores_all[k]:.3f}" for k in order.tolist()]
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    selection = st.Selection(chosen, order.astype(np.int64), scores.astype(np.float64), reasons)
    return Ranked(selection, ids[order], chosen, None, len(pool), len(labeled), notes)
