"""Why a case was opened, as it stands now: the one answer the review row, the item page and
``assay review show`` give a reviewer (:func:`case_evidence`).

For a case: the layer at issue and where a decision goes; the label it has now and the one
suggested; the label quality as a rank among the run's items ("among the 0.5 % least likely
labels"); the nearest neighbours' current labels as a vote; the duplicate partner; and every
layer's current label for the item (each annotator's). Labels are read now, never from what the
case stored when it was opened. The faces cut it to what a viewer may see
(:meth:`assay.access.Viewer.case_evidence`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.labels.kinds.classification import class_ids
from assay.labels.tag_agreement import case_tags
from assay.labels.writes import current_labels_by_item
from assay.review.decisions import decision_options
from assay.review.rules import case_layer, decision_layer, no_longer_holds, run_layers
from assay.store import schema as t
from assay.store.filters import DEFAULT_LAYER
from assay.store.vocabulary import ACTIVE_CASE_STATES

Nearest = Callable[[int], Sequence[int] | None]
"""An item's nearest items, nearest first (None when it is not indexed)."""

N_NEIGHBOURS = 8


def case_evidence(
    conn: Connection,
    dataset_id: int,
    case: Mapping[str, Any],
    *,
    nearest: Nearest | None = None,
) -> dict[str, Any]:
    """The evidence of one case (see the module doc), with current labels.

    ``case`` as :func:`assay.review.queue.get_case` or ``list_cases`` gives it. The
    neighbours are those the label-quality run stored with the case; for a case without
    (a disagreement, a flag), ``nearest`` finds them (the web passes its cached index).
    """
    evidence = case.get("evidence") or {}
    run_id = evidence.get("run_id")
    runs = run_layers(conn, {run_id} if isinstance(run_id, int) else set())
    layer = case_layer(case, runs)
    label_layer = layer or DEFAULT_LAYER
    item_id = int(case["item_id"])
    run = run_id if isinstance(run_id, int) else _newest_run(conn, dataset_id, label_layer)
    quality = _quality(conn, run, item_id) if run is not None else None
    partner_id = _partner(conn, dataset_id, evidence, quality)
    neighbour_ids = _neighbours(conn, dataset_id, item_id, evidence, nearest)
    wanted = [item_id, *neighbour_ids, *([partner_id] if partner_id is not None else [])]
    labels = current_labels_by_item(conn, dataset_id, wanted)
    keys = _items(conn, dataset_id, wanted)
    mine = labels.get(item_id, {})
    layers = {r.name: r for r in conn.execute(sa.select(t.layers).where(
        t.layers.c.dataset_id == dataset_id))}  # fmt: skip

    def label_of(i: int) -> str | None:
        rec = labels.get(i, {}).get(label_layer)
        return None if rec is None else rec["label"]

    neighbours = [{**keys[i], "label": label_of(i)} for i in neighbour_ids if i in keys]
    vote = Counter(n["label"] for n in neighbours if n["label"] is not None)
    active = case.get("state") in ACTIVE_CASE_STATES
    change = no_longer_holds(case, layer, mine) if active else None
    target = decision_layer(conn, dataset_id, case)
    return {
        "layer": layer,
        "label_layer": label_layer,
        "decision_layer": target,
        "given": label_of(item_id),
        # The class at issue of a case between layers is theirs (the majority), not this one.
        "given_when_opened": case.get("label") if layer is not None else None,
        "suggested": case.get("suggested") or evidence.get("suggested"),
        "confidence": evidence.get("confidence"),
        "quality": quality,
        "neighbours": {
            "layer": label_layer,
            "items": neighbours,
            "vote": [{"label": name, "n": n} for name, n in vote.most_common()],
        },
        "partner": None
        if partner_id is None or partner_id not in keys
        else {**keys[partner_id], "label": label_of(partner_id)},
        "labels": [
            {
                "layer": name,
                "kind": layers[name].kind if name in layers else None,
                "owner": layers[name].owner if name in layers else None,
                "label": rec["label"],
                "author": rec["author"],
                "confidence": rec["confidence"],
            }
            for name, rec in mine.items()
        ],
        "no_longer_holds": change,
        "figures": _box_figures(mine, evidence),
        "span_figures": _span_figures(conn, item_id, mine, evidence),
        "tags": case_tags(evidence),  # a tag case: the tags at issue (kinds/_tags_case.html)
        # What a reviewer may decide: the choices the kind offers (review/decisions.py).
        "decision": decision_options(
            case,
            mine,
            {name: r.options or {} for name, r in layers.items()},
            list(class_ids(conn, dataset_id)),
            layer=layer,
            target=target,
        ),
    }


def _span_figures(
    conn: Connection, item_id: int, mine: Mapping[str, Any], evidence: Mapping[str, Any]
) -> list[dict[str, Any]] | None:
    """The span layers of a span case drawn over the item's text (None for other cases)."""
    if not evidence.get("span_layers"):
        return None
    from assay.review.span_evidence import span_figures

    text = conn.execute(sa.select(t.items.c.text).where(t.items.c.id == item_id)).scalar()
    return span_figures(text, mine, evidence)


_BOX_REASONS = {"missing": "missing", "class": "class conflict", "overlap": "poor overlap"}


