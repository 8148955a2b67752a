"""What a case is about and whether it still holds: the two rules every face asks.

* **The layer at issue** (:func:`case_layer`): a label issue, an outlier or a near-duplicate is
  about the label of the layer the label-quality run learnt from; a flag is about the layer it
  names (the default layer when it names none). A disagreement and an unsure consensus are
  about several annotator layers at once: no single one.
* **Where a decision goes** (:func:`decision_layer`): a decision about one layer's label is a
  new label version in that layer (append-only: its history keeps the old label), so every
  page and the next scan see it; a decision between annotators goes to the ``reviewed``
  layer, beside them (none of theirs is overwritten). A model or consensus layer is
  recomputed by the machine, so a decision about one also goes to ``reviewed``.
* **What a decision writes** (:func:`decided_value`): the chosen class; on a case about
  boxes (a label-quality case whose evidence holds ``fixes``) never a class name: ``accept``
  applies the suggested fixes to the image's current boxes, as one new version of its box set
  (other decisions on boxes are made in the item page's editor).
* **Whether it still holds** (:func:`no_longer_holds`): a case about one layer's label
  (a label issue, an outlier, a duplicate, a flag) stops holding when that label changed
  since the case was opened: someone decided it elsewhere; a disagreement when the layers
  agree now; an unsure consensus when it is sure now. Such a case is closed as ``obsolete``
  when it is next read (:func:`assay.review.staleness.close_obsolete`), its log naming who
  changed what.
* **Box cases** (:func:`box_case`: a disagreement between box layers, one case per image): a
  decision is a box set (accept = the fused boxes, keep = the first layer's, or a layer's),
  written to ``reviewed`` as a box layer (``reviewed_boxes`` when ``reviewed`` holds
  classes: :func:`reviewed_layer`); the case stops holding when a layer it compared changed
  the image's boxes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store import schema as t
from assay.store.filters import DEFAULT_LAYER

REVIEWED_LAYER = "reviewed"
ACCEPT = "accept"  # the decision on a box case that applies its suggested fixes
BETWEEN_LAYERS = ("disagreement", "low_confidence")  # reasons about several layers at once
MACHINE_KINDS = ("model", "consensus")  # layers recomputed by the machine


def run_layers(conn: Connection, run_ids: set[int]) -> dict[int, str]:
    """The layer each label-quality run learnt from (run id -> layer name)."""
    if not run_ids:
        return {}
    r = t.model_runs.c
    rows = conn.execute(sa.select(r.id, r.train_layer).where(r.id.in_(sorted(run_ids))))
    return {int(i): str(name) for i, name in rows if name is not None}


def case_layer(case: Mapping[str, Any], runs: Mapping[int, str]) -> str | None:
    """The layer whose label a case is about (see the module doc); None for a case between
    layers. ``runs``: :func:`run_layers` of the cases' runs."""
    if case["reason"] in BETWEEN_LAYERS:
        return None
    evidence = case.get("evidence") or {}
    if isinstance(evidence.get("layer"), str):
        return str(evidence["layer"])
    run_id = evidence.get("run_id")
    if isinstance(run_id, int) and run_id in runs:
        return runs[run_id]
    return DEFAULT_LAYER


def box_case(case: Mapping[str, Any]) -> bool:
    """True for a case between box layers (a box disagreement): its decision is a box set
    (:func:`assay.labels.box_agreement.decision_boxes`), never a class."""
    evidence = case.get("evidence") or {}
    return case["reason"] in BETWEEN_LAYERS and bool(evidence.get("box_layers"))


def number_case(case: Mapping[str, Any]) -> bool:
    """True for a case about numbers (a number disagreement or a likely-mislabeled value: its
    evidence says ``value_kind: number``): its decision is a number, never a class."""
    return (case.get("evidence") or {}).get("value_kind") == "number"


def reviewed_layer(conn: Connection, dataset_id: int, value_kind: str) -> str:
    """Where decisions between layers of ``value_kind`` go: ``reviewed`` unless that layer
    holds another kind of labels (a dataset with class and box layers), then
    ``reviewed_<kind>`` (``reviewed_boxes``), so a class never lands in a box layer nor a
    box set in a class layer."""
    held = conn.execute(
        sa.select(t.layers.c.value_kind).where(
            t.layers.c.dataset_id == dataset_id, t.layers.c.name == REVIEWED_LAYER
        )
    ).scalar()
    if held is None or held == value_kind:
        return REVIEWED_LAYER
    return f"{REVIEWED_LAYER}_{value_kind}"


def decision_layer(conn: Connection, dataset_id: int, case: Mapping[str, Any]) -> str:
    """The layer a decision on ``case`` is written to (see the module doc)."""
    evidence = case.get("evidence") or {}
    if box_case(case):
        return reviewed_layer(conn, dataset_id, "boxes")
    if number_case(case) and case["reason"] in BETWEEN_LAYERS:
        return reviewed_layer(conn, dataset_id, "number")
    run_id = evidence.get("run_id")
    runs = run_layers(conn, {run_id} if isinstance(run_id, int) else set())
    layer = case_layer(case, runs)
    if layer is None:
        return reviewed_layer(conn, dataset_id, "classification")
    kind = conn.execute(
        sa.select(t.layers.c.kind).where(
            t.layers.c.dataset_id == dataset_id, t.layers.c.name == layer
        )
    ).scalar()
    return REVIEWED_LAYER if kind is None or kind in MACHINE_KINDS else layer


