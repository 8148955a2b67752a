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
* **Unsure fused boxes** (:func:`unsure_boxes`): a box consensus (``wbf``, ``majority``)
  gives each fused box a confidence (its ``score``); the boxes below the scan's threshold open
  a low-confidence case for their image, a box case between the consensus and the layers it
  fused.
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

from assay.labels.kinds import DEFAULT_KIND
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


def case_kind(case: Mapping[str, Any]) -> str | None:
    """The annotation kind whose value a decision on ``case`` writes, when it is not a class:
    ``evidence["value_kind"]`` (the scan and the label-quality checks of other kinds put it
    there; cases of boxes opened before it did say so with ``box_layers``); None for a class."""
    evidence = case.get("evidence") or {}
    kind = evidence.get("value_kind")
    if isinstance(kind, str) and kind != DEFAULT_KIND:
        return kind
    if evidence.get("box_layers"):
        return "boxes"
    if evidence.get("span_layers"):
        return "spans"
    return "tags" if evidence.get("tag_layers") else None


def kind_case(case: Mapping[str, Any]) -> bool:
    """True for a case between layers of a kind other than classes (boxes, tags, spans,
    numbers): its decision is a value of that kind (:meth:`AnnotationKind.decide`)."""
    return case["reason"] in BETWEEN_LAYERS and case_kind(case) is not None


def box_case(case: Mapping[str, Any]) -> bool:
    """True for a case between box layers (a box disagreement)."""
    return kind_case(case) and case_kind(case) == "boxes"


def compared_layers(case: Mapping[str, Any]) -> list[str]:
    """The layers a case between layers compared (``box_layers`` for boxes, else the layers
    of its ``labels``), in order."""
    evidence = case.get("evidence") or {}
    named = (
        evidence.get("box_layers")
        or evidence.get("span_layers")
        or evidence.get("tag_layers")
        or evidence.get("layers")
        or list(evidence.get("labels") or {})
    )
    return [str(n) for n in named]


def unsure_boxes(boxes: Sequence[Mapping[str, Any]], threshold: float) -> list[Mapping[str, Any]]:
    """The boxes of a consensus box set whose confidence (``score``) is below ``threshold``,
    least sure first (a box without a score is sure: a person drew it)."""
    low = [b for b in boxes if b.get("score") is not None and float(b["score"]) < threshold]
    return sorted(low, key=lambda b: (float(b["score"]), b.get("id") or 0))


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
    kind = case_kind(case)
    if kind is not None and kind_case(case):
        return reviewed_layer(conn, dataset_id, kind)
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
    if kind_case(case):
        return _values_changed(evidence, labels, case_kind(case) or "")
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
    if case_kind(case) is not None:  # about a value of another kind: it changed since
        rec = labels.get(layer)
        if rec is None or rec["id"] == evidence.get("label_id"):
            return None
        return _change(rec, was=None, note=f"the label of {layer} changed ({rec['label']})")
    current = labels.get(layer)
    now = None if current is None else current["label"]
    at_issue = case.get("label")
    if at_issue is None or current is None or now == at_issue:
        return None
    applied = ", as suggested" if now == case.get("suggested") else ""
    return _change(current, was=at_issue, note=f"{layer} is now {now} (was {at_issue}){applied}")


def _values_changed(
    evidence: Mapping[str, Any], labels: Mapping[str, Mapping[str, Any]], kind: str
) -> dict[str, Any] | None:
    """A case between layers of another kind than classes stops holding when a layer it
    compared changed its value of the item since it was opened (``evidence["labels"]``: the
    values then; two box sets or span sets may be equal and still be drawn apart, so "they
    agree now" is no test here): whoever changed it saw the item anew, and the next scan
    looks again."""
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
    what = "the boxes of this image" if kind == "boxes" else "their labels of this item"
    return _change(newest, was=None, note=f"{', '.join(sorted(changed))} changed {what}")


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
    """What resolving ``case`` (about one layer's label) with ``label`` writes (see the module
    doc): ``label`` for a class; for a case about a value of another kind, :data:`ACCEPT`
    applies the suggestion to ``current`` (the item's value now: :meth:`AnnotationKind.accept`),
    anything else is that value as a person writes it (:meth:`AnnotationKind.parse`)."""
    from assay.errors import InvalidParameter
    from assay.labels.kinds import get_kind

    name = case_kind(case)
    if name is None:
        return label
    kind = get_kind(name)
    if label == ACCEPT:
        return kind.accept(current, case.get("evidence") or {})
    try:
        value = kind.parse(label)
        if not isinstance(value, kind.json_type):
            raise InvalidParameter(f"{label!r} is not a {kind.noun}")
        return value
    except InvalidParameter:
        raise InvalidParameter(
            f"This case is about {name}: resolve it with {ACCEPT!r} (apply the suggestion), "
            f"write the {kind.noun} (e.g. {kind.example}) or edit it on the item page; "
            f"{label!r} is not a {kind.noun}."
        ) from None


def apply_box_fixes(
    boxes: Sequence[Mapping[str, Any]], fixes: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The box set with the fixes applied (:func:`assay.labels.kinds.boxes.apply_box_fixes`)."""
    from assay.labels.kinds.boxes import apply_box_fixes as apply

    return apply(boxes, fixes)
