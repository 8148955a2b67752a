"""Predicted spans against a truth span layer, on any slice: entity-level precision, recall
and F1 per class, micro and macro, strict (exact boundaries and class) and partial (an
overlap of the same class), and the errors behind them.

The definitions are seqeval's strict entity scores and nervaluate's "partial" scheme; they are
computed here on character offsets (seqeval scores token BIO tags and would first need every
text tokenized and every span snapped to tokens; nervaluate expands each entity into the
positions it covers): one matching per text (:func:`assay.labels.span_agreement.match_spans`,
partial: the longest overlaps first) classifies every prediction and truth span as

* ``correct`` (same start, end and class), ``wrong_class`` (same stretch, another class),
  ``wrong_boundary`` (overlapping, same class, other edges), ``wrong_class_and_boundary``,
* ``spurious`` (a predicted span overlapping no truth span) and ``missed`` (a truth span no
  prediction overlaps).

Only texts both layers label count (``[]`` = the model read the text and found nothing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.labels.span_agreement import match_spans
from assay.store import filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = ["ERROR_KINDS", "evaluate_source", "evaluate_spans", "load_span_layers", "text_errors"]

ERROR_KINDS = ("missed", "spurious", "wrong_class", "wrong_boundary", "wrong_class_and_boundary")


def load_span_layers(
    ds: Dataset, layers: Sequence[str], filter: str | None = None
) -> tuple[dict[int, str], dict[str, dict[int, list[dict[str, Any]]]]]:
    """The texts (item id -> text) any of ``layers`` labels in the slice, and each layer's
    current spans (layer -> item id -> spans); InvalidParameter for a layer not of spans."""
    h, lab, i = t.label_heads.c, t.labels.c, t.items.c
    texts: dict[int, str] = {}
    values: dict[str, dict[int, list[dict[str, Any]]]] = {}
    with ds.store.read() as conn:
        where = filters.compile_filter(conn, ds.id, filter)
        for name in layers:
            row = queries.get_layer(conn, ds.id, name)
            if row.value_kind != "spans":
                raise InvalidParameter(f"Layer {name!r} holds {row.value_kind} labels, not spans.")
            query = (
                sa.select(i.id, i.text, lab.value)
                .select_from(
                    t.label_heads.join(t.labels, t.labels.c.id == h.label_id).join(
                        t.items, t.items.c.id == h.item_id
                    )
                )
                .where(h.layer_id == row.id, lab.value.is_not(None))
            )
            if where is not None:
                query = query.where(where)
            per: dict[int, list[dict[str, Any]]] = {}
            for item_id, text, value in conn.execute(query):
                per[int(item_id)] = orjson.loads(value) if isinstance(value, str | bytes) else value
                texts[int(item_id)] = str(text or "")
            values[name] = per
    return texts, values


def text_errors(
    truth: Sequence[dict[str, Any]], pred: Sequence[dict[str, Any]]
) -> tuple[list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]], int]:
    """Every error of one text as (kind, truth span or None, predicted span or None), and the
    number of correct predictions."""
    pairs = match_spans(truth, pred, partial=True)
    out: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = []
    correct = 0
    for i, j in pairs:
        x, y = truth[i], pred[j]
        same_bounds = (x["start"], x["end"]) == (y["start"], y["end"])
        same_class = x["class"] == y["class"]
        if same_bounds and same_class:
            correct += 1
            continue
        kind = ("wrong_class" if same_bounds else
                "wrong_boundary" if same_class else "wrong_class_and_boundary")  # fmt: skip
        out.append((kind, dict(x), dict(y)))
    ti = {i for i, _ in pairs}
    pj = {j for _, j in pairs}
    out += [("missed", dict(s), None) for i, s in enumerate(truth) if i not in ti]
    out += [("spurious", None, dict(s)) for j, s in enumerate(pred) if j not in pj]
    return out, correct


def _prf(tp: int, n_pred: int, n_true: int) -> dict[str, float | None]:
    p = tp / n_pred if n_pred else None
    r = tp / n_true if n_true else None
    f = 2 * tp / (n_pred + n_true) if n_pred + n_true else None
    return {"precision": p, "recall": r, "f1": f, "support": n_true}


def evaluate_spans(
    ds: Dataset, predictions: str, reference: str, filter: str | None = None, *,
    top_errors: int = 50,
) -> dict[str, Any]:  # fmt: skip
    """The report (see the module doc): ``strict`` and ``partial`` per class, micro, macro;
    ``error_counts`` by kind; ``errors``: the first ``top_errors`` with their text."""
    texts, values = load_span_layers(ds, [predictions, reference], filter)
    pred, truth = values[predictions], values[reference]
    items = sorted(set(pred) & set(truth))
    tp = {"strict": Counter[str](), "partial": Counter[str]()}
    n_pred: Counter[str] = Counter()
    n_true: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    errors: list[dict[str, Any]] = []
    for item in items:
        t_spans, p_spans = truth[item], pred[item]
        n_true.update(s["class"] for s in t_spans)
        n_pred.update(s["class"] for s in p_spans)
        found, _ = text_errors(t_spans, p_spans)
        for i, j in match_spans(t_spans, p_spans, partial=True):
            x, y = t_spans[i], p_spans[j]
            if x["class"] == y["class"]:
                tp["partial"][x["class"]] += 1
                if (x["start"], x["end"]) == (y["start"], y["end"]):
                    tp["strict"][x["class"]] += 1
        for kind, was, said in found:
            counts[kind] += 1
            if len(errors) < top_errors:
                text = texts[item]
                for shown in (was, said):
                    if shown is not None:
                        shown["text"] = text[shown["start"] : shown["end"]]
                errors.append({"item_id": item, "kind": kind, "truth": was, "predicted": said})
    classes = sorted(set(n_true) | set(n_pred))
    report: dict[str, Any] = {
        "kind": "spans",
        "predictions": predictions,
        "reference_layer": reference,
        "filter": filter,
        "n_texts": len(items),
        "n_true": sum(n_true.values()),
        "n_predicted": sum(n_pred.values()),
        "classes": classes,
        "error_counts": {k: counts[k] for k in ERROR_KINDS},
        "errors": errors,
    }
    for mode in ("strict", "partial"):
        per = {c: _prf(tp[mode][c], n_pred[c], n_true[c]) for c in classes}
        f1s = [v["f1"] for v in per.values() if v["f1"] is not None]
        report[mode] = {
            "per_class": per,
            "micro": _prf(sum(tp[mode].values()), sum(n_pred.values()), sum(n_true.values())),
            "macro_f1": sum(f1s) / len(f1s) if f1s else None,
        }
    return report


def default_reference(ds: Dataset, predictions: str) -> str:
    """``ground_truth`` if it holds spans, else the first human span layer nobody owns, else
    the first other span layer."""
    la = t.layers.c
    with ds.store.read() as conn:
        rows = conn.execute(
            sa.select(la.name, la.kind, la.owner)
            .where(la.dataset_id == ds.id, la.value_kind == "spans", la.name != predictions)
            .order_by(la.id)
        ).all()
    if not rows:
        raise InvalidParameter(f"No span layer to evaluate {predictions!r} against.")
    if "ground_truth" in [r.name for r in rows]:
        return "ground_truth"
    return str(min(rows, key=lambda r: (r.kind == "model", r.owner is not None)).name)


def evaluate_source(
    ds: Dataset, source: str, filter: str | None = None, *,
    reference_layer: str | None = None, top_errors: int = 50, **options: Any,
) -> dict[str, Any]:  # fmt: skip
    """:func:`evaluate_spans` of a model run's span layer or a span layer ``source``."""
    del options
    r = t.model_runs.c
    layer = source
    with ds.store.read() as conn:
        run = conn.execute(
            sa.select(r.layer_id).where(r.dataset_id == ds.id, r.name == source)
        ).first()
        if run is not None and run.layer_id is not None:
            layer = str(
                conn.execute(sa.select(t.layers.c.name).where(t.layers.c.id == run.layer_id))
                .scalar()
            )  # fmt: skip
    reference = reference_layer or default_reference(ds, layer)
    result = evaluate_spans(ds, layer, reference, filter, top_errors=top_errors)
    result["source"] = source
    return result
