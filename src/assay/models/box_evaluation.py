"""Predicted boxes against a truth box layer, on any slice: COCO mean average precision,
precision-recall curves, and the false positives and false negatives behind them.

The metrics are COCO's (AP over IoU 0.5:0.95, AP at 0.5 and 0.75, AR with 100 detections per
image, per class, by object size), computed by ``faster-coco-eval`` (a maintained C++ port of
pycocotools' ``COCOeval`` that gives the same numbers, several times faster) from COCO dicts
built in memory from the two layers' current labels: writing our own AP would be one more
implementation to get subtly different from the one every paper reports.

Only images both layers label count (a prediction label ``[]`` means the model saw the image
and found nothing); the truth layer decides what is right. The false positives and false
negatives come from COCO's own matching at IoU 0.5 (greedy by score, class by class): a
prediction at or above ``score_threshold`` that matched no truth box of its class is a false
positive, a truth box no such prediction matched is a false negative, so the lists are exactly
the errors the AP at 0.5 counts. Each is explained by the boxes it overlaps (a duplicate, a
wrong class, poorly located, or nothing there) and a detection confusion matrix counts truth
class against predicted class, with a ``(none)`` row and column for the unmatched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import InvalidParameter
from assay.labels.kinds.boxes import match_boxes
from assay.store import filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = [
    "IOU",
    "NONE",
    "BoxEvaluationData",
    "box_source",
    "coco_dicts",
    "default_reference",
    "evaluate_boxes",
    "evaluate_source",
    "image_boxes",
    "is_box_layer",
    "load_boxes",
]

IOU = 0.5  # the IoU at which boxes match for the error lists, the confusion and the PR curves
NONE = "(none)"  # the confusion matrix's row and column of unmatched boxes
LOCATED = 0.1  # below this IoU a box overlapping nothing of its class is "background"
CHUNK = 5_000  # images read per query chunk


@dataclass
class BoxEvaluationData:
    """The images of a slice both layers label: item ids, keys and sizes, and their boxes
    (truth and predictions, as the layers hold them)."""

    item_ids: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    truth: list[list[dict[str, Any]]] = field(default_factory=list)
    predicted: list[list[dict[str, Any]]] = field(default_factory=list)


def is_box_layer(conn: Connection, dataset_id: int, name: str) -> bool:
    """True when layer ``name`` exists and holds boxes."""
    row = conn.execute(
        sa.select(t.layers.c.value_kind).where(
            t.layers.c.dataset_id == dataset_id, t.layers.c.name == name
        )
    ).first()
    return row is not None and row[0] == "boxes"


def box_source(conn: Connection, dataset_id: int, source: str) -> tuple[Any, str] | None:
    """(the run named ``source`` or None, the box layer it names) when ``source`` is a model
    run whose predictions are boxes or a box layer; None for anything else (classification,
    or an unknown name, which the classification path reports)."""
    r = t.model_runs.c
    run = conn.execute(
        sa.select(t.model_runs).where(r.dataset_id == dataset_id, r.name == source)
    ).first()
    if run is not None:
        if run.layer_id is None:
            return None
        layer = conn.execute(
            sa.select(t.layers.c.name, t.layers.c.value_kind).where(t.layers.c.id == run.layer_id)
        ).first()
        return (run, str(layer.name)) if layer is not None and layer.value_kind == "boxes" else None
    return (None, source) if is_box_layer(conn, dataset_id, source) else None


def default_reference(conn: Connection, dataset_id: int, predictions: str) -> str:
    """The box layer predictions are measured against when none is named: ``ground_truth``
    if it holds boxes, else the first human (not model) box layer nobody owns, else the first
    other box layer; InvalidParameter when there is none."""
    la = t.layers.c
    rows = conn.execute(
        sa.select(la.name, la.kind, la.owner)
        .where(la.dataset_id == dataset_id, la.value_kind == "boxes", la.name != predictions)
        .order_by(la.id)
    ).all()
    if not rows:
        raise InvalidParameter(
            f"No box layer to evaluate {predictions!r} against: import or draw the true boxes "
            "in a box layer first."
        )
    names = [r.name for r in rows]
    if "ground_truth" in names:
        return "ground_truth"
    best = min(rows, key=lambda r: (r.kind == "model", r.owner is not None))
    return str(best.name)


def _box_layer(conn: Connection, dataset_id: int, name: str, role: str) -> Any:
    row = queries.get_layer(conn, dataset_id, name)
    if row.value_kind != "boxes":
        raise InvalidParameter(
            f"Layer {name!r} holds {row.value_kind} labels, not boxes; the {role} of a box "
            "evaluation is a box layer."
        )
    return row


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _chunks(
    conn: Connection, dataset_id: int, truth_id: int, pred_id: int, filter: str | None
) -> Iterator[list[tuple[Any, ...]]]:
    """(item id, key, width, height, truth JSON, predictions JSON) of the images both layers
    label in the slice, in item-id chunks (flat memory while reading)."""
    i = t.items.c
    th, ph = t.label_heads.alias("th"), t.label_heads.alias("ph")
    tl, pl = t.labels.alias("tl"), t.labels.alias("pl")
    query = (
        sa.select(i.id, i.external_key, i.width, i.height, tl.c.value, pl.c.value)
        .select_from(
            t.items.join(th, sa.and_(th.c.item_id == i.id, th.c.layer_id == truth_id))
            .join(tl, tl.c.id == th.c.label_id)
            .join(ph, sa.and_(ph.c.item_id == i.id, ph.c.layer_id == pred_id))
            .join(pl, pl.c.id == ph.c.label_id)
        )
        .where(i.dataset_id == dataset_id, tl.c.value.is_not(None), pl.c.value.is_not(None))
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.where(where)
    yield from queries.iter_raw_chunks(conn, query, chunk_size=CHUNK)


def load_boxes(
    conn: Connection, dataset_id: int, truth: str, predictions: str, filter: str | None
) -> tuple[BoxEvaluationData, int]:
    """The images of the slice both layers label, and how many images of the slice have
    predictions but no truth label. Refuses predictions without a score (AP ranks by it),
    naming the item and the box."""
    truth_row = _box_layer(conn, dataset_id, truth, "truth (reference)")
    pred_row = _box_layer(conn, dataset_id, predictions, "predictions")
    if truth_row.id == pred_row.id:
        raise InvalidParameter(f"Layer {truth!r} cannot be evaluated against itself.")
    data = BoxEvaluationData()
    for rows in _chunks(conn, dataset_id, truth_row.id, pred_row.id, filter):
        for item_id, key, width, height, truth_value, pred_value in rows:
            preds = _json(pred_value)
            for box in preds:
                if box.get("score") is None:
                    raise InvalidParameter(
                        f"Layer {predictions!r} has boxes without a score (item {key!r}, box "
                        f"{box.get('id')}): mean average precision ranks predictions by their "
                        "confidence. Evaluate a model layer whose boxes carry a 'score' in [0, 1]."
                    )
            data.item_ids.append(int(item_id))
            data.keys.append(str(key))
            data.sizes.append((int(width or 0), int(height or 0)))
            data.truth.append(_json(truth_value))
            data.predicted.append(preds)
    h = t.label_heads.c
    only_pred = sa.select(h.item_id).where(h.layer_id == pred_row.id)
    has_truth = sa.select(h.item_id).where(h.layer_id == truth_row.id)
    count = (
        sa.select(sa.func.count())
        .select_from(t.items)
        .where(
            t.items.c.dataset_id == dataset_id,
            t.items.c.id.in_(only_pred),
            t.items.c.id.not_in(has_truth),
        )
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        count = count.where(where)
    return data, int(conn.execute(count).scalar_one())


def coco_dicts(
    data: BoxEvaluationData, classes: Sequence[str]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[tuple[int, int]], list[tuple[int, int]]]:
    """The COCO ground-truth dict and results list of ``data`` (image id = item id, category
    id = class position + 1, annotation ids from 1), with the (image index, box index) behind
    each truth annotation and each result, in order."""
    category = {name: k + 1 for k, name in enumerate(classes)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    truth_at: list[tuple[int, int]] = []
    pred_at: list[tuple[int, int]] = []
    for n, (item_id, (width, height)) in enumerate(zip(data.item_ids, data.sizes, strict=True)):
        images.append({"id": item_id, "width": width, "height": height})
        for b, box in enumerate(data.truth[n]):
            annotations.append({
                "id": len(annotations) + 1, "image_id": item_id,
                "category_id": category[box["class"]],
                "bbox": [box["x"], box["y"], box["w"], box["h"]],
                "area": box["w"] * box["h"], "iscrowd": 0,
            })  # fmt: skip
            truth_at.append((n, b))
        for b, box in enumerate(data.predicted[n]):
            results.append({
                "image_id": item_id, "category_id": category[box["class"]],
                "bbox": [box["x"], box["y"], box["w"], box["h"]], "score": float(box["score"]),
            })  # fmt: skip
            pred_at.append((n, b))
    gt = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": k, "name": name} for name, k in category.items()],
    }
    return gt, results, truth_at, pred_at


def _mean(values: np.ndarray) -> float | None:
    """COCO's summary of a slice of its precision/recall arrays: the mean of the defined
    entries (-1 marks a class without truth boxes), None when there is none."""
    kept = values[values > -1]
    return float(kept.mean()) if kept.size else None


def _coco_eval(gt: dict[str, Any], results: list[dict[str, Any]]) -> Any:
    """faster-coco-eval's COCOeval for boxes, evaluated and accumulated. Its C++ accumulation
    returns the matches at IoU 0.5 (``eval["matched"]``) without ``extra_calc``, which would
    only copy them onto every annotation dict (a second pass we do not need)."""
    from faster_coco_eval import COCO, COCOeval_faster

    def quiet(*args: Any, **kwargs: Any) -> None:
        del args, kwargs

    coco_gt = COCO(gt, print_function=quiet)
    ev = COCOeval_faster(coco_gt, _results(coco_gt, results, quiet), "bbox", print_function=quiet)
    ev.evaluate()
    ev.accumulate()
    return ev


def _results(coco_gt: Any, results: list[dict[str, Any]], quiet: Any) -> Any:
    """The detections as a COCO object: what ``COCO.loadRes`` makes of box results (ids from
    1 in order, area, not crowd), without the polygon it also draws for each box, which box
    IoU never reads."""
    from faster_coco_eval import COCO

    for n, r in enumerate(results, start=1):
        r.update(id=n, area=r["bbox"][2] * r["bbox"][3], iscrowd=0)
    dt = COCO(print_function=quiet)
    dt.dataset = {"images": list(coco_gt.dataset["images"]), "annotations": results,
                  "categories": list(coco_gt.dataset["categories"])}  # fmt: skip
    dt.createIndex()
    return dt


def evaluate_boxes(
    ds: Dataset,
    predictions: str,
    filter: str | None = None,
    *,
    reference_layer: str,
    score_threshold: float = 0.5,
    top_errors: int = 50,
    max_cell_items: int = 20,
) -> dict[str, Any]:
    """COCO metrics of box layer ``predictions`` against box layer ``reference_layer`` on the
    slice ``filter``, with PR curves at IoU 0.5 and the errors at ``score_threshold`` (JSON-able).

    Keys: ``map`` (AP@[.5:.95]), ``ap50``, ``ap75``, ``ar100``, ``ap_small/medium/large``
    (None where undefined), ``per_class`` (AP, AP50, AR100, truth and predicted boxes, TP/FP/FN
    at the threshold), ``pr_curves`` (precision at 101 recall points, overall and per class),
    ``at_threshold`` (TP, FP, FN, precision, recall, F1), ``confusion`` (truth class x
    predicted class, with ``(none)``), ``false_positives`` (most confident first) and
    ``false_negatives`` (the most confident overlapping prediction first), each with its item.
    """
    if not 0.0 <= score_threshold <= 1.0:
        raise InvalidParameter(f"score_threshold must be in [0, 1], not {score_threshold!r}.")
    if top_errors < 0:
        raise InvalidParameter(f"top_errors must be 0 or more, not {top_errors!r}.")
    with ds.store.read() as conn:
        classes = [c.name for c in queries.list_classes(conn, ds.id)]
        data, n_without_reference = load_boxes(conn, ds.id, reference_layer, predictions, filter)
    if not data.item_ids:
        raise InvalidParameter(
            f"No image of the slice has both boxes predicted in {predictions!r} and a label in "
            f"{reference_layer!r}; nothing to evaluate."
        )
    result = evaluate_data(
        data, classes, score_threshold=score_threshold, top_errors=top_errors,
        max_cell_items=max_cell_items,
    )  # fmt: skip
    result.update(
        kind="boxes", source=predictions, layer=predictions, reference_layer=reference_layer,
        filter=filter, n_without_reference=n_without_reference, warning=None,
    )  # fmt: skip
    return result


def evaluate_source(
    ds: Dataset,
    source: str,
    filter: str | None = None,
    *,
    reference_layer: str | None = None,
    score_threshold: float = 0.5,
    top_errors: int = 50,
    max_cell_items: int = 20,
) -> dict[str, Any]:
    """:func:`evaluate_boxes` of a box model run (its predictions layer) or a box layer.

    As for classification (``pipeline.evaluate``), the evaluation of a run's whole layer is
    stored with the run and read back until a label of either layer changes; slices are
    computed each time. ``reference_layer`` defaults to :func:`default_reference`.
    """
    from assay.models import runs

    with ds.store.read() as conn:
        found = box_source(conn, ds.id, source)
        if found is None:
            raise InvalidParameter(f"{source!r} is neither a box model run nor a box layer.")
        run, layer = found
        reference = reference_layer or default_reference(conn, ds.id, layer)
        stored: tuple[str, list[Any]] | None = None
        if run is not None and filter is None:
            key = orjson.dumps(["boxes", reference, score_threshold, top_errors, max_cell_items])
            stored = key.decode(), runs.layers_version(conn, ds.id, [layer, reference])
            saved = runs.saved_evaluation(conn, run.id, *stored)
            if saved is not None:
                return saved
    result = evaluate_boxes(
        ds, layer, filter, reference_layer=reference, score_threshold=score_threshold,
        top_errors=top_errors, max_cell_items=max_cell_items,
    )  # fmt: skip
    result["source"] = source
    if stored is not None and run is not None:
        runs.save_evaluation(ds, run.id, *stored, result)
    return result


def evaluate_data(
    data: BoxEvaluationData,
    classes: Sequence[str],
    *,
    score_threshold: float = 0.5,
    top_errors: int = 50,
    max_cell_items: int = 20,
) -> dict[str, Any]:
    """The metrics of :func:`evaluate_boxes` for boxes already loaded."""
    gt, results, truth_at, pred_at = coco_dicts(data, classes)
    ev = _coco_eval(gt, results)
    precision = np.asarray(ev.eval["precision"])  # [IoU, recall, class, area, maxDets]
    recall = np.asarray(ev.eval["recall"])  # [IoU, class, area, maxDets]
    p = ev.params
    i50 = int(np.argmin(np.abs(np.asarray(p.iouThrs) - 0.5)))
    i75 = int(np.argmin(np.abs(np.asarray(p.iouThrs) - 0.75)))
    area = {label: k for k, label in enumerate(p.areaRngLbl)}
    m = len(p.maxDets) - 1  # 100 detections per image
    a = area["all"]
    matched = _matches(ev.eval.get("matched") or {}, len(results))
    errors = _errors(data, truth_at, pred_at, matched, score_threshold)
    per_class = []
    n_truth = np.zeros(len(classes), dtype=np.int64)
    n_pred = np.zeros(len(classes), dtype=np.int64)
    index = {c: k for k, c in enumerate(classes)}
    for boxes in data.truth:
        for box in boxes:
            n_truth[index[box["class"]]] += 1
    for boxes in data.predicted:
        for box in boxes:
            n_pred[index[box["class"]]] += 1
    for k, name in enumerate(classes):
        tp, fp, fn = (int(errors["counts"][w].get(name, 0)) for w in ("tp", "fp", "fn"))
        per_class.append({
            "class": name,
            "ap": _mean(precision[:, :, k, a, m]), "ap50": _mean(precision[i50, :, k, a, m]),
            "ar100": _mean(recall[:, k, a, m]),
            "n_truth": int(n_truth[k]), "n_predicted": int(n_pred[k]),
            "tp": tp, "fp": fp, "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
        })  # fmt: skip
    tp, fp, fn = (sum(errors["counts"][w].values()) for w in ("tp", "fp", "fn"))
    return {
        "classes": list(classes),
        "n_images": len(data.item_ids),
        "n_truth_boxes": int(n_truth.sum()),
        "n_predicted_boxes": int(n_pred.sum()),
        "iou_threshold": IOU,
        "score_threshold": float(score_threshold),
        "map": _mean(precision[:, :, :, a, m]),
        "ap50": _mean(precision[i50, :, :, a, m]),
        "ap75": _mean(precision[i75, :, :, a, m]),
        "ar100": _mean(recall[:, :, a, m]),
        **{
            f"ap_{s}": _mean(precision[:, :, :, area[s], m])
            for s in ("small", "medium", "large")
            if s in area
        },
        "per_class": per_class,
        "pr_curves": _pr_curves(precision[i50, :, :, a, m], np.asarray(p.recThrs), classes),
        "at_threshold": {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        },
        "confusion": _confusion(errors["pairs"], classes, max_cell_items),
        "n_false_positives": len(errors["fp"]),
        "n_false_negatives": len(errors["fn"]),
        "false_positives": errors["fp"][:top_errors],
        "false_negatives": errors["fn"][:top_errors],
    }


def _matches(matched: dict[str, float], n_results: int) -> dict[int, int]:
    """COCO's matches at the lowest IoU threshold (0.5) as result index -> truth index (both
    from 0, in the order of :func:`coco_dicts`)."""
    out = {}
    for pair in matched:
        dt, gt = pair.split("_", 1)
        if 0 < int(dt) <= n_results:
            out[int(dt) - 1] = int(gt) - 1
    return out


def _pr_curves(
    precision: np.ndarray, rec_thrs: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Precision at COCO's 101 recall points at IoU 0.5: per class with truth boxes, and
    overall (the mean over those classes at each recall point, whose mean is AP50). COCO's
    interpolated precision is 0 past the highest recall a class reaches."""
    per_class = {}
    for k, name in enumerate(classes):
        column = precision[:, k]
        if (column > -1).any():
            per_class[name] = [round(float(v), 4) for v in np.clip(column, 0.0, None)]
    defined = precision[:, (precision > -1).any(axis=0)]
    overall = [round(float(v), 4) for v in defined.mean(axis=1)] if defined.size else []
    return {"iou": IOU, "recall": [round(float(r), 2) for r in rec_thrs], "overall": overall,
            "per_class": per_class}  # fmt: skip


