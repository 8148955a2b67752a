"""Likely mislabeled boxes: the ``boxes`` family of label-quality checks (cleanlab ObjectLab).

A box layer's labels are checked against a layer of predicted boxes (a model layer whose boxes
carry a ``score``: out-of-fold predictions from ``assay predict --cv``, or imported COCO
results). Per image, cleanlab's ``object_detection`` scores three kinds of label error and a
label quality for the image (low = likely wrong):

* **swapped**: a labeled box whose class disagrees with a confident overlapping prediction of
  another class; the suggestion is the predicted class;
* **badly located**: a labeled box that overlaps the prediction of its class poorly; the
  suggestion is the predicted box;
* **overlooked**: a confident predicted box no labeled box overlaps: an object nobody boxed.

cleanlab's ``find_label_issues`` only says which images hold an issue; the per-box scores
behind it (``compute_*_box_scores``) are computed here once (cleanlab's functions), so every
flagged image also names its suspect boxes (what a reviewer fixes); with the ``cleanlab``
method the image flags are exactly cleanlab's (``tests/boxes/test_box_issues.py`` checks it).

The methods (``assay issues --method``), compared on ``benchmarks/bench_box_issues.py``:

* ``assay`` (the default): cleanlab's per-box scores with thresholds of its own: a swap is a
  prediction of another class, at least 0.8 sure and surer than any of the box's own class,
  overlapping the box (swap score <= 0.5, about IoU >= 0.5); a bad location a box whose
  best prediction of its class overlaps it at under 0.75 of the median over the dataset's
  matched boxes (relative, so a detector whose boxes are all a little off does not flag every
  box); an overlooked object a prediction at least 0.8 sure that no labeled box touches
  (cleanlab's per-class threshold x 1.0). On simulated scenes it finds 9 of 10 swaps and
  missed boxes and 7 of 10 shifted boxes at a box precision of 0.99; cleanlab's own
  thresholds find a quarter of the erroneous images and no shifted box;
* ``cleanlab``: cleanlab's thresholds as its ``find_label_issues`` applies them (0.95-sure
  predictions; per-box score under 0.8 x a quarter of the class's AP): the same images as
  that function, with the boxes named;
* ``cleanlab_wide``: cleanlab's thresholds with 0.8-sure predictions and the factor 1.0.

Images are scored in chunks of :data:`CHUNK_IMAGES` (cleanlab's dataset-wide statistics, the
per-class AP and the smallest similarity, are those of the chunk), and read from the store in
chunks, so memory stays bounded on large sets.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.labels.kinds.boxes import box_array

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from assay.handle import DatasetHandle as Dataset
    from assay.progress import ProgressCallback

__all__ = [
    "BOX_METHODS",
    "DEFAULT_BOX_METHOD",
    "BoxIssues",
    "BoxParams",
    "check_box_method",
    "find_box_issues",
    "summary_text",
    "to_cleanlab",
]

#: Images scored by one call of cleanlab (its per-class AP and smallest similarity are
#: computed over them): large enough for stable per-class statistics, small enough to bound
#: memory.
CHUNK_IMAGES = 20_000
READ_CHUNK = 2_000
KINDS = ("swapped", "badly_located", "overlooked")
ACCEPT = "accept"  # the "label" a reviewer gives to accept a box case's suggested fixes


@dataclass(frozen=True)
class BoxParams:
    """cleanlab's parameters that a method may change (its defaults otherwise)."""

    high_probability: float | None = None  # confident prediction, for swaps and overlooked
    low_probability: float | None = None  # predictions considered for bad locations
    threshold_factor: float = 0.8  # cleanlab's {OVERLOOKED,BADLOC,SWAP}_THRESHOLD_FACTOR
    # A swap: swap score at most this (None: cleanlab's per-class threshold); 0.5 is a
    # confident prediction of another class overlapping the box at IoU >= ~0.5.
    swap_max: float | None = None
    # ... and only if that prediction is more confident than any of the box's own class
    # overlapping it (a detector's runner-up class is not a swap).
    swap_beats_own: bool = False
    # A bad location: badly-located score below this share of the median score of the
    # boxes a prediction of their class overlaps (None: cleanlab's per-class threshold).
    # Relative, so a detector whose boxes are all a little off does not flag every box.
    badloc_relative: float | None = None


