"""Discrepancies among box layers: agreement, consensus by box fusion, and the disagreements
the review scan opens cases for. :class:`assay.labels.kinds.boxes.Boxes` calls these.

Matching: the boxes two layers give one image are matched one to one by IoU (Hungarian, as
:func:`~assay.labels.kinds.boxes.match_boxes`), keeping pairs with IoU >= 0.5; classes are not
considered when matching (a matched pair of different classes is a class conflict, not two
misses). Every layer's boxes are first flattened into arrays (:class:`Flat`), so that the
IoU of every pair of boxes on the same image, over all images, is one numpy computation; the
assignment problem is solved per image only where it is one (a box with two candidates at
IoU >= 0.5), elsewhere the candidate pairs are the matching.

Agreement of layers ``a`` and ``b`` over the images both labeled: ``n_matched`` pairs, F1 at
IoU 0.5 = 2 matched / (boxes of a + boxes of b) (precision of b against a: matched / boxes
of b, recall: matched / boxes of a), mean IoU of the matched pairs, class agreement (share of
matched pairs of one class) and Cohen's kappa of the matched pairs' classes (scikit-learn);
per class, F1 = 2 pairs matched in that class / boxes of that class. Each layer is also rated
against a reference its own boxes are never part of: every other layer, pooled (the default),
or the fusion of the OTHER layers (leave-one-out).

Consensus: weighted boxes fusion (the maintained ``ensemble-boxes`` package) of the layers
that labeled each image, each layer one "model"; a fused box's confidence is WBF's fused score:
the mean of its boxes' scores (1 for a person's box) times the share of layers that drew it,
with that class. Two fused boxes of different classes that overlap (IoU >= the fusion
threshold) are one object the layers disagree on: the better-supported class is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.agreement import plain_json
from assay.labels.kinds import Disagreement, ValueTable

__all__ = [
    "FUSION_IOU",
    "MATCH_IOU",
    "METHODS",
    "POOR_IOU",
    "BoxAgreementReport",
    "BoxConsensus",
    "Flat",
    "box_agreement",
    "box_disagreements",
    "decision_boxes",
    "flatten",
    "fuse",
    "match_flat",
]

#: IoU at which two layers' boxes are the same object (F1 at 0.5, COCO's loose threshold).
MATCH_IOU = 0.5
#: Below MATCH_IOU and at least this, an unmatched box's best overlap is "poor" (the layers
#: boxed the same object differently); below this, the other layer did not box it at all.
POOR_IOU = 0.1
#: ensemble-boxes' default IoU for fusing boxes into one.
FUSION_IOU = 0.55
METHODS = ("wbf", "majority")
#: The default reference of box agreement: each layer against every other layer, pooled.
OTHERS = "others"
LOW_CONFIDENCE = 0.7  # as classification's consensus (assay.labels.consensus.LOW_CONFIDENCE)


# -- flattened boxes ------------------------------------------------------------------------
@dataclass(frozen=True)
class Flat:
    """One layer's boxes over a table's images, sorted by image: box ``j`` is on image
    ``img[j]`` (a position in ``table.item_ids``), the boxes of image ``k`` are
    ``start[k]:start[k + 1]``; ``labeled[k]`` says the layer labeled image k (maybe with no
    boxes)."""

    img: np.ndarray  # (n,) int64
    xyxy: np.ndarray  # (n, 4) float64 corners
    cls: np.ndarray  # (n,) int64 class code (index in the classes list)
    ids: np.ndarray  # (n,) int64 box id
    score: np.ndarray  # (n,) float64 (1 for a box without a score)
    labeled: np.ndarray  # (n_items,) bool
    start: np.ndarray  # (n_items + 1,) int64

    def __len__(self) -> int:
        return len(self.img)

    def counts(self) -> np.ndarray:
        """Boxes per image."""
        return np.diff(self.start)


def table_classes(table: ValueTable) -> list[str]:
    """The box classes the table's layers use, sorted (numbers by value: "2" before "10")."""
    names = {b["class"] for per in table.values.values() for boxes in per.values() for b in boxes}
    return sorted(names, key=classes_key)


