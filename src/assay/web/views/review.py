"""The review queue over the web: cases, their evidence, transitions, flags and scans.

Access rules:

* everyone signed in may list and read cases, flag an item and comment on a case;
* only reviewers and admins escalate, assign, resolve and dismiss (and scan);
* in blind mode an annotator sees a case without the other layers' labels: its evidence keeps
  only the layers they may see, and the class at issue, the suggestion, the score, the
  decision and others' free text are hidden unless the case is their own flag
  (:meth:`assay.access.Viewer.case`).

Transitions take the case ``version`` the person saw as ``expected_version``: if the case has
changed since (someone else resolved it a second earlier), the answer is 409 and nothing is
written.

Why a case was opened (:func:`evidence_of`: the labels now, the suggestion, the quality rank,
the neighbours' vote, the duplicate partner, each annotator's label) is the library's
:func:`assay.review.evidence.case_evidence`, cut by the viewer, with the images' URLs. The
review rows and the item page's open cases (:func:`open_cases_for_item`) both show it, through
``templates/_case_evidence.html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay import users
from assay.dataset import Dataset
from assay.errors import AssayError, InvalidParameter
from assay.labels.hotkeys import TRIAGE_RESERVED
from assay.labels.writes import current_labels_of
from assay.maps import neighbours as nearest_items
from assay.review.evidence import Nearest
from assay.review.queue import transition as queue_transition
from assay.review.scan import ReviewScanSpec
from assay.store import reads
from assay.store.vocabulary import ACTIVE_CASE_STATES
from assay.web.auth import Principal
from assay.web.errors import Forbidden
from assay.web.kinds import case_evidence_of
from assay.web.state import AppState
from assay.web.urls import item_page_url, media_url

REVIEW_ACTIONS = ("escalate", "assign", "resolve", "dismiss")
CASE_PAGE = 25
TEXT_PREVIEW = 240
N_NEIGHBOURS = 8
MAX_INDEX = 200_000  # vectors kept in a neighbour index in memory (as the item page's)
MAX_BULK = 200
PRESET_REASONS = (
    "the model is right",
    "clear from the image",
    "the neighbours agree",
    "ambiguous item",
    "a duplicate",
)


def _shown(who: Principal, dataset: Dataset, case: dict[str, Any]) -> dict[str, Any]:
    visible = who.viewer.layer_names(dataset) if who.viewer.blind else set()
    return who.viewer.case(case, visible)


def _states(state_filter: Sequence[str] | None) -> list[str]:
    """State filters: case states, ``active`` for open and escalated, ``any`` for all."""
    if not state_filter or "any" in state_filter:
        return []
    out: list[str] = []
    for s in state_filter:
        out.extend(ACTIVE_CASE_STATES if s == "active" else [s])
    return out


def list_cases(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    states: Sequence[str] | None = None,
    reason: str | None = None,
    label: str | None = None,
    assignee: str | None = None,
    item: int | None = None,
    after: int | None = None,
    limit: int = CASE_PAGE,
    evidence: bool = False,
) -> dict[str, Any]:
    """One keyset page of cases (oldest first) and the cursor of the next page; with
    ``evidence``, each case's ``why`` (:func:`evidence_of`) and the counts, for the triage
    page's next cases."""
    who.viewer.check_case_filter(label)
    cases, cursor = dataset.review.list(
        state=_states(states) or None,
        reason=reason or None,
        label=label or None,
        assignee=assignee or None,
        item=item,
        after=after,
        limit=limit,
    )
    shown = [_shown(who, dataset, c) for c in cases]
    out: dict[str, Any] = {"ok": True, "dataset": dataset.name, "cases": shown, "next": cursor}
    if evidence:
        why = evidence_of(state, who, dataset, cases)
        out["cases"] = [{**c, "why": why[c["id"]]} for c in shown]
        out["counts"] = dataset.review.counts()
    return out


def counts(dataset: Dataset) -> dict[str, Any]:
    """Cases per state and reason (no labels in it: the same for everyone)."""
    return {"ok": True, "counts": dataset.review.counts()}


def case_detail(state: AppState, who: Principal, dataset: Dataset, case_id: int) -> dict[str, Any]:
    """One case with its live evidence (every visible layer's label now) and its audit log."""
    return {"ok": True, "case": _shown(who, dataset, dataset.review.get(case_id))}


def reviewers(state: AppState) -> list[str]:
    """Who a case may be escalated or assigned to: enabled reviewers and admins."""
    return [
        u.username
        for u in users.list_users(state.project.store)
        if not u.disabled and u.role in ("reviewer", "admin")
    ]