BOX_METHODS: dict[str, BoxParams] = {
    "cleanlab": BoxParams(),
    "cleanlab_wide": BoxParams(high_probability=0.8, threshold_factor=1.0),
    "assay": BoxParams(
        high_probability=0.8,
        threshold_factor=1.0,
        swap_max=0.5,
        swap_beats_own=True,
        badloc_relative=0.75,
    ),
}
# Chosen on benchmarks/bench_box_issues.py (see the module doc).
DEFAULT_BOX_METHOD = "assay"


def check_box_method(name: str) -> str:
    """``name`` if it is a box method, else InvalidParameter listing them."""
    if name not in BOX_METHODS:
        raise InvalidParameter(
            f"Unknown label-issue method {name!r} for box layers; use one of "
            f"{DEFAULT_BOX_METHOD} (the default), "
            f"{', '.join(m for m in BOX_METHODS if m != DEFAULT_BOX_METHOD)}."
        )
    return name


@dataclass
class BoxIssues:
    """Per image (in the order given): label quality, whether flagged, the suspect boxes."""

    quality: np.ndarray  # float64 in [0, 1]; low = likely wrong (cleanlab's image score)
    is_issue: np.ndarray  # bool
    suspects: list[list[dict[str, Any]]] = field(default_factory=list)
    method: str = DEFAULT_BOX_METHOD


# ------------------------------------------------------------------------------------------
# Arrays: no store
# ------------------------------------------------------------------------------------------
def to_cleanlab(
    labels: Sequence[Sequence[Mapping[str, Any]]],
    predictions: Sequence[Sequence[Mapping[str, Any]]],
    classes: Sequence[str],
) -> tuple[list[dict[str, np.ndarray]], list[list[np.ndarray]], list[np.ndarray]]:
    """Box sets in cleanlab's formats: ``labels[i] = {"bboxes": (n, 4) x1y1x2y2, "labels":
    (n,)}``, ``predictions[i]`` one (k_c, 5) array ``[x1, y1, x2, y2, score]`` per class; and
    per image the order of the predicted boxes as cleanlab flattens them (by class), as
    indices into the given list."""
    code = {name: k for k, name in enumerate(classes)}
    lab_out: list[dict[str, np.ndarray]] = []
    pred_out: list[list[np.ndarray]] = []
    orders: list[np.ndarray] = []
    for i, (given, predicted) in enumerate(zip(labels, predictions, strict=True)):
        try:
            lab_codes = np.array([code[b["class"]] for b in given], dtype=np.int64)
            pred_codes = np.array([code[b["class"]] for b in predicted], dtype=np.int64)
        except KeyError as exc:
            raise InvalidParameter(f"Image {i}: unknown class {exc.args[0]!r}.") from None
        lab_out.append({"bboxes": box_array(given).reshape(-1, 4), "labels": lab_codes})
        corners = box_array(predicted).reshape(-1, 4)
        scores = np.array([_score(b, i) for b in predicted], dtype=np.float64)
        rows = np.hstack([corners, scores[:, None]]) if len(predicted) else np.zeros((0, 5))
        order = np.argsort(pred_codes, kind="stable") if len(predicted) else np.zeros(0, int)
        pred_out.append([rows[pred_codes == k].reshape(-1, 5) for k in range(len(classes))])
        orders.append(order.astype(np.int64))
    return lab_out, pred_out, orders