def flatten(table: ValueTable, layer: str, classes: Sequence[str]) -> Flat:
    """``layer``'s boxes in ``table`` as arrays (one pass over the boxes; the rest of the
    module works on arrays)."""
    n_items = table.n_items
    pos = {item_id: k for k, item_id in enumerate(table.item_ids)}
    code = {name: k for k, name in enumerate(classes)}
    labeled = np.zeros(n_items, dtype=bool)
    per = table.values[layer]
    labeled[[pos[i] for i in per]] = True
    rows = [
        (pos[i], b["x"], b["y"], b["w"], b["h"], code[b["class"]], b["id"], b.get("score", 1.0))
        for i, boxes in per.items()
        for b in boxes
    ]
    arr = np.array(rows, dtype=np.float64).reshape(-1, 8)
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    img = arr[:, 0].astype(np.int64)
    xyxy = arr[:, 1:5].copy()
    xyxy[:, 2:] += xyxy[:, :2]
    start = np.zeros(n_items + 1, dtype=np.int64)
    start[1:] = np.cumsum(np.bincount(img, minlength=n_items))
    return Flat(
        img, xyxy, arr[:, 5].astype(np.int64), arr[:, 6].astype(np.int64), arr[:, 7],
        labeled, start,
    )  # fmt: skip


def _pair_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``a[k]`` with ``b[k]`` for every k ((n, 4) corner arrays)."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = union - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass(frozen=True)
class Matches:
    """Matched pairs of two layers' boxes (indices into each :class:`Flat`) and each box's
    best IoU with any box the other layer gives its image (0 when there is none)."""

    ia: np.ndarray
    ib: np.ndarray
    iou: np.ndarray
    best_a: np.ndarray
    best_b: np.ndarray
    # For each box, the other layer's box of its best IoU (-1: none).
    arg_a: np.ndarray
    arg_b: np.ndarray


def match_flat(fa: Flat, fb: Flat, common: np.ndarray, min_iou: float = MATCH_IOU) -> Matches:
    """The one-to-one matching of ``fa``'s to ``fb``'s boxes on the images ``common`` selects
    (a bool mask over the table's images) that maximizes the total IoU of pairs with IoU >=
    ``min_iou`` (pairs below it weigh nothing, so they never displace one above it).

    Every candidate pair (two boxes on one image) gets its IoU in one vectorized pass; on an
    image where no box has two candidates at ``min_iou`` the candidates are the matching,
    elsewhere scipy's ``linear_sum_assignment`` solves it for that image.
    """
    sel = np.nonzero(common[fa.img])[0]
    rep = fb.counts()[fa.img[sel]]
    ia = np.repeat(sel, rep)
    offset = np.arange(len(ia)) - np.repeat(np.cumsum(rep) - rep, rep)
    ib = fb.start[fa.img[ia]] + offset
    iou = _pair_iou(fa.xyxy[ia], fb.xyxy[ib])
    best_a, arg_a = _best(ia, ib, iou, len(fa))
    best_b, arg_b = _best(ib, ia, iou, len(fb))
    keep = (iou >= min_iou) & (iou > 0)
    ia, ib, iou = ia[keep], ib[keep], iou[keep]
    many = (np.bincount(ia, minlength=len(fa))[ia] > 1) | (
        np.bincount(ib, minlength=len(fb))[ib] > 1
    )
    hard = np.unique(fa.img[ia[many]])
    simple = ~np.isin(fa.img[ia], hard)
    out_a, out_b, out_iou = [ia[simple]], [ib[simple]], [iou[simple]]
    if len(hard):
        from scipy.optimize import linear_sum_assignment

        pair_img = fa.img[ia]
        lo, hi = np.searchsorted(pair_img, hard), np.searchsorted(pair_img, hard, side="right")
        for k, s, e in zip(hard.tolist(), lo.tolist(), hi.tolist(), strict=True):
            r, c = ia[s:e] - fa.start[k], ib[s:e] - fb.start[k]
            m = np.zeros((int(r.max()) + 1, int(c.max()) + 1))
            m[r, c] = iou[s:e]
            rows, cols = linear_sum_assignment(m, maximize=True)
            ok = m[rows, cols] > 0
            out_a.append(rows[ok] + fa.start[k])
            out_b.append(cols[ok] + fb.start[k])
            out_iou.append(m[rows, cols][ok])
    ma, mb, mi = np.concatenate(out_a), np.concatenate(out_b), np.concatenate(out_iou)
    order = np.argsort(ma, kind="stable")
    return Matches(ma[order], mb[order], mi[order], best_a, best_b, arg_a, arg_b)