def _box(box: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "class", "x", "y", "w", "h", "score")
    return {k: box[k] for k in keep if k in box}


def _errors(
    data: BoxEvaluationData,
    truth_at: list[tuple[int, int]],
    pred_at: list[tuple[int, int]],
    matched: dict[int, int],
    threshold: float,
) -> dict[str, Any]:
    """TP/FP/FN per class at ``threshold`` from COCO's matching (greedy by score, so the
    matches of the predictions at or above a threshold do not depend on those below it), the
    false positives and negatives explained by what they overlap, and the confusion pairs."""
    tp: dict[str, int] = defaultdict(int)
    fp_n: dict[str, int] = defaultdict(int)
    fn_n: dict[str, int] = defaultdict(int)
    hit_truth: set[int] = set()
    kept_pred: dict[int, list[int]] = defaultdict(list)  # image -> predictions kept
    fp_pred: dict[int, list[int]] = defaultdict(list)  # image -> unmatched kept predictions
    for r, (n, b) in enumerate(pred_at):
        box = data.predicted[n][b]
        if box["score"] < threshold:
            continue
        kept_pred[n].append(b)
        g = matched.get(r)
        if g is not None:
            hit_truth.add(g)
            tp[box["class"]] += 1
        else:
            fp_pred[n].append(b)
            fp_n[box["class"]] += 1
    fn_truth: dict[int, list[int]] = defaultdict(list)
    matched_truth: dict[int, set[int]] = defaultdict(set)
    for g, (n, b) in enumerate(truth_at):
        if g in hit_truth:
            matched_truth[n].add(b)
        else:
            fn_truth[n].append(b)
            fn_n[data.truth[n][b]["class"]] += 1
    fps: list[dict[str, Any]] = []
    fns: list[dict[str, Any]] = []
    pairs: list[tuple[str, str, int]] = []  # (truth class, predicted class, item id)
    for n in sorted(set(fp_pred) | set(fn_truth) | set(matched_truth)):
        truth = data.truth[n]
        preds = [data.predicted[n][b] for b in kept_pred.get(n, [])]
        item = {"item_id": data.item_ids[n], "key": data.keys[n]}
        for b in matched_truth.get(n, ()):
            pairs.append((truth[b]["class"], truth[b]["class"], data.item_ids[n]))
        fp_here = [data.predicted[n][b] for b in fp_pred.get(n, [])]
        fn_here = [truth[b] for b in fn_truth.get(n, [])]
        if not fp_here and not fn_here:
            continue
        for box in fp_here:
            fps.append({**item, **_explain_fp(box, truth, [_iou(box, b) for b in truth])})
        for box in fn_here:
            fns.append({**item, **_explain_fn(box, preds, [_iou(box, b) for b in preds])})
        # A leftover prediction over a leftover truth box of another class is a confusion
        # between classes (Hungarian matching, scipy via match_boxes); the rest are unmatched.
        pairs_here = match_boxes(fn_here, fp_here, min_iou=IOU)
        for i, j, _ in pairs_here:
            pairs.append((fn_here[i]["class"], fp_here[j]["class"], data.item_ids[n]))
        used_fn = {i for i, _, _ in pairs_here}
        used_fp = {j for _, j, _ in pairs_here}
        pairs += [(b["class"], NONE, data.item_ids[n]) for i, b in enumerate(fn_here)
                  if i not in used_fn]  # fmt: skip
        pairs += [(NONE, b["class"], data.item_ids[n]) for j, b in enumerate(fp_here)
                  if j not in used_fp]  # fmt: skip
    fps.sort(key=lambda e: (-e["box"]["score"], e["item_id"], e["box"]["id"]))
    fns.sort(key=lambda e: (-(e["prediction"] or {}).get("score", -1.0), e["item_id"],
                            e["box"]["id"]))  # fmt: skip
    return {
        "counts": {"tp": tp, "fp": fp_n, "fn": fn_n},
        "fp": fps,
        "fn": fns,
        "pairs": pairs,
    }