def _score(box: Mapping[str, Any], image: int) -> float:
    score = box.get("score")
    if score is None:
        raise InvalidParameter(
            f"Image {image}: predicted box {box.get('id')} has no score; the predictions "
            "layer must hold a model's boxes with their scores."
        )
    return float(score)


def find_box_issues(
    labels: Sequence[Sequence[Mapping[str, Any]]],
    predictions: Sequence[Sequence[Mapping[str, Any]]],
    classes: Sequence[str],
    method: str = DEFAULT_BOX_METHOD,
) -> BoxIssues:
    """Score and flag every image, naming its suspect boxes (see the module doc).

    ``labels[i]`` and ``predictions[i]`` are the box sets (as a box layer stores them) of
    image ``i``; predicted boxes carry a ``score``. Each suspect is a dict: ``kind``
    (swapped, badly_located, overlooked), ``score`` (cleanlab's per-box score, low = likely),
    ``box`` (the labeled box's id; None for overlooked), ``class`` (the labeled class),
    ``suggested`` (the class it should have), ``p`` (the prediction's score) and ``pred``
    (the predicted box: x, y, w, h, class, score). Images are scored in chunks of
    :data:`CHUNK_IMAGES`.
    """
    params = BOX_METHODS[check_box_method(method)]
    if len(labels) != len(predictions):
        raise InvalidParameter(
            f"labels and predictions need one box set per image: {len(labels)} and "
            f"{len(predictions)}."
        )
    if len(classes) < 1:
        raise InvalidParameter("Box label quality needs the dataset's classes.")
    quality = np.ones(len(labels), dtype=np.float64)
    flags = np.zeros(len(labels), dtype=bool)
    suspects: list[list[dict[str, Any]]] = []
    for start in range(0, len(labels), CHUNK_IMAGES):
        stop = min(start + CHUNK_IMAGES, len(labels))
        q, f, s = _score_chunk(labels[start:stop], predictions[start:stop], classes, params)
        quality[start:stop], flags[start:stop] = q, f
        suspects.extend(s)
    return BoxIssues(quality, flags, suspects, method)


class _SerialPool:
    """Stands in for the ``multiprocessing.Pool`` cleanlab's object-detection helpers open on
    every call (one worker process by default) and do not shut down: its worker and three
    handler threads outlived the call, and a threaded process may no longer fork
    (assay.processes), which cost every later import its writer process. The same work, run
    here, one task after another (what one worker process did)."""

    def __init__(self, processes: int | None = None, *args: Any, **kwargs: Any) -> None:
        del processes, args, kwargs

    def starmap(self, fn: Any, iterable: Any) -> list[Any]:
        return [fn(*args) for args in iterable]

    def map(self, fn: Any, iterable: Any) -> list[Any]:
        return [fn(x) for x in iterable]

    def close(self) -> None:
        pass

    def terminate(self) -> None:
        pass

    def join(self) -> None:
        pass


def cleanlab_od() -> tuple[Any, Any]:
    """cleanlab's object-detection ``filter`` and ``rank`` modules, their pools made serial
    (:class:`_SerialPool`; the results are the same). Call it before using them directly."""
    from cleanlab.object_detection import filter as clf
    from cleanlab.object_detection import rank, summary

    for module in (clf, summary):
        module.Pool = _SerialPool  # type: ignore[attr-defined]
    return clf, rank