def _best(i: np.ndarray, j: np.ndarray, iou: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each box's best IoU over its candidate pairs and the partner of that IoU (-1: none)."""
    best = np.zeros(n)
    arg = np.full(n, -1, dtype=np.int64)
    if len(i):
        order = np.lexsort((iou, i))  # by box, best last
        last = np.r_[i[order][1:] != i[order][:-1], True]
        top = order[last]
        best[i[top]] = iou[top]
        arg[i[top]] = j[top]
    return best, arg


# -- agreement ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoxPairAgreement:
    """Two layers over the images both labeled."""

    a: str
    b: str
    n_images: int
    n_boxes_a: int
    n_boxes_b: int
    n_matched: int  # pairs at IoU >= 0.5
    precision: float | None  # of b against a: matched / boxes of b
    recall: float | None  # of b against a: matched / boxes of a
    f1: float | None  # 2 matched / (boxes of a + boxes of b); None without boxes
    mean_iou: float | None  # of the matched pairs
    class_agreement: float | None  # share of matched pairs of one class
    cohen_kappa: float | None  # of the matched pairs' classes (None: undefined)


@dataclass(frozen=True)
class BoxClassAgreement:
    """One class over every pair of layers."""

    name: str
    n_boxes: int  # boxes of the class, on images two or more layers labeled, in all layers
    f1: float | None  # 2 pairs matched in the class / boxes of the class, pooled over pairs
    mean_iou: float | None  # of the pairs matched in the class


@dataclass(frozen=True)
class BoxLayerQuality:
    """One layer against a reference (the consensus of the other layers, or a layer)."""

    layer: str
    n_images: int  # images both the layer and the reference label
    n_boxes: int
    n_reference_boxes: int
    precision: float | None
    recall: float | None
    f1: float | None
    mean_iou: float | None
    class_agreement: float | None


@dataclass(frozen=True)
class BoxAgreementReport:
    """Agreement of box layers (see the module doc); ``to_dict()`` is JSON-ready and has
    ``"kind": "boxes"`` so the faces know what to print."""

    layers: list[str]
    classes: list[str]
    n_images: int  # labeled by any layer
    n_images_compared: int  # labeled by two or more
    n_boxes: dict[str, int]  # per layer, on all its images
    mean_f1: float | None  # mean over the pairs
    mean_iou: float | None  # over all matched pairs of all pairs
    class_agreement: float | None  # over all matched pairs of all pairs
    pairwise: list[BoxPairAgreement]
    per_class: list[BoxClassAgreement]
    layer_quality: list[BoxLayerQuality] | None = None
    reference: str | None = None
    reference_rule: str | None = None
    iou_threshold: float = MATCH_IOU
    kind: str = "boxes"

    def to_dict(self) -> dict[str, Any]:
        return plain_json(asdict(self))


def _ratio(a: float, b: float) -> float | None:
    return float(a) / float(b) if b else None


def _kappa(x: np.ndarray, y: np.ndarray) -> float | None:
    """Cohen's kappa (scikit-learn), None where undefined (no pairs, or one class only)."""
    from sklearn.metrics import cohen_kappa_score

    if len(x) == 0 or len(np.unique(np.concatenate([x, y]))) < 2:
        return None
    value = float(cohen_kappa_score(x, y))
    return value if math.isfinite(value) else None


@dataclass
class _Tally:
    """Counts of one comparison of two flattened layers on their common images."""

    n_images: int
    n_a: int
    n_b: int
    m: Matches
    same: np.ndarray  # matched pair of one class
    ca: np.ndarray  # class of each matched pair in a / b
    cb: np.ndarray
    per_class_a: np.ndarray  # boxes per class on the common images
    per_class_b: np.ndarray
    common: np.ndarray  # the images both label


def _tally(fa: Flat, fb: Flat, n_classes: int) -> _Tally:
    common = fa.labeled & fb.labeled
    m = match_flat(fa, fb, common)
    on_a, on_b = common[fa.img], common[fb.img]
    ca, cb = fa.cls[m.ia], fb.cls[m.ib]
    return _Tally(
        int(common.sum()), int(on_a.sum()), int(on_b.sum()), m, ca == cb, ca, cb,
        np.bincount(fa.cls[on_a], minlength=n_classes),
        np.bincount(fb.cls[on_b], minlength=n_classes), common,
    )  # fmt: skip


def box_agreement(
    table: ValueTable,
    *,
    reference: str | ValueTable | None = None,
    iou_thr: float = FUSION_IOU,
) -> BoxAgreementReport:
    """Agreement of the box layers of ``table`` (see the module doc). ``reference``:
    ``others`` (each layer against every other layer, pooled: the default, no fusion), a
    consensus method (each layer against that fusion of the others, leave-one-out: one
    ensemble-boxes call per image and layer, the slow one), a one-layer table (each layer
    against that layer) or None (no per-layer rating)."""
    classes = table_classes(table)
    if isinstance(reference, ValueTable):
        classes = sorted(set(classes) | set(table_classes(reference)), key=classes_key)
    flats = {name: flatten(table, name, classes) for name in table.layers}
    nc = len(classes)
    pairs: list[BoxPairAgreement] = []
    tp_c = np.zeros(nc)
    n_c = np.zeros(nc)
    iou_c = np.zeros(nc)
    all_iou: list[np.ndarray] = []
    all_same: list[np.ndarray] = []
    tallies: dict[tuple[str, str], _Tally] = {}
    for a, b in combinations(table.layers, 2):
        t = tallies[(a, b)] = _tally(flats[a], flats[b], nc)
        matched = len(t.m.ia)
        pairs.append(
            BoxPairAgreement(
                a, b, t.n_images, t.n_a, t.n_b, matched,
                _ratio(matched, t.n_b), _ratio(matched, t.n_a),
                _ratio(2 * matched, t.n_a + t.n_b),
                float(t.m.iou.mean()) if matched else None,
                float(t.same.mean()) if matched else None,
                _kappa(t.ca, t.cb),
            )
        )  # fmt: skip
        tp_c += np.bincount(t.ca[t.same], minlength=nc)
        iou_c += np.bincount(t.ca[t.same], weights=t.m.iou[t.same], minlength=nc)
        n_c += t.per_class_a + t.per_class_b
        all_iou.append(t.m.iou)
        all_same.append(t.same)
    per_class = [
        BoxClassAgreement(name, int(n_c[k]), _ratio(2 * tp_c[k], n_c[k]), _ratio(iou_c[k], tp_c[k]))
        for k, name in enumerate(classes)
    ]
    labeled = np.array([flats[n].labeled for n in table.layers]).reshape(len(table.layers), -1)
    ious = np.concatenate(all_iou) if all_iou else np.zeros(0)
    same = np.concatenate(all_same) if all_same else np.zeros(0, dtype=bool)
    f1s = [p.f1 for p in pairs if p.f1 is not None]
    quality, ref_name, rule = None, None, None
    if reference == OTHERS:
        quality = [_pooled(name, tallies) for name in table.layers]
        ref_name = OTHERS
        rule = (
            "Each layer against every other layer, pooled (leave-one-out: a layer's own boxes "
            "never count in its reference): boxes matched at IoU 0.5 on the images each pair "
            "labels; recall = the other layers' boxes it drew too."
        )
    elif isinstance(reference, str):
        quality = _against_others(table, flats, classes, reference, iou_thr)
        ref_name = reference
        rule = (
            f"Each layer against the {reference} fusion of the OTHER layers' boxes "
            "(leave-one-out: a layer's own boxes never count in its reference; with two "
            "layers, each against the other), on the images both label, matched at IoU 0.5."
        )
    elif isinstance(reference, ValueTable):
        ref_name = reference.layers[0]
        ref_flat = flatten(_aligned(reference, table), ref_name, classes)
        quality = [_quality(name, flats[name], ref_flat, nc) for name in table.layers]
        rule = f"Each layer against the layer {ref_name}, matched at IoU 0.5."
    return BoxAgreementReport(
        layers=list(table.layers),
        classes=classes,
        n_images=table.n_items,
        n_images_compared=int((labeled.sum(axis=0) >= 2).sum()),
        n_boxes={n: len(flats[n]) for n in table.layers},
        mean_f1=float(np.mean(f1s)) if f1s else None,
        mean_iou=float(ious.mean()) if len(ious) else None,
        class_agreement=float(same.mean()) if len(same) else None,
        pairwise=pairs,
        per_class=per_class,
        layer_quality=quality,
        reference=ref_name,
        reference_rule=rule,
    )


def classes_key(name: str) -> tuple[int, int, str]:
    return (0, int(name), name) if name.isdigit() else (1, 0, name)


def _quality(name: str, fa: Flat, ref: Flat, nc: int) -> BoxLayerQuality:
    t = _tally(fa, ref, nc)
    matched = len(t.m.ia)
    return BoxLayerQuality(
        name, t.n_images, t.n_a, t.n_b, _ratio(matched, t.n_a), _ratio(matched, t.n_b),
        _ratio(2 * matched, t.n_a + t.n_b),
        float(t.m.iou.mean()) if matched else None,
        float(t.same.mean()) if matched else None,
    )  # fmt: skip


def _pooled(name: str, tallies: Mapping[tuple[str, str], _Tally]) -> BoxLayerQuality:
    """``name`` against every other layer: its pairs' counts summed, seen from its side."""
    mine = own = theirs = 0
    images: np.ndarray | int = 0
    ious: list[np.ndarray] = []
    same: list[np.ndarray] = []
    for (a, b), t in tallies.items():
        if name not in (a, b):
            continue
        n_mine, n_theirs = (t.n_a, t.n_b) if name == a else (t.n_b, t.n_a)
        mine, own, theirs = mine + len(t.m.ia), own + n_mine, theirs + n_theirs
        images = images | t.common
        ious.append(t.m.iou)
        same.append(t.same)
    iou = np.concatenate(ious) if ious else np.zeros(0)
    agree = np.concatenate(same) if same else np.zeros(0, dtype=bool)
    return BoxLayerQuality(
        name, int(np.sum(images)), own, theirs, _ratio(mine, own), _ratio(mine, theirs),
        _ratio(2 * mine, own + theirs),
        float(iou.mean()) if len(iou) else None,
        float(agree.mean()) if len(agree) else None,
    )  # fmt: skip


def _aligned(reference: ValueTable, table: ValueTable) -> ValueTable:
    """The reference's values on ``table``'s images (the others dropped)."""
    name = reference.layers[0]
    wanted = set(table.item_ids)
    values = {i: v for i, v in reference.values[name].items() if i in wanted}
    return ValueTable(table.kind, table.item_ids, [name], {name: values})


def _against_others(
    table: ValueTable, flats: Mapping[str, Flat], classes: Sequence[str], method: str,
    iou_thr: float,
) -> list[BoxLayerQuality]:  # fmt: skip
    out = []
    for name in table.layers:
        others = [n for n in table.layers if n != name]
        if not others:
            continue
        sub = ValueTable(table.kind, table.item_ids, others, {n: table.values[n] for n in others})
        fused = fuse(sub, method, iou_thr=iou_thr)
        ref = ValueTable(table.kind, table.item_ids, ["_ref"], {"_ref": fused.boxes})
        out.append(_quality(name, flats[name], flatten(ref, "_ref", classes), len(classes)))
    return out


# -- consensus ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoxConsensus:
    """The fused boxes of each image (``boxes[item_id]``: boxes with ``score`` = confidence)
    and how they were made; the :class:`~assay.labels.kinds.Combined` of box layers."""

    method: str
    layers: tuple[str, ...]
    boxes: dict[int, list[dict[str, Any]]]
    iou_thr: float = FUSION_IOU
    skip_box_thr: float = 0.0
    annotator_quality: dict[str, float | None] = field(default_factory=dict)

    def confidences(self) -> np.ndarray:
        return np.array([b["score"] for boxes in self.boxes.values() for b in boxes])

    def summary(self) -> dict[str, Any]:
        """As classification's, with confidences per box: ``mean_confidence`` over the fused
        boxes, ``n_low_confidence`` boxes below the threshold; ``annotator_quality``: each
        layer's F1 at IoU 0.5 against the fused boxes."""
        conf = self.confidences()
        return {
            "method": self.method,
            "layers": list(self.layers),
            "n_items": len(self.boxes),
            "n_boxes": len(conf),
            "mean_confidence": float(conf.mean()) if len(conf) else None,
            "low_confidence_threshold": LOW_CONFIDENCE,
            "n_low_confidence": int((conf < LOW_CONFIDENCE).sum()),
            "annotator_quality": dict(self.annotator_quality),
            "iou_thr": self.iou_thr,
            "skip_box_thr": self.skip_box_thr,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "boxes": {str(k): v for k, v in self.boxes.items()}}


def fuse(
    table: ValueTable,
    method: str = "wbf",
    *,
    iou_thr: float = FUSION_IOU,
    skip_box_thr: float = 0.0,
    rate: bool = False,
) -> BoxConsensus:
    """The fused boxes of every image of ``table`` that a layer labeled (see the module doc):
    ``wbf`` keeps every fused box (confidence = WBF's score), ``majority`` only those at
    least half the layers that labeled the image drew, with that class. ``skip_box_thr``:
    boxes with a lower score are left out before fusing (ensemble-boxes' option). ``rate``:
    also each layer's F1 against the result (``annotator_quality``)."""
    if method not in METHODS:
        raise InvalidParameter(
            f"box layers have no consensus method {method!r}; choose one of: {', '.join(METHODS)}."
        )
    from ensemble_boxes import weighted_boxes_fusion

    classes = table_classes(table)
    flats = [flatten(table, name, classes) for name in table.layers]
    out: dict[int, list[dict[str, Any]]] = {}
    for k, item_id in enumerate(table.item_ids):
        present = [f for f in flats if f.labeled[k]]
        if not present:
            continue
        parts = [(f.xyxy[f.start[k] : f.start[k + 1]], f.score[f.start[k] : f.start[k + 1]],
                  f.cls[f.start[k] : f.start[k + 1]]) for f in present]  # fmt: skip
        out[int(item_id)] = _fuse_image(
            weighted_boxes_fusion, parts, classes, method, iou_thr, skip_box_thr
        )
    quality: dict[str, float | None] = {}
    if rate:
        ref = ValueTable(table.kind, table.item_ids, ["_ref"], {"_ref": out})
        ref_flat = flatten(ref, "_ref", classes)
        for name, f in zip(table.layers, flats, strict=True):
            quality[name] = _quality(name, f, ref_flat, len(classes)).f1
    return BoxConsensus(method, tuple(table.layers), out, iou_thr, skip_box_thr, quality)


def _fuse_image(
    wbf: Any,
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    classes: Sequence[str],
    method: str,
    iou_thr: float,
    skip_box_thr: float,
) -> list[dict[str, Any]]:
    """One image's fused boxes (pixels) from each layer's (corners, scores, class codes)."""
    if not any(len(p[0]) for p in parts):
        return []
    # ensemble-boxes wants coordinates in [0, 1]; fusion uses only IoU and weighted means,
    # which one scale factor per image leaves unchanged, so the largest coordinate of the
    # image's boxes serves as its scale (no need to look up the image's size).
    scale = max(float(p[0].max()) for p in parts if len(p[0])) or 1.0
    boxes, scores, labels = wbf(
        [p[0] / scale for p in parts],
        [p[1] for p in parts],
        [p[2] for p in parts],
        iou_thr=iou_thr,
        skip_box_thr=skip_box_thr,
    )
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) * scale
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if len(boxes) > 1:  # one object, two classes: keep the better-supported class
        from assay.labels.kinds.boxes import iou_matrix

        order = np.argsort(-scores, kind="stable")
        boxes, scores, labels = boxes[order], scores[order], labels[order]
        iou = iou_matrix(boxes, boxes)
        keep = np.ones(len(boxes), dtype=bool)
        for i in range(len(boxes)):
            if keep[i]:
                clash = (iou[i] >= iou_thr) & (labels != labels[i])
                clash[: i + 1] = False
                keep &= ~clash
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    if method == "majority":
        keep = scores >= 0.5 - 1e-9
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    return [
        {
            "id": n,
            "class": classes[int(c)],
            "x": round(float(b[0]), 3),
            "y": round(float(b[1]), 3),
            "w": round(float(b[2] - b[0]), 3),
            "h": round(float(b[3] - b[1]), 3),
            "score": round(float(min(max(s, 0.0), 1.0)), 6),
        }
        for n, (b, s, c) in enumerate(zip(boxes, scores, labels, strict=True), start=1)
        if b[2] - b[0] > 0 and b[3] - b[1] > 0
    ]