def no_longer_holds(
    case: Mapping[str, Any], layer: str | None, labels: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """Why an active case no longer holds, or None while it does.

    ``case`` as :func:`assay.review.queue.get_case` gives it (``label``: the class at issue,
    ``suggested``), ``layer`` its :func:`case_layer`, ``labels`` the item's current label
    records by layer name. The answer names the change: ``layer``, ``label`` (now), ``was``,
    ``by`` (its author), ``label_id`` and a sentence (``note``).
    """
    evidence = case.get("evidence") or {}
    if box_case(case):
        return _boxes_changed(evidence, labels)
    if case["reason"] == "disagreement":
        compared = evidence.get("labels")
        if not isinstance(compared, dict) or not compared:
            return None
        heads = {name: labels[name] for name in compared if name in labels}
        shown = {name: rec["label"] for name, rec in heads.items()}
        if len(heads) < 2 or len(set(shown.values())) != 1:
            return None
        newest = max(heads.values(), key=lambda rec: rec["id"])
        agreed = next(iter(shown.values()))
        return _change(
            newest,
            was=None,
            note=f"{', '.join(sorted(heads))} agree now on {agreed}",
        )
    if case["reason"] == "low_confidence":
        name, threshold = evidence.get("layer"), evidence.get("threshold")
        rec = labels.get(name) if isinstance(name, str) else None
        if rec is None or rec.get("confidence") is None or threshold is None:
            return None
        if float(rec["confidence"]) < float(threshold):
            return None
        return _change(
            rec,
            was=evidence.get("label"),
            note=f"{name} is sure now: {rec['label']} at {float(rec['confidence']):.2f}",
        )
    if layer is None:
        return None
    if box_fixes(case) is not None:  # a box case: its box set changed since it was opened
        rec = labels.get(layer)
        if rec is None or rec["id"] == evidence.get("label_id"):
            return None
        return _change(rec, was=None, note=f"the boxes of {layer} changed ({rec['label']})")
    current = labels.get(layer)
    now = None if current is None else current["label"]
    at_issue = case.get("label")
    if at_issue is None or current is None or now == at_issue:
        return None
    applied = ", as suggested" if now == case.get("suggested") else ""
    return _change(current, was=at_issue, note=f"{layer} is now {now} (was {at_issue}){applied}")


def _boxes_changed(
    evidence: Mapping[str, Any], labels: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """A box case stops holding when a layer it compared changed its boxes of the image since
    it was opened (``evidence["labels"]``: the box sets then; equal box sets of different
    layers may still be drawn apart, so "they agree now" is no test for boxes): whoever
    changed them saw the case's image anew, and the next scan looks again."""
    compared = evidence.get("labels")
    if not isinstance(compared, dict):
        return None
    changed = [
        name for name, was in compared.items() if (labels.get(name) or {}).get("value") != was
    ]
    heads = [labels[name] for name in changed if name in labels]
    if not changed or not heads:  # a layer cleared: nothing to name; the scan decides
        return None
    newest = max(heads, key=lambda rec: rec["id"])
    return _change(
        newest,
        was=None,
        note=f"{', '.join(sorted(changed))} changed the boxes of this image",
    )


def _change(rec: Mapping[str, Any], *, was: str | None, note: str) -> dict[str, Any]:
    when = rec.get("created_at")
    at = f" at {when:%Y-%m-%d %H:%M:%S} UTC" if when is not None else ""
    return {
        "layer": rec["layer"],
        "label": rec["label"],
        "was": was,
        "by": rec["author"],
        "label_id": int(rec["id"]),
        "note": f"No longer holds: {note}; changed by {rec['author']}{at}.",
    }


def box_fixes(case: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The suggested fixes of a box case (a box label-quality case), None for other cases."""
    evidence = case.get("evidence") or {}
    fixes = evidence.get("fixes")
    if not evidence.get("box_layers") or not isinstance(fixes, list):
        return None
    return fixes


def decided_value(case: Mapping[str, Any], label: str, current: Any) -> Any:
    """What resolving ``case`` with ``label`` writes (see the module doc): ``label`` for a
    class; for a box case ``label`` must be :data:`ACCEPT` and ``current`` (the image's box
    set now) gets the fixes. InvalidParameter otherwise."""
    from assay.errors import InvalidParameter

    if number_case(case):  # the number the reviewer typed (checked by the layer's range)
        from assay.labels.kinds import get_kind

        return get_kind("number").parse(label)
    fixes = box_fixes(case)
    if fixes is None:
        return label
    if label != ACCEPT:
        raise InvalidParameter(
            f"This case is about boxes: resolve it with {ACCEPT!r} (apply the suggested "
            "fixes) or edit the boxes on the item page; a class name is not a box set."
        )
    return apply_box_fixes(current or [], fixes)


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