def _score_chunk(
    labels: Sequence[Sequence[Mapping[str, Any]]],
    predictions: Sequence[Sequence[Mapping[str, Any]]],
    classes: Sequence[str],
    params: BoxParams,
) -> tuple[np.ndarray, np.ndarray, list[list[dict[str, Any]]]]:
    """cleanlab's per-box scores, thresholds and image scores for one chunk of images.

    The steps of ``cleanlab.object_detection.filter.find_label_issues`` and
    ``rank.get_label_quality_scores``, run once on shared inputs (cleanlab would compute the
    similarity matrices twice) and kept per box: cleanlab returns only image flags. The
    per-class thresholds come from cleanlab's own (private) ``_get_per_class_ap`` so that
    they stay the same as its ``find_label_issues``.
    """
    from cleanlab.internal import constants as c

    clf, rank = cleanlab_od()

    n = len(labels)
    if n == 0:
        return np.zeros(0), np.zeros(0, bool), []
    lab, pred, orders = to_cleanlab(labels, predictions, classes)
    high = (
        c.HIGH_PROBABILITY_THRESHOLD if params.high_probability is None else params.high_probability
    )
    low = c.LOW_PROBABILITY_THRESHOLD if params.low_probability is None else params.low_probability
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cleanlab's empty-array means
        aux = rank._get_valid_inputs_for_compute_scores(c.ALPHA, lab, pred)
        overlooked = rank.compute_overlooked_box_scores(
            alpha=c.ALPHA, high_probability_threshold=high, auxiliary_inputs=aux
        )
        badloc = rank.compute_badloc_box_scores(
            alpha=c.ALPHA, low_probability_threshold=low, auxiliary_inputs=aux
        )
        swap = rank.compute_swap_box_scores(
            alpha=c.ALPHA, high_probability_threshold=high, auxiliary_inputs=aux
        )
        per_class_ap = clf._get_per_class_ap(lab, pred)
    # The image score, as rank.get_label_quality_scores pools it (softmin per subtype, then
    # a weighted geometric mean).
    weights = rank._get_aggregation_weights(None)
    pooled = {
        "overlooked": rank.pool_box_scores_per_image([s.copy() for s in overlooked]),
        "badloc": rank.pool_box_scores_per_image([s.copy() for s in badloc]),
        "swap": rank.pool_box_scores_per_image([s.copy() for s in swap]),
    }
    quality = np.exp(sum(weights[k] * np.log(c.TINY_VALUE + v) for k, v in pooled.items()))
    flags = np.zeros(n, dtype=bool)
    suspects: list[list[dict[str, Any]]] = []
    factor = params.threshold_factor
    badloc_cut = None
    if params.badloc_relative is not None:
        matched = np.concatenate([b[b < 1.0] for b in badloc] or [np.zeros(0)])
        badloc_cut = params.badloc_relative * float(np.median(matched)) if len(matched) else 0.0
    for i in range(n):
        a = aux[i]
        found: list[dict[str, Any]] = []
        lab_codes = a["lab_labels"]
        pred_codes, pred_p = a["pred_labels"], a["pred_label_probs"]
        sim = a["similarity_matrix"]
        for k, score in enumerate(swap[i]):
            cut = per_class_ap[int(lab_codes[k])] * factor
            cut = cut if params.swap_max is None else params.swap_max
            if _below(score, cut):
                other = np.flatnonzero((pred_codes != lab_codes[k]) & (pred_p > high))
                best = int(other[np.argmax(sim[k, other])]) if len(other) else None
                if params.swap_beats_own and best is not None:
                    own = (pred_codes == lab_codes[k]) & (a["iou_matrix"][k] > 0)
                    if own.any() and pred_p[own].max() >= pred_p[best]:
                        continue
                found.append(_suspect("swapped", score, labels[i][k], best, predictions[i],
                                      orders[i], classes, pred_codes, pred_p))  # fmt: skip
        for k, score in enumerate(badloc[i]):
            cut = per_class_ap[int(lab_codes[k])] * factor
            cut = cut if badloc_cut is None else badloc_cut
            if _below(score, cut):
                mine = np.flatnonzero(
                    (pred_codes == lab_codes[k]) & (pred_p > low) & (a["iou_matrix"][k] > 0)
                )
                best = int(mine[np.argmax(sim[k, mine])]) if len(mine) else None
                found.append(_suspect("badly_located", score, labels[i][k], best, predictions[i],
                                      orders[i], classes, pred_codes, pred_p))  # fmt: skip
        for j, score in enumerate(overlooked[i]):
            if _below(score, per_class_ap[int(pred_codes[j])] * factor):
                found.append(_suspect("overlooked", score, None, j, predictions[i], orders[i],
                                      classes, pred_codes, pred_p))  # fmt: skip
        found.sort(key=lambda s: s["score"])
        flags[i] = bool(found)
        suspects.append(found)
    return np.clip(np.asarray(quality, np.float64), 0.0, 1.0), flags, suspects