def decision_boxes(
    values: Mapping[str, list[dict[str, Any]]], layers: Sequence[str], choice: str
) -> tuple[list[dict[str, Any]], str]:
    """The box set a review decision between ``layers`` writes, from their current boxes
    ``values`` (layer -> boxes, a layer without a label absent), and what it is in words.

    ``choice``: ``accept`` (or ``consensus``): the boxes at least half the layers drew, fused
    (the ``majority`` consensus, without scores); ``keep``: the first layer's boxes; a
    layer's name: that layer's boxes. InvalidParameter for anything else.
    """
    named = [n for n in layers if n in values]
    if choice in ("accept", "consensus"):
        table = ValueTable("boxes", [0], named, {n: {0: values[n]} for n in named})
        fused = fuse(table, "majority").boxes.get(0, [])
        # A reviewer's decision is a person's box set: the fusion's confidences stay out.
        kept = [{k: v for k, v in b.items() if k != "score"} for b in fused]
        return kept, "the fused boxes of " + ", ".join(named)
    source = layers[0] if choice == "keep" and layers else choice
    if source not in layers:
        raise InvalidParameter(
            f"A box case is decided with accept (the fused boxes), keep (the boxes of "
            f"{layers[0] if layers else 'the first layer'}) or one of its layers "
            f"({', '.join(layers)}), not {choice!r}."
        )
    return [dict(b) for b in values.get(source, [])], f"the boxes of {source}"


