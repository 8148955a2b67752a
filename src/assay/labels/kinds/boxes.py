"""Boxes: a set of boxes per image (object detection).

A label of a box layer is the whole set of boxes one layer gives one image, kept as JSON in
``labels.value``: a list of boxes, each ``{"id", "class", "x", "y", "w", "h"}`` in pixels
(``x, y`` the top-left corner, as COCO), with an optional ``score`` (a model's confidence, in
[0, 1]) and optional ``attrs`` (name -> string, number or bool). An empty list means "looked at,
nothing to box"; no label means "not annotated". Keeping the set as one label makes every
change one append-only version of the image's boxes (who, when, why, snapshots and diffs come
from the label store as they do for a class), and an image's boxes in all its layers one lookup
of ``label_heads`` by item.

A box's ``id`` is stable across versions of the set (new boxes get the next free id), so a
diff can say which boxes were added, removed, moved or reclassified. Box classes are the
dataset's classes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.kinds import AnnotationKind, Disagreement, KindSchema
from assay.store import queries

if TYPE_CHECKING:
    from assay.labels.box_agreement import BoxAgreementReport, BoxConsensus
    from assay.labels.writes import LabelWrite

__all__ = ["MAX_BOXES", "Boxes", "apply_box_fixes", "box_array", "iou_matrix", "match_boxes"]

#: Most boxes one image may hold in one layer (a dense crowd scene has a few hundred).
MAX_BOXES = 5_000
#: How far (in pixels) a box may reach past its image's edge before it is refused: annotation
#: tools and COCO files round corners outwards by a fraction of a pixel.
EDGE_TOLERANCE = 1.0
_KEYS = frozenset({"id", "class", "x", "y", "w", "h", "score", "attrs"})
_COORDS = ("x", "y", "w", "h")


def _number(box: Mapping[str, Any], key: str, where: str) -> float:
    value = box.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(f"{where}: {key!r} must be a number (pixels), not {value!r}.")
    if not math.isfinite(value):
        raise InvalidParameter(f"{where}: {key!r} is {value}; give a finite number of pixels.")
    return float(value)


def _attrs(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidParameter(f"{where}: 'attrs' must be an object of name -> value.")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k or len(k) > 100:
            raise InvalidParameter(f"{where}: attribute names are strings of 1-100 characters.")
        if v is not None and not isinstance(v, str | int | float | bool):
            raise InvalidParameter(
                f"{where}: attribute {k!r} must be a string, number or true/false."
            )
        out[k] = v
    return out


class Boxes(AnnotationKind):
    """A set of boxes per image per layer."""

    name: ClassVar[str] = "boxes"
    agreement_measure: ClassVar[tuple[str, str] | None] = ("mean_f1", "mean F1 at IoU 0.5")
    noun: ClassVar[str] = "box set"
    quality_check: ClassVar[str | None] = "boxes"
    needs_item_size: ClassVar[bool] = True
    example: ClassVar[str] = '\'[{"class": "cat", "x": 10, "y": 20, "w": 64, "h": 48}]\''
    json_type: ClassVar[type | tuple[type, ...]] = list
    #: Weighted boxes fusion (every fused box), and the fused boxes at least half the layers
    #: drew (see :mod:`assay.labels.box_agreement`).
    consensus_methods: ClassVar[tuple[str, ...]] = ("wbf", "majority")
    #: By default each layer is rated against every other layer, pooled (cheap: no fusion);
    #: ``wbf`` or ``majority`` rate it against that fusion of the others.
    agreement_references: ClassVar[tuple[str, ...]] = ("others",)

    def validate(self, value: Any, schema: KindSchema, item_id: int) -> Any:
        """The boxes in canonical form (sorted by id, ids given to new boxes), or
        InvalidParameter naming the item, the box and what is wrong with it."""
        if not isinstance(value, list | tuple):
            raise InvalidParameter(
                f"Item {item_id}: a box label is a list of boxes "
                '([{"class": ..., "x": ..., "y": ..., "w": ..., "h": ...}]), '
                f"not {type(value).__name__}."
            )
        if len(value) > MAX_BOXES:
            raise InvalidParameter(
                f"Item {item_id}: {len(value)} boxes; at most {MAX_BOXES} per image and layer."
            )
        width, height = schema.sizes.get(item_id, (None, None))
        used = {b["id"] for b in value if isinstance(b, Mapping) and isinstance(b.get("id"), int)}
        next_id = max(used, default=0) + 1
        seen: set[int] = set()
        out: list[dict[str, Any]] = []
        for n, box in enumerate(value, start=1):
            where = f"Item {item_id}, box {n}"
            if not isinstance(box, Mapping):
                raise InvalidParameter(f"{where}: a box is an object, not {box!r}.")
            unknown = set(box) - _KEYS
            if unknown:
                raise InvalidParameter(
                    f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}; a box "
                    "has class, x, y, w, h and optionally id, score and attrs."
                )
            box_id = box.get("id")
            if box_id is None:
                box_id, next_id = next_id, next_id + 1
            elif isinstance(box_id, bool) or not isinstance(box_id, int) or box_id < 1:
                raise InvalidParameter(f"{where}: 'id' must be a positive integer.")
            if box_id in seen:
                raise InvalidParameter(f"{where}: box id {box_id} appears twice in one image.")
            seen.add(box_id)
            name = box.get("class")
            if not isinstance(name, str) or name not in schema.classes:
                hint = queries.hint(str(name), list(schema.classes), "classes")
                raise InvalidParameter(
                    f"{where}: unknown class {name!r}.{hint} A box's class is one of the "
                    "dataset's classes."
                )
            x, y, w, h = (_number(box, k, where) for k in _COORDS)
            score = None if box.get("score") is None else _number(box, "score", where)
            problem = box_problem(
                np.array([[x, y, w, h]]),
                np.array([[np.nan if v is None else v for v in (width, height)]], dtype=float),
                None if score is None else np.array([score]),
            )
            if problem is not None:
                raise InvalidParameter(
                    f"{where}: the box ({x:g}, {y:g}, {w:g} x {h:g}) {problem[1]}."
                )
            kept: dict[str, Any] = {"id": box_id, "class": name, "x": x, "y": y, "w": w, "h": h}
            if score is not None:
                kept["score"] = score
            if box.get("attrs"):
                kept["attrs"] = _attrs(box["attrs"], where)
            out.append(kept)
        out.sort(key=lambda b: b["id"])
        return out

    # -- several layers (computed in assay.labels.box_agreement) ------------------------------
    def agreement(self, table: Any, *, reference: Any = None) -> BoxAgreementReport:
        """Pairwise F1 at IoU 0.5, mean IoU and class agreement of matched boxes, per class;
        ``reference`` adds each layer's rating: ``others`` (against every other layer, pooled),
        a consensus method (against that fusion of the OTHER layers, leave-one-out) or a
        one-layer table."""
        from assay.labels.box_agreement import box_agreement

        return box_agreement(table, reference=reference)

    def disagreements(self, table: Any) -> Iterator[Disagreement]:
        """One per image where layers differ: a box one drew and another did not, a class
        conflict, a poor overlap (:func:`assay.labels.box_agreement.box_disagreements`)."""
        from assay.labels.box_agreement import box_disagreements

        return box_disagreements(table)

    def combine(
        self, table: Any, method: str, *, pred_probs: Any = None, seed: int = 0
    ) -> BoxConsensus:
        """Weighted boxes fusion (ensemble-boxes) of the layers per image, a confidence per
        box (:func:`assay.labels.box_agreement.fuse`)."""
        from assay.labels.box_agreement import fuse

        del pred_probs, seed
        return fuse(table, method, rate=True)

    def consensus_writes(self, table: Any, result: Any) -> list[LabelWrite]:
        """The fused box set of each image (each box's ``score``: its confidence), the label's
        confidence the mean of its boxes' (1 for an image every layer left empty)."""
        from assay.labels.writes import LabelWrite  # writes imports this package

        del table
        return [
            LabelWrite(
                item_id,
                boxes,
                confidence=sum(b["score"] for b in boxes) / len(boxes) if boxes else 1.0,
            )
            for item_id, boxes in result.boxes.items()
        ]

    def show(self, value: Any) -> str:
        """``3 boxes: 7 ×2, 1`` (classes by count), ``no boxes`` for an empty set."""
        if value is None:
            return ""
        if not value:
            return "no boxes"
        counts = Counter(b["class"] for b in value)
        parts = [f"{c} ×{n}" if n > 1 else str(c) for c, n in counts.most_common()]
        noun = "box" if len(value) == 1 else "boxes"
        return f"{len(value)} {noun}: {', '.join(parts)}"

    #: What ``accept`` on a disagreement takes, in a word (the review page's choices).
    accept_word: ClassVar[str] = "fused"

    def decide(
        self, choice: str, values: Mapping[str, Any], layers: Sequence[str]
    ) -> tuple[Any, str]:
        """``accept`` (or ``consensus``): the boxes at least half the layers drew, fused;
        ``keep``: the first layer's; a layer's name: its boxes (see
        :func:`assay.labels.box_agreement.decision_boxes`)."""
        from assay.labels.box_agreement import decision_boxes

        return decision_boxes(values, layers, choice)

    def accept(self, current: Any, evidence: Mapping[str, Any]) -> Any:
        """The image's boxes now with the label-quality check's fixes applied."""
        fixes = evidence.get("fixes")
        if not isinstance(fixes, list):
            return super().accept(current, evidence)
        return apply_box_fixes(current or [], fixes)

    def diff(self, a: Any, b: Any) -> str | None:
        """Boxes added, removed, moved (or resized) and reclassified, matched by box id."""
        if a == b:
            return None
        if a is None:
            return f"added {self.show(b)}"
        if b is None:
            return f"removed {self.show(a)}"
        old = {x["id"]: x for x in a}
        new = {x["id"]: x for x in b}
        added = [new[i] for i in new.keys() - old.keys()]
        removed = [old[i] for i in old.keys() - new.keys()]
        both = sorted(old.keys() & new.keys())
        moved = [i for i in both if any(old[i][k] != new[i][k] for k in _COORDS)]
        reclassified = [i for i in both if old[i]["class"] != new[i]["class"]]
        parts: list[str] = []
        if added:
            parts.append(f"+{len(added)} ({', '.join(sorted(x['class'] for x in added))})")
        if removed:
            parts.append(f"-{len(removed)} ({', '.join(sorted(x['class'] for x in removed))})")
        if moved:
            parts.append(f"{len(moved)} moved")
        if reclassified:
            swaps = ", ".join(f"{old[i]['class']}→{new[i]['class']}" for i in reclassified)
            parts.append(f"{len(reclassified)} reclassified ({swaps})")
        return "; ".join(parts) or "attributes changed"


def box_problem(
    xywh: np.ndarray, sizes: np.ndarray | None = None, scores: np.ndarray | None = None
) -> tuple[int, str] | None:
    """The rules a box keeps, for many boxes at once: the index of the first box of ``xywh``
    ((n, 4): x, y, w, h in pixels) that breaks one and what is wrong with it, or None.
    ``sizes``: each box's image (width, height) ((n, 2); nan or None where unknown),
    ``scores``: each box's score (nan where none). The one home of these rules:
    :meth:`Boxes.validate` asks it for each box it writes, importers for whole files.
    """

    def first(mask: np.ndarray) -> int | None:
        hits = np.flatnonzero(mask)
        return int(hits[0]) if len(hits) else None

    checks: list[tuple[np.ndarray, str | None]] = [
        (~np.isfinite(xywh).all(axis=1), "has a coordinate that is not a number (NaN or infinite)"),
        ((xywh[:, 2] <= 0) | (xywh[:, 3] <= 0),
         "has zero or negative size; width and height must be positive"),
        ((xywh[:, 0] < -EDGE_TOLERANCE) | (xywh[:, 1] < -EDGE_TOLERANCE),
         "starts outside the image (x and y are the top-left corner, from the image's top-left)"),
    ]  # fmt: skip
    for mask, what in checks:
        bad = first(mask)
        if bad is not None and what is not None:
            return bad, what
    if sizes is not None and len(sizes):
        limit = np.where(np.isfinite(np.asarray(sizes, dtype=np.float64)), sizes, np.inf)
        limit = np.asarray(limit, dtype=np.float64)
        bad = first(
            (xywh[:, 0] + xywh[:, 2] > limit[:, 0] + EDGE_TOLERANCE)
            | (xywh[:, 1] + xywh[:, 3] > limit[:, 1] + EDGE_TOLERANCE)
        )
        if bad is not None:
            w, h = (_size(v) for v in np.asarray(sizes, dtype=np.float64)[bad])
            return bad, f"reaches outside the {w} x {h} image"
    if scores is not None and len(scores):
        s = np.asarray(scores, dtype=np.float64)
        bad = first(np.isinf(s) | (s < 0) | (s > 1))
        if bad is not None:
            return bad, f"has score {float(s[bad]):g}; a score is in [0, 1]"
    return None


def _size(value: float) -> str:
    return "?" if not math.isfinite(value) else f"{value:g}"


def box_array(boxes: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """The boxes as an (n, 4) float array of corners ``x1, y1, x2, y2``."""
    if not boxes:
        return np.zeros((0, 4), dtype=np.float64)
    xywh = np.array([[b["x"], b["y"], b["w"], b["h"]] for b in boxes], dtype=np.float64)
    xywh[:, 2:] += xywh[:, :2]
    return xywh


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every corner box of ``a`` (n, 4) with every one of ``b``
    (m, 4), as an (n, m) array (numpy broadcasting; a pair of tiny arrays per image does not
    pay for pycocotools' RLE machinery)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), dtype=np.float64)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def match_boxes(
    a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], *, min_iou: float = 0.5
) -> list[tuple[int, int, float]]:
    """The one-to-one matching of boxes ``a`` to ``b`` that maximizes the total IoU of the
    pairs with IoU >= ``min_iou`` (Hungarian, by scipy's ``linear_sum_assignment``; pairs below
    it weigh nothing, so two of them never displace one above it): (index in a, index in b,
    IoU), by index in a. Classes are not considered (a matched pair of different classes is a
    class conflict, not two misses)."""
    if not a or not b:
        return []
    from scipy.optimize import linear_sum_assignment

    iou = iou_matrix(box_array(a), box_array(b))
    # Pairs below min_iou weigh nothing: they must not displace a pair above it.
    iou = np.where(iou >= min_iou, iou, 0.0)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    return [
        (int(i), int(j), float(iou[i, j]))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
        if iou[i, j] >= min_iou and iou[i, j] > 0
    ]


def apply_box_fixes(
    boxes: Sequence[Mapping[str, Any]], fixes: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The box set with the fixes applied: a swapped box takes the suggested class, a badly
    located box the predicted box's place (its class stays), an overlooked object becomes a
    new box (without the model's score: a person accepted it). Fixes of boxes no longer there
    are skipped."""
    out = [dict(b) for b in boxes]
    by_id = {b.get("id"): b for b in out}
    for fix in fixes:
        pred = fix.get("pred")
        target = by_id.get(fix.get("box"))
        if fix.get("kind") == "swapped" and target is not None and fix.get("suggested"):
            target["class"] = fix["suggested"]
        elif fix.get("kind") == "badly_located" and target is not None and pred:
            target.update({k: float(pred[k]) for k in ("x", "y", "w", "h")})
        elif fix.get("kind") == "overlooked" and pred:
            out.append({"class": pred["class"], **{k: float(pred[k]) for k in "xywh"}})
    return out