def _below(score: float, threshold: float) -> bool:
    """A per-box issue, as cleanlab decides it (a NaN score, no applicable box, is none)."""
    return not math.isnan(float(score)) and float(score) <= threshold


def _suspect(
    kind: str,
    score: float,
    box: Mapping[str, Any] | None,
    flat: int | None,
    predicted: Sequence[Mapping[str, Any]],
    order: np.ndarray,
    classes: Sequence[str],
    pred_codes: np.ndarray,
    pred_p: np.ndarray,
) -> dict[str, Any]:
    pred: dict[str, Any] | None = None
    if flat is not None:
        original = predicted[int(order[flat])]
        pred = {
            "x": float(original["x"]), "y": float(original["y"]),
            "w": float(original["w"]), "h": float(original["h"]),
            "class": classes[int(pred_codes[flat])], "score": float(pred_p[flat]),
        }  # fmt: skip
    return {
        "kind": kind,
        "score": round(float(score), 6),
        "box": None if box is None else box.get("id"),
        "class": None if box is None else box["class"],
        "suggested": None if pred is None else pred["class"],
        "p": None if pred is None else round(pred["score"], 4),
        "pred": pred,
    }


def summary_text(suspects: Sequence[Mapping[str, Any]]) -> str:
    """What a reviewer reads: ``box 3: 7 looks like 1 (p=0.94); box 2 (4) badly located;
    an unlabeled 4 at (10, 20) (p=0.97)``."""
    parts = []
    for s in suspects:
        p = "" if s.get("p") is None else f" (p={s['p']:.2f})"
        if s["kind"] == "swapped":
            looks = f" looks like {s['suggested']}" if s.get("suggested") else " may be wrong"
            parts.append(f"box {s['box']}: {s['class']}{looks}{p}")
        elif s["kind"] == "badly_located":
            parts.append(f"box {s['box']} ({s['class']}) badly located{p}")
        else:
            pred = s["pred"] or {}
            parts.append(
                f"an unlabeled {s['suggested']} at ({pred.get('x', 0):.0f}, "
                f"{pred.get('y', 0):.0f}){p}"
            )
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------
# The store
# ------------------------------------------------------------------------------------------
@dataclass
class _Read:
    item_ids: list[int] = field(default_factory=list)
    label_ids: list[int] = field(default_factory=list)
    labels: list[list[dict[str, Any]]] = field(default_factory=list)
    predictions: list[list[dict[str, Any]]] = field(default_factory=list)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def iter_pairs(
    conn: Connection, dataset_id: int, layer_id: int, pred_id: int, filter: str | None
) -> Iterator[list[tuple[Any, ...]]]:
    """(item id, label id, boxes, predicted boxes) of the images both layers have a box set
    for (``filter``'s slice), streamed in chunks."""
    from assay.store import filters, queries
    from assay.store import schema as t

    h1, h2 = t.label_heads.alias("given"), t.label_heads.alias("pred")
    l1, l2 = t.labels.alias("given_label"), t.labels.alias("pred_label")
    query = (
        sa.select(h1.c.item_id, l1.c.id, l1.c.value, l2.c.value)
        .select_from(h1)
        .join(h2, sa.and_(h2.c.item_id == h1.c.item_id, h2.c.layer_id == pred_id))
        .join(l1, l1.c.id == h1.c.label_id)
        .join(l2, l2.c.id == h2.c.label_id)
        .where(h1.c.layer_id == layer_id, l1.c.value.is_not(None), l2.c.value.is_not(None))
        .order_by(h1.c.item_id)
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.join(t.items, t.items.c.id == h1.c.item_id).where(where)
    yield from queries.iter_tuples(conn, query, READ_CHUNK)


def _chunks(
    conn: Connection, dataset_id: int, layer: Row[Any], pred: Row[Any], filter: str | None
) -> Iterator[_Read]:
    """The images both layers cover, :data:`CHUNK_IMAGES` at a time (cleared labels left
    out): only one chunk's boxes are held in memory."""
    out = _Read()
    for part in iter_pairs(conn, dataset_id, int(layer.id), int(pred.id), filter):
        for item_id, label_id, value, predicted in part:
            given, guess = _json(value), _json(predicted)
            if not isinstance(given, list) or not isinstance(guess, list):
                continue  # a cleared label
            out.item_ids.append(int(item_id))
            out.label_ids.append(int(label_id))
            out.labels.append(given)
            out.predictions.append(guess)
            if len(out.item_ids) == CHUNK_IMAGES:
                yield out
                out = _Read()
    if out.item_ids:
        yield out


def find_run(
    dataset: Dataset,
    *,
    layer: str,
    predictions: str | None,
    filter: str | None,
    method: str | None,
    actor: str,
    progress: ProgressCallback,
) -> int:
    """Check box layer ``layer`` against the predicted boxes of layer ``predictions``, store
    the results on the predictions' model run (see :mod:`assay.quality.runs`) and return the
    run's id. Per image the label quality and the flag go to ``label_quality`` (so the grid
    sorts and filters by it as for classes); the suspect boxes of flagged images go to the
    run's summary, under ``evidence``."""
    from assay.quality import runs
    from assay.store import queries

    method = check_box_method(method or DEFAULT_BOX_METHOD)
    if predictions is None:
        raise InvalidParameter(
            f"Layer {layer!r} holds boxes: name the layer of predicted boxes to check it "
            "against (--predictions PRED; `assay predict --cv 5` makes one, or import COCO "
            "results)."
        )
    with dataset.store.read() as conn:
        label_row = queries.get_layer(conn, dataset.id, layer)
        pred_row = queries.get_layer(conn, dataset.id, predictions)
        if pred_row.value_kind != "boxes":
            raise InvalidParameter(
                f"Layer {predictions!r} holds {pred_row.value_kind} labels, not predicted "
                f"boxes; name a layer of predicted boxes to check {layer!r} against."
            )
        classes = [cl.name for cl in queries.list_classes(conn, dataset.id)]
        item_ids: list[int] = []
        qualities: list[np.ndarray] = []
        flags: list[np.ndarray] = []
        evidence: dict[str, Any] = {}
        counts = dict.fromkeys(KINDS, 0)
        for chunk in _chunks(conn, dataset.id, label_row, pred_row, filter):
            progress(len(item_ids), None, "scoring label quality (cleanlab)")
            found = find_box_issues(chunk.labels, chunk.predictions, classes, method)
            for k in np.flatnonzero(found.is_issue).tolist():
                evidence[str(chunk.item_ids[k])] = {
                    "label_id": chunk.label_ids[k],
                    "suspects": found.suspects[k],
                }
                for s in found.suspects[k]:
                    counts[s["kind"]] += 1
            item_ids.extend(chunk.item_ids)
            qualities.append(found.quality)
            flags.append(found.is_issue)
    if not item_ids:
        raise InvalidParameter(
            f"No image has boxes in both {layer!r} and {predictions!r}"
            f"{' in this slice' if filter else ''}: nothing to check."
        )
    quality, is_issue = np.concatenate(qualities), np.concatenate(flags)
    summary = {
        "family": "boxes",
        "layer": layer,
        "model_layer": predictions,
        "annotator_layers": None,
        "filter": filter,
        "method": method,
        "n_items": len(item_ids),
        "n_issues": int(is_issue.sum()),
        "n_estimated": int(is_issue.sum()),
        "n_outliers": 0,
        "n_duplicates": 0,
        "n_without_probs": 0,
        "n_suspects": counts,
        "outlier_threshold": None,
        "computed_at": datetime.now(UTC).isoformat(),
        "evidence": evidence,
    }
    progress(0, None, "saving")
    with dataset.store.write() as conn:
        return runs.save_for_layer(
            conn, dataset.id, predictions, actor, np.asarray(item_ids), quality, is_issue, summary
        )


# ------------------------------------------------------------------------------------------
# Review cases
# ------------------------------------------------------------------------------------------
def box_evidence(
    suspects: Sequence[Mapping[str, Any]], layer: str, pred_layer: str
) -> dict[str, Any]:
    """An image's suspect boxes in the box-evidence format every face draws
    (:func:`assay.review.evidence.case_evidence`): the label and predictions layers, the
    suspect labeled boxes highlighted, the overlooked objects as regions, a readable summary,
    and the fixes an ``accept`` applies."""
    ids = sorted({s["box"] for s in suspects if s.get("box") is not None})
    regions = [
        {**{k: s["pred"][k] for k in ("x", "y", "w", "h", "class", "score")},
         "note": "overlooked"}
        for s in suspects
        if s["kind"] == "overlooked" and s.get("pred")
    ]  # fmt: skip
    return {
        "box_layers": [layer, pred_layer],
        "highlight": {layer: ids},
        "regions": regions,
        "summary": summary_text(suspects),
        "fixes": list(suspects),
    }


def case_evidence(row: Mapping[str, Any], run: Any, info: Mapping[str, Any]) -> dict[str, Any]:
    """A flagged image's case evidence: the run, the layers, the box set checked (its label
    id: the case stops holding when it changes), the quality and :func:`box_evidence`."""
    layer, pred_layer = info["layer"], info["model_layer"]
    return {
        "run_id": int(run.id),
        "run": run.name,
        "layer": layer,
        "predictions": pred_layer,
        "label_id": row.get("label_id"),
        "quality": row["quality"],
        "flagged": row["is_issue"],
        **box_evidence(row.get("suspects") or [], layer, pred_layer),
    }


def figures(
    conn: Connection, dataset_id: int, layer: str, pred_layer: str, rows: list[dict[str, Any]]
) -> None:
    """Each row of a box search (``ds.quality.issues``) gets ``figures`` (both layers' boxes as
    they are now, drawn as :func:`assay.review.evidence.case_evidence` draws a case's) and
    ``summary`` (the suspect boxes in words)."""
    from assay.labels.writes import current_labels_by_item

    current = current_labels_by_item(
        conn, dataset_id, [r["item_id"] for r in rows], [layer, pred_layer]
    )
    for r in rows:
        ev = box_evidence(r.get("suspects") or [], layer, pred_layer)
        mine = current.get(r["item_id"], {})
        r["summary"] = ev["summary"]
        r["figures"] = [
            {
                "layer": name,
                "boxes": (mine.get(name) or {}).get("value") or [],
                "highlight": ev["highlight"].get(name, []),
                "regions": ev["regions"],
            }
            for name in ev["box_layers"]
        ]


def open_cases_for_run(
    conn: Connection,
    dataset_id: int,
    run: Row[Any],
    *,
    limit: int | None,
    actor: str,
    top: int | None = None,
) -> dict[str, Any]:
    """``mislabel`` cases for a box run's flagged images (``top``: the first images of the
    full ranking instead), most suspect first; an image whose case was decided at the box set
    the run checked is skipped (a search of a newer version makes it eligible again)."""
    from assay.quality import runs

    return runs.open_mislabel_cases(
        conn, dataset_id, run, case_evidence, limit=limit, actor=actor, top=top
    )
