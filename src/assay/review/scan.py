"""Fill the review queue automatically: items where annotators disagree, and items whose
consensus label has low confidence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Connection

from assay.labels.consensus import LOW_CONFIDENCE
from assay.labels.kinds import KindSchema
from assay.labels.kinds.classification import class_ids
from assay.labels.load import default_layers, load_values
from assay.labels.writes import current_labels_by_item
from assay.review.queue import open_cases
from assay.review.rules import unsure_boxes
from assay.specs import FILTER, LayerName, LayerNames, Spec
from assay.store import filters, queries
from assay.store import schema as t

BATCH = 5000


@dataclass
class ScanResult:
    """How many cases a scan found and opened (the rest already had an active case)."""

    disagreement_found: int = 0
    disagreement_opened: int = 0
    low_confidence_found: int = 0
    low_confidence_opened: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class ReviewScanSpec(Spec):
    """A scan for review cases (``Dataset.review_scan``, the ``review-scan`` job, ``assay
    review scan`` and ``POST /datasets/{name}/review/scan``)."""

    layers: LayerNames | None = Field(
        None,
        description="The layers compared for disagreements (default: one per person).",
    )  # fmt: skip
    consensus_layer: LayerName | None = Field(
        "consensus",
        description="The consensus layer whose unsure labels open cases (null: none).",
    )  # fmt: skip
    threshold: float = Field(
        LOW_CONFIDENCE, ge=0, le=1,
        description="Open a case where the consensus confidence is below this.",
    )  # fmt: skip
    filter: str | None = FILTER


def scan(
    conn: Connection, dataset_id: int, spec: ReviewScanSpec, *, actor: str = "assay review scan"
) -> ScanResult:
    """Open a case for every item where ``spec.layers`` disagree, and for every item whose
    label in ``spec.consensus_layer`` has confidence below ``spec.threshold``.

    Disagreement cases (found by the layers' annotation kind) carry the majority label as the
    label at issue (none for a kind without one: boxes), the share of layers that agree as
    evidence (with what else the kind adds: for boxes, the boxes at issue drawn per layer),
    and 1 - that share as the score (most contested first).
    """
    layers, consensus_layer, filter = spec.layers, spec.consensus_layer, spec.filter
    result = ScanResult()
    names = list(layers) if layers else default_layers(conn, dataset_id)
    if len(names) >= 2:
        kind, table = load_values(conn, dataset_id, names, filter)
        schema = KindSchema(class_ids(conn, dataset_id))
        cases: list[dict[str, Any]] = []
        for case in kind.disagreements(table):
            result.disagreement_found += 1
            cases.append(
                {
                    "item_id": case.item_id,
                    "reason": "disagreement",
                    "score": round(1.0 - case.agreement, 6),
                    "class_id": None
                    if case.majority is None
                    else kind.store(case.majority, schema, case.item_id).class_id,
                    "evidence": {
                        "labels": case.labels,
                        "agreement": round(case.agreement, 6),
                        # what a decision writes, when it is not a class (rules.case_kind)
                        **({} if kind.stores_class else {"value_kind": kind.name}),
                        **(case.evidence or {}),
                    },
                }
            )
            if len(cases) >= BATCH:
                result.disagreement_opened += _open_undecided(conn, dataset_id, cases, actor)
                cases = []
        result.disagreement_opened += _open_undecided(conn, dataset_id, cases, actor)
    if consensus_layer is not None:
        exists = conn.execute(
            sa.select(t.layers.c.id, t.layers.c.value_kind, t.layers.c.origin).where(
                t.layers.c.dataset_id == dataset_id, t.layers.c.name == consensus_layer
            )
        ).first()
        if exists is not None:
            low = _low_confidence_boxes if exists.value_kind == "boxes" else _low_confidence
            found, opened = low(
                conn, dataset_id, exists, consensus_layer, spec.threshold, filter, actor
            )
            result.low_confidence_found, result.low_confidence_opened = found, opened
    return result


def _open_undecided(
    conn: Connection, dataset_id: int, cases: list[dict[str, Any]], actor: str
) -> int:
    """Open disagreement cases, but not for an item whose case was resolved or dismissed
    while its layers said what they say now (a reviewer decided it: the decision sits in the
    reviewed layer, beside the annotators' labels, which still disagree)."""
    if not cases:
        return 0
    rc = t.review_cases.c
    rows = conn.execute(
        sa.select(rc.item_id, rc.evidence).where(
            rc.dataset_id == dataset_id,
            rc.reason == "disagreement",
            rc.state.in_(("resolved", "dismissed")),
            rc.item_id.in_(sorted({c["item_id"] for c in cases})),
        )
    )
    decided = {(int(r.item_id), _labels_key(r.evidence)) for r in rows}
    fresh = [c for c in cases if (c["item_id"], _labels_key(c["evidence"])) not in decided]
    return len(open_cases(conn, dataset_id, fresh, actor=actor))


def _labels_key(evidence: Any) -> str:
    labels = evidence.get("labels") if isinstance(evidence, dict) else None
    return json.dumps(labels, sort_keys=True, default=str)


def _low_confidence(
    conn: Connection,
    dataset_id: int,
    layer_row: Any,
    layer: str,
    threshold: float,
    filter: str | None,
    actor: str,
) -> tuple[int, int]:
    h, lab = t.label_heads, t.labels
    query = (
        sa.select(h.c.item_id, h.c.class_id, lab.c.confidence)
        .join(lab, lab.c.id == h.c.label_id)
        .where(
            h.c.layer_id == layer_row.id,
            h.c.class_id.is_not(None),
            lab.c.confidence < threshold,
        )
        .order_by(h.c.item_id)
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.join(t.items, t.items.c.id == h.c.item_id).where(where)
    rows = conn.execute(query).all()
    names = {c.id: c.name for c in queries.list_classes(conn, dataset_id)}
    cases = [
        {
            "item_id": r.item_id,
            "reason": "low_confidence",
            "score": round(1.0 - float(r.confidence), 6),
            "class_id": r.class_id,
            "evidence": {
                "layer": layer,
                "label": names.get(r.class_id),
                "confidence": round(float(r.confidence), 6),
                "threshold": threshold,
            },
        }
        for r in rows
    ]
    opened = 0
    for start in range(0, len(cases), BATCH):
        opened += len(open_cases(conn, dataset_id, cases[start : start + BATCH], actor=actor))
    return len(cases), opened


def _low_confidence_boxes(
    conn: Connection,
    dataset_id: int,
    layer_row: Any,
    layer: str,
    threshold: float,
    filter: str | None,
    actor: str,
) -> tuple[int, int]:
    """Low-confidence cases of a box consensus layer: one per image with fused boxes whose
    confidence is below ``threshold`` (:func:`assay.review.rules.unsure_boxes`), a box case
    between the consensus and the layers it fused (drawn side by side, the unsure boxes
    highlighted; decided as a box set into ``reviewed``), scored 1 - the lowest confidence."""
    from assay.stats.layer_scan import iter_layer_values

    origin = layer_row.origin if isinstance(layer_row.origin, dict) else {}
    sources = [str(n) for n in origin.get("layers") or [] if n != layer]
    where = filters.compile_filter(conn, dataset_id, filter)
    flagged: list[tuple[int, list[Any], list[Any]]] = []
    for rows in iter_layer_values(
        conn, dataset_id, int(layer_row.id), where=where, annotated_only=True
    ):
        for item_id, _, _, value in rows:
            boxes = json.loads(value) if isinstance(value, str | bytes) else value
            low = unsure_boxes(boxes or [], threshold)
            if low:
                flagged.append((int(item_id), boxes, low))
    box_layers = [layer, *sources]
    opened = 0
    for start in range(0, len(flagged), BATCH):
        chunk = flagged[start : start + BATCH]
        now = current_labels_by_item(conn, dataset_id, [c[0] for c in chunk], box_layers)
        cases = []
        for item_id, boxes, low in chunk:
            lowest = float(low[0]["score"])
            labels = {n: rec["value"] for n, rec in now.get(item_id, {}).items()}
            noun = "box" if len(boxes) == 1 else "boxes"
            cases.append(
                {
                    "item_id": item_id,
                    "reason": "low_confidence",
                    "score": round(1.0 - lowest, 6),
                    "class_id": None,
                    "evidence": {
                        "layer": layer,
                        "confidence": round(lowest, 6),
                        "threshold": threshold,
                        "box_layers": [n for n in box_layers if n in labels],
                        "labels": labels,
                        "highlight": {layer: [b.get("id") for b in low]},
                        "summary": f"{len(low)} of {len(boxes)} fused {noun} below "
                        f"{threshold:g} confidence (lowest {lowest:.2f}: "
                        f"{low[0].get('class')})",
                    },
                }
            )
        opened += len(open_cases(conn, dataset_id, cases, actor=actor))
    return len(flagged), opened