def box_case_text(evidence: Mapping[str, Any]) -> str | None:
    """A box case's evidence in words (None for other cases): a label-issue case's summary
    ("box 1: 8 looks like 3 (p=0.99)"), or a disagreement's counts by reason and its layers
    ("2 missing, 4 poor overlap between alice, bob, carol")."""
    layers = evidence.get("box_layers") or evidence.get("span_layers")  # spans: the same words
    if not layers:
        return None
    if evidence.get("summary"):
        return str(evidence["summary"])
    counts = evidence.get("counts") or {}
    said = ", ".join(f"{n} {_BOX_REASONS.get(k, k)}" for k, n in counts.items() if n)
    what = "boxes" if evidence.get("box_layers") else "spans"
    return f"{said or what + ' differ'} between {', '.join(layers)}"


def _box_figures(mine: Mapping[str, Any], evidence: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The box layers a case is about, each to be drawn on the image with its boxes as they
    are now: ``evidence["box_layers"]`` names them, ``highlight`` (layer -> box ids) marks the
    boxes at issue, ``regions`` (boxes no layer holds: an object a model sees and no one
    boxed) are drawn dashed on every figure."""
    highlight = evidence.get("highlight") or {}
    regions = evidence.get("regions") or []
    return [
        {
            "layer": name,
            "boxes": (mine.get(name) or {}).get("value") or [],
            "highlight": list(highlight.get(name) or []),
            "regions": regions,
        }
        for name in evidence.get("box_layers") or []
    ]


def quality_text(percent: float) -> str:
    """ "among the 0.5 % least likely labels": a label quality's rank, in words."""
    shown = f"{percent:.2g}" if percent < 10 else f"{percent:.0f}"
    return f"among the {shown} % least likely labels"


def _newest_run(conn: Connection, dataset_id: int, layer: str) -> int | None:
    """The newest model run with label-quality results on ``layer``."""
    r = t.model_runs.c
    has_rows = sa.exists().where(t.label_quality.c.run_id == r.id)
    return conn.execute(
        sa.select(r.id)
        .where(r.dataset_id == dataset_id, r.train_layer == layer, has_rows)
        .order_by(r.id.desc())
        .limit(1)
    ).scalar()


def _quality(conn: Connection, run_id: int, item_id: int) -> dict[str, Any] | None:
    """The item's label quality in a run and its rank among the run's items (1 = least
    likely label), or None when the run did not score it."""
    lq = t.label_quality.c
    row = conn.execute(
        sa.select(lq.quality, lq.duplicate_of).where(lq.run_id == run_id, lq.item_id == item_id)
    ).first()
    if row is None:
        return None
    below = conn.execute(
        sa.select(sa.func.count()).where(lq.run_id == run_id, lq.quality < row.quality)
    ).scalar_one()
    total = conn.execute(sa.select(sa.func.count()).where(lq.run_id == run_id)).scalar_one()
    rank = int(below) + 1
    percent = 100.0 * rank / max(int(total), 1)
    return {
        "run_id": run_id,
        "value": float(row.quality),
        "rank": rank,
        "of": int(total),
        "percent": percent,
        "text": quality_text(percent),
        "duplicate_of": None if row.duplicate_of is None else int(row.duplicate_of),
    }


def _partner(
    conn: Connection,
    dataset_id: int,
    evidence: Mapping[str, Any],
    quality: Mapping[str, Any] | None,
) -> int | None:
    """A duplicate case's other item: from the run's row, else the key the case stored."""
    if quality is not None and quality["duplicate_of"] is not None:
        return int(quality["duplicate_of"])
    key = evidence.get("duplicate_of")
    if not isinstance(key, str):
        return None
    found = _ids_of(conn, dataset_id, [key])
    return found.get(key)


def _neighbours(
    conn: Connection,
    dataset_id: int,
    item_id: int,
    evidence: Mapping[str, Any],
    nearest: Nearest | None,
) -> list[int]:
    stored = evidence.get("neighbours") or []
    keys = [n["key"] for n in stored if isinstance(n, dict) and isinstance(n.get("key"), str)]
    if keys:
        ids = _ids_of(conn, dataset_id, keys)
        return [ids[k] for k in keys if k in ids][:N_NEIGHBOURS]
    found = nearest(item_id) if nearest is not None else None
    return [int(i) for i in found or []][:N_NEIGHBOURS]


def _ids_of(conn: Connection, dataset_id: int, keys: Sequence[str]) -> dict[str, int]:
    if not keys:
        return {}
    i = t.items.c
    rows = conn.execute(
        sa.select(i.external_key, i.id).where(i.dataset_id == dataset_id, i.external_key.in_(keys))
    )
    return {str(k): int(v) for k, v in rows}


def _items(conn: Connection, dataset_id: int, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Item id -> its id, key, kind and size (width, height; None unless an image)."""
    i = t.items.c
    rows = conn.execute(
        sa.select(i.id, i.external_key, i.kind, i.width, i.height).where(
            i.dataset_id == dataset_id, i.id.in_(sorted(set(ids)))
        )
    )
    return {
        int(r.id): {
            "item_id": int(r.id), "key": r.external_key, "kind": r.kind,
            "width": r.width, "height": r.height,
        }
        for r in rows
    }  # fmt: skip