def act(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    case_id: int,
    action: str,
    *,
    note: str | None = None,
    assignee: str | None = None,
    label: str | None = None,
    expected_version: int | None = None,
    boxes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Apply a transition (or a comment) to a case, as the signed-in user; the answer has
    the case and the queue's counts (the page updates them without a reload). ``boxes``: a
    box case's decision as the reviewer edited it."""
    if action in REVIEW_ACTIONS and not who.can("review"):
        raise Forbidden(f"Your role ({who.user.role}) may not {action} review cases.")
    if action in ("escalate", "assign") and assignee not in reviewers(state):
        raise InvalidParameter(
            f"{assignee!r} is not a reviewer: cases go to an enabled reviewer or admin."
        )
    if action == "resolve":
        target = dataset.review.decision_layer(case_id)
        if target in who.viewer.layer_names(dataset):
            who.viewer.check_write(who.viewer.layer(dataset, target))
    with dataset.store.write() as conn:
        case = queue_transition(
            conn,
            dataset.id,
            case_id,
            action,
            actor=who.user.username,
            note=note,
            assignee=assignee,
            label=label,
            expected_version=expected_version,
            boxes=boxes,
        )
    return {"ok": True, "case": _shown(who, dataset, case), "counts": dataset.review.counts()}


DECISION = "decision"  # the decision editor's one editable layer (written nowhere by that name)


def decision_editor(
    state: AppState, who: Principal, dataset: Dataset, case_id: int, choice: str
) -> dict[str, Any]:
    """The box editor's data for a box case's decision (``static/boxes.js`` on the review
    page): one editable layer, the box set resolving with ``choice`` would write now (the
    library's :meth:`~assay.review.ReviewQueue.decision_boxes`), with the review page's class
    keys; the reviewer edits it and resolves with the boxes."""
    from assay.web.rendering import layer_colour
    from assay.web.views.items import public_item

    if not who.can("review"):
        raise Forbidden(f"Your role ({who.user.role}) may not decide review cases.")
    case = _shown(who, dataset, dataset.review.get(case_id))  # the viewer's cut of the case
    decided = dataset.review.decision_boxes(case_id, choice)
    (row,) = reads.items_by_ids(dataset.store, dataset.id, [int(case["item_id"])])
    item = public_item(row, media_url(dataset.name, int(case["item_id"])))
    return {
        "ok": True,
        "case": case_id,
        "choice": choice,
        "what": decided["what"],
        "decision_layer": decided["layer"],
        "item": {k: item.get(k) for k in ("id", "key", "width", "height", "media_url")},
        "classes": dataset.classes(),
        "keys": {DECISION: class_keys(dataset)},
        "layers": [
            {
                "layer": DECISION,
                "kind": "reviewed",
                "owner": None,
                "frozen": False,
                "can_write": True,
                "colour": layer_colour(decided["layer"]),
                "label_id": 0,
                "labeled": True,
                "boxes": [{k: v for k, v in b.items() if k != "score"} for b in decided["boxes"]],
                "scored": False,
            }
        ],
    }


def bulk_resolve(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    decisions: Sequence[tuple[int, str, int | None]],
    reason: str,
) -> dict[str, Any]:
    """Resolve several cases at once, each as (case id, label, version seen): each is its own
    decision (a stale or closed one is reported and skipped, the others are written)."""
    if len(decisions) > MAX_BULK:
        raise InvalidParameter(f"At most {MAX_BULK} cases at once; got {len(decisions)}.")
    done, failed = [], []
    for case_id, label, version in decisions:
        try:
            out = act(
                state, who, dataset, case_id, "resolve",
                note=reason, label=label, expected_version=version,
            )  # fmt: skip
        except AssayError as exc:
            failed.append({"id": case_id, "error": str(exc)})
            continue
        done.append(out["case"])
    return {"ok": True, "resolved": done, "failed": failed, "counts": dataset.review.counts()}


def flag(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    item_id: int,
    *,
    comment: str,
    label: str | None = None,
) -> dict[str, Any]:
    """Open a case about an item, by hand, with a comment (and optionally the right label)."""
    case = dataset.review.flag(item_id, comment, label=label, actor=who.user.username)
    return {"ok": True, "case": _shown(who, dataset, case)}


def scan(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    spec: ReviewScanSpec,
) -> dict[str, Any]:
    """Open cases where layers disagree or the consensus is unsure (reviewers and admins)."""
    who.viewer.check_filter(dataset, spec.filter)
    result = dataset.review_scan(spec, actor=who.user.username)
    return {"ok": True, **result.to_dict()}


# -- what the review page shows besides the cases ---------------------------------------------


def class_keys(dataset: Dataset) -> dict[str, str]:
    """Class -> the key that picks it in the triage: the labeling rule of
    :func:`assay.labels.hotkeys.class_keys` (a class named by one key gets it, the rest in
    order), without the keys the triage keeps for itself."""
    return {c: k for k, c in dataset.class_keys(None, TRIAGE_RESERVED) if k}


def _nearest(state: AppState, dataset: Dataset) -> Nearest:
    """The items nearest an item, from the neighbour index the item page caches (found and
    built on the first call only: most cases carry their neighbours)."""
    found: list[Any] = []

    def nearest(item_id: int) -> list[int] | None:
        if not found:
            source = nearest_items.newest_source(dataset, MAX_INDEX)
            key = ("item-neighbours", dataset.id, source)
            build = (lambda: nearest_items.build_index(dataset, source)) if source else None
            found.append(state.stats.get(key, build) if build else None)
        index = found[0]
        return None if index is None else index.nearest(item_id, N_NEIGHBOURS)

    return nearest


def evidence_of(
    state: AppState, who: Principal, dataset: Dataset, cases: Sequence[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Each case's evidence (case id -> it), as the viewer may see it, with the URLs of the
    item's, its neighbours' and its duplicate partner's images and pages."""
    visible = who.viewer.layer_names(dataset) if who.viewer.blind else set()
    found = dataset.review.evidence_of(cases, nearest=_nearest(state, dataset))
    wanted = {c["item_id"] for c in cases}
    for ev in found.values():
        wanted.update(n["item_id"] for n in ev["neighbours"]["items"])
        if ev["partner"] is not None:
            wanted.add(ev["partner"]["item_id"])
    kinds = {r["id"]: r for r in reads.items_by_ids(dataset.store, dataset.id, sorted(wanted))}

    def item(entry: dict[str, Any]) -> dict[str, Any]:
        row = kinds.get(entry["item_id"], {})
        image = row.get("kind") == "image"
        text = row.get("text")
        return {
            **entry,
            "key": row.get("external_key", entry.get("key")),
            "width": row.get("width"),
            "height": row.get("height"),
            "media_url": media_url(dataset.name, entry["item_id"]) if image else None,
            "text": text[:TEXT_PREVIEW] if isinstance(text, str) else None,
            "page_url": item_page_url(dataset.name, entry["item_id"], row.get("external_key")),
        }

    out = {}
    for case in cases:
        ev = who.viewer.case_evidence(found[case["id"]], case, visible)
        partner = ev["partner"]
        decision = ev.get("decision")
        out[case["id"]] = {
            **ev,
            "kind_evidence": case_evidence_of(decision["kind"] if decision else None),
            "item": item({"item_id": case["item_id"], "key": case["item_key"]}),
            "neighbours": {
                **ev["neighbours"],
                "items": [item(n) for n in ev["neighbours"]["items"]],
            },
            "partner": None if partner is None else item(partner),
        }
    return out


def open_cases_for_item(
    state: AppState, who: Principal, dataset: Dataset, item_id: int
) -> list[dict[str, Any]]:
    """Every open or escalated case about the item, each with its ``why`` (the item page)."""
    cases, _ = dataset.review.list(state=list(ACTIVE_CASE_STATES), item=item_id, limit=100)
    why = evidence_of(state, who, dataset, cases)
    return [{**_shown(who, dataset, c), "why": why[c["id"]]} for c in cases]


def evidence_table(
    state: AppState, who: Principal, dataset: Dataset, cases: list[dict[str, Any]]
) -> dict[str, Any]:
    """The page's side-by-side evidence: for each case, its item (thumbnail or text) and every
    visible layer's current label (with confidence), in columns shared by the page.

    Columns are the visible layers that label at least one item on the page, oldest first;
    box layers get none: a case draws their boxes in its figures (``_box_figures.html``), and
    a column per box layer made the table wider than the page.
    """
    item_ids = sorted({c["item_id"] for c in cases})
    rows = [r for r in who.viewer.layers(dataset) if r.value_kind != "boxes"]
    current = current_labels_of(dataset.store, dataset.id, item_ids, [r.id for r in rows])
    labels = {
        item: {
            layer: (h["label"], h["confidence"])
            for layer, h in per.items()
            if h["value"] is not None
        }
        for item, per in current.items()
    }
    used = {layer_id for per in labels.values() for layer_id in per}
    columns = [r for r in rows if r.id in used]
    items = {r["id"]: r for r in reads.items_by_ids(dataset.store, dataset.id, item_ids)}
    out = {}
    for case in cases:
        item = items.get(case["item_id"], {})
        per = labels.get(case["item_id"], {})
        text = item.get("text")
        out[case["id"]] = {
            "kind": item.get("kind"),
            "media_url": media_url(dataset.name, case["item_id"])
            if item.get("kind") == "image"
            else None,
            "text": None if text is None else text[:TEXT_PREVIEW],
            "cells": [per.get(r.id) for r in columns],
        }
    return {"columns": [r.name for r in columns], "rows": out}