def _iou(a: dict[str, Any], b: dict[str, Any]) -> float:
    """IoU of two boxes. Plain Python: the error lists compare a box with the few others of its
    image, where numpy's per-call overhead (``iou_matrix``) costs more than the arithmetic."""
    w = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return float(inter / (a["w"] * a["h"] + b["w"] * b["h"] - inter))


def _explain_fp(
    box: dict[str, Any], truth: list[dict[str, Any]], ious: list[float]
) -> dict[str, Any]:
    """Why a prediction matched nothing: ``duplicate`` (its object was already matched by a
    more confident box), ``wrong class`` (over a truth box of another class), ``poorly
    located`` (near a truth box of its class) or ``background`` (nothing there)."""
    same = [k for k, b in enumerate(truth) if b["class"] == box["class"]]
    other = [k for k, b in enumerate(truth) if b["class"] != box["class"]]
    best_same = max(same, key=lambda k: ious[k], default=None)
    best_other = max(other, key=lambda k: ious[k], default=None)
    near: int | None
    if best_same is not None and ious[best_same] >= IOU:
        kind, near = "duplicate", best_same
    elif best_other is not None and ious[best_other] >= IOU:
        kind, near = "wrong class", best_other
    elif best_same is not None and ious[best_same] >= LOCATED:
        kind, near = "poorly located", best_same
    else:
        kind = "background"
        near = max(range(len(ious)), key=ious.__getitem__) if any(ious) else None
    found = None if near is None else {**_box(truth[near]), "iou": round(float(ious[near]), 4)}
    return {"box": _box(box), "class": box["class"], "score": box["score"], "kind": kind,
            "truth": found}  # fmt: skip