# -- disagreements (the review scan) ----------------------------------------------------------
def box_disagreements(
    table: ValueTable, *, poor_iou: float = POOR_IOU, min_iou: float = MATCH_IOU
) -> Iterator[Disagreement]:
    """One :class:`Disagreement` per image where two layers that both labeled it differ:

    * ``missing``: a box one layer drew that the other did not (no box of the other layer
      overlaps it by ``poor_iou`` or more);
    * ``class``: two matched boxes (IoU >= ``min_iou``) of different classes;
    * ``overlap``: a box whose best overlap with the other layer's boxes is poor (IoU in
      [``poor_iou``, ``min_iou``)) with a box that matched nothing else: both boxed the
      object, differently.

    One case per image, not per box: a reviewer decides an image's boxes at once (the
    decision writes one box set), and sees every box at issue highlighted. The evidence names
    the layers drawn (``box_layers``), the boxes at issue per layer (``highlight``), each
    issue, their counts per reason, and every layer's boxes (``labels``: what the case was
    opened on, which the staleness rule compares with). ``agreement``: the mean over pairs
    of layers of their class-aware F1 on the image (1 when every box matches in class).
    """
    classes = table_classes(table)
    flats = {name: flatten(table, name, classes) for name in table.layers}
    issues: dict[int, list[dict[str, Any]]] = {}
    f1_sum = np.zeros(table.n_items)
    n_pairs = np.zeros(table.n_items)
    for a, b in combinations(table.layers, 2):
        fa, fb = flats[a], flats[b]
        common = fa.labeled & fb.labeled
        m = match_flat(fa, fb, common, min_iou)
        same = fa.cls[m.ia] == fb.cls[m.ib]
        na, nb = fa.counts(), fb.counts()
        good = np.bincount(fa.img[m.ia[same]], minlength=table.n_items)
        denom = na + nb
        f1 = np.where(denom > 0, 2 * good / np.maximum(denom, 1), 1.0)
        f1_sum += np.where(common, f1, 0.0)
        n_pairs += common
        for k, j in zip(fa.img[m.ia[~same]].tolist(), np.nonzero(~same)[0].tolist(), strict=True):
            ia, ib = int(m.ia[j]), int(m.ib[j])
            issues.setdefault(k, []).append({
                "reason": "class", "layer": a, "box": int(fa.ids[ia]), "other": b,
                "other_box": int(fb.ids[ib]), "iou": round(float(m.iou[j]), 4),
                "classes": [classes[fa.cls[ia]], classes[fb.cls[ib]]],
            })  # fmt: skip
        for this, that, f, g, matched, other, best, arg in (
            (a, b, fa, fb, m.ia, m.ib, m.best_a, m.arg_a),
            (b, a, fb, fa, m.ib, m.ia, m.best_b, m.arg_b),
        ):
            alone = np.ones(len(f), dtype=bool)
            alone[matched] = False
            alone &= common[f.img]
            taken = np.zeros(len(g), dtype=bool)  # the other layer's boxes matched already
            taken[other] = True
            for j in np.nonzero(alone)[0].tolist():
                k = int(f.img[j])
                # A poor overlap with a box matched to another one is a box not drawn.
                if best[j] >= poor_iou and not taken[arg[j]]:
                    issue: dict[str, Any] = {
                        "reason": "overlap", "layer": this, "box": int(f.ids[j]),
                        "other": that, "other_box": int(g.ids[arg[j]]),
                        "iou": round(float(best[j]), 4),
                    }  # fmt: skip
                else:
                    issue = {"reason": "missing", "layer": this, "box": int(f.ids[j]),
                             "other": that, "other_box": None,
                             "class": classes[f.cls[j]]}  # fmt: skip
                issues.setdefault(k, []).append(issue)
    for k in sorted(issues):
        item_id = int(table.item_ids[k])
        given = {n: table.values[n][item_id] for n in table.layers if item_id in table.values[n]}
        found = issues[k]
        highlight: dict[str, set[int]] = {}
        for issue in found:
            highlight.setdefault(issue["layer"], set()).add(issue["box"])
            if issue["other_box"] is not None:
                highlight.setdefault(issue["other"], set()).add(issue["other_box"])
        counts = {
            r: sum(1 for i in found if i["reason"] == r) for r in ("missing", "class", "overlap")
        }
        agreement = float(f1_sum[k] / n_pairs[k]) if n_pairs[k] else 0.0
        yield Disagreement(
            item_id,
            min(agreement, 1.0 - 1e-6),
            None,
            given,
            evidence={
                "box_layers": list(given),
                "highlight": {n: sorted(ids) for n, ids in highlight.items()},
                "issues": found,
                "counts": counts,
            },
        )


def class_confusion(table: ValueTable, a: str, b: str) -> tuple[list[str], np.ndarray]:
    """Class x class counts of the boxes of layer ``a`` (rows) matched (IoU >= 0.5) to boxes
    of layer ``b`` (columns), on the images both label: the confusion of two box layers."""
    classes = table_classes(table)
    fa, fb = flatten(table, a, classes), flatten(table, b, classes)
    m = match_flat(fa, fb, fa.labeled & fb.labeled)
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(counts, (fa.cls[m.ia], fb.cls[m.ib]), 1)
    return classes, counts