def _explain_fn(
    box: dict[str, Any], preds: list[dict[str, Any]], ious: list[float]
) -> dict[str, Any]:
    """Why a truth box was not found: ``wrong class`` (a prediction of another class covers
    it), ``poorly located`` (a prediction of its class is near) or ``missed``; with the
    best-overlapping prediction at or above the threshold, if any."""
    same = [k for k, b in enumerate(preds) if b["class"] == box["class"]]
    other = [k for k, b in enumerate(preds) if b["class"] != box["class"]]
    best_same = max(same, key=lambda k: ious[k], default=None)
    best_other = max(other, key=lambda k: ious[k], default=None)
    near: int | None
    if best_other is not None and ious[best_other] >= IOU:
        kind, near = "wrong class", best_other
    elif best_same is not None and ious[best_same] >= LOCATED:
        kind, near = "poorly located", best_same
    else:
        kind = "missed"
        near = max(range(len(ious)), key=ious.__getitem__) if any(ious) else None
    found = None if near is None else {**_box(preds[near]), "iou": round(float(ious[near]), 4)}
    return {"box": _box(box), "class": box["class"], "kind": kind, "prediction": found}


def _confusion(
    pairs: list[tuple[str, str, int]], classes: Sequence[str], max_cell_items: int
) -> dict[str, Any]:
    """Truth class (rows) against predicted class (columns) of the boxes at the threshold,
    ``(none)`` for a box the other side does not have; each non-empty cell with its first
    items."""
    names = [*classes, NONE]
    index = {c: k for k, c in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    items: dict[tuple[str, str], list[int]] = defaultdict(list)
    for true, pred, item_id in pairs:
        matrix[index[true], index[pred]] += 1
        cell = items[true, pred]
        if len(cell) < max_cell_items and item_id not in cell:
            cell.append(item_id)
    cells = [
        {"true": true, "pred": pred, "count": int(matrix[index[true], index[pred]]),
         "item_ids": sorted(ids)}
        for (true, pred), ids in sorted(items.items(), key=lambda kv: (index[kv[0][0]],
                                                                         index[kv[0][1]]))
    ]  # fmt: skip
    return {"classes": names, "matrix": matrix.tolist(), "cells": cells}


def image_boxes(
    ds: Dataset, truth: str, predictions: str, item_ids: Sequence[int]
) -> dict[int, dict[str, Any]]:
    """Per item id: its size and the current boxes of both layers (``truth``,
    ``predicted``): what the error lists draw over their thumbnails, in one query."""
    if not item_ids:
        return {}
    with ds.store.read() as conn:
        truth_id = queries.get_layer(conn, ds.id, truth).id
        pred_id = queries.get_layer(conn, ds.id, predictions).id
        h, lab, i = t.label_heads.c, t.labels.c, t.items.c
        rows = conn.execute(
            sa.select(i.id, i.width, i.height, h.layer_id, lab.value)
            .select_from(t.items.join(t.label_heads, h.item_id == i.id).join(
                t.labels, lab.id == h.label_id))
            .where(i.dataset_id == ds.id, i.id.in_(list(item_ids)),
                   h.layer_id.in_([truth_id, pred_id]))
        ).all()  # fmt: skip
    out: dict[int, dict[str, Any]] = {}
    for item_id, width, height, layer_id, value in rows:
        entry = out.setdefault(int(item_id), {"width": width, "height": height, "truth": [],
                                              "predicted": []})  # fmt: skip
        entry["truth" if layer_id == truth_id else "predicted"] = _json(value) or []
    return out
