"""The review queue over the web: cases, their evidence, transitions, flags and scans.

Access rules:

* everyone signed in may list and read cases, flag an item and comment on a case;
* only reviewers and admins escalate, assign, resolve and dismiss (and scan);
* in blind mode an annotator sees a case without the other layers' labels: its evidence keeps
  only the layers they may see, and the class at issue, the suggestion and the decision are
  hidden unless the case is their own flag (:func:`redact`).

Transitions take the case ``version`` the person saw as ``expected_version``: if the case has
changed since (someone else resolved it a second earlier), the answer is 409 and nothing is
written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay import users
from assay.dataset import Dataset
from assay.errors import InvalidParameter
from assay.review.queue import transition as queue_transition
from assay.store import schema as t
from assay.web import data
from assay.web.app import AppState
from assay.web.auth import Principal
from assay.web.errors import Forbidden
from assay.web.labeling import is_blind
from assay.web.service import layers_for, media_url

REVIEW_ACTIONS = ("escalate", "assign", "resolve", "dismiss")
CASE_PAGE = 25
TEXT_PREVIEW = 240
HIDDEN_TEXT = "(hidden in blind mode)"


def redact(case: dict[str, Any], visible: set[str], username: str) -> dict[str, Any]:
    """The case as a blind annotator may see it: no label of a layer outside ``visible``.

    The evidence is rebuilt from an allow-list (labels of visible layers; a confidence only
    when its layer is visible), so evidence kinds added later stay hidden by default.
    """
    out = dict(case)
    evidence = case.get("evidence") or {}
    kept: dict[str, Any] = {}
    if isinstance(evidence.get("labels"), dict):
        kept["labels"] = {k: v for k, v in evidence["labels"].items() if k in visible}
    if evidence.get("layer") in visible:
        kept.update({k: evidence[k] for k in ("layer", "label", "confidence") if k in evidence})
    out["evidence"] = kept
    if case.get("created_by") != username:
        out["label"] = None
        out["suggested"] = None
        # Free text by others may name a class ("looks like a 7"): hidden like their labels.
        if out.get("comment"):
            out["comment"] = HIDDEN_TEXT
    if "reviewed" not in visible:
        out["resolved_label"] = None
    if "labels_now" in case:
        out["labels_now"] = {k: v for k, v in case["labels_now"].items() if k in visible}
    if "events" in case:
        out["events"] = [
            {
                **e,
                "note": e.get("note")
                if e.get("actor") == username or not e.get("note")
                else HIDDEN_TEXT,
                "data": {k: v for k, v in (e["data"] or {}).items() if k == "assignee"} or None,
            }
            for e in case["events"]
        ]
    out["redacted"] = True
    return out


def _shown(
    state: AppState, who: Principal, dataset: Dataset, case: dict[str, Any]
) -> dict[str, Any]:
    if not is_blind(state, who):
        return {**case, "redacted": False}
    visible = {r.name for r in layers_for(state, who, dataset)}
    return redact(case, visible, who.user.username)


def _states(state_filter: Sequence[str] | None) -> list[str]:
    """State filters: case states, ``active`` for open and escalated, ``any`` for all."""
    if not state_filter or "any" in state_filter:
        return []
    out: list[str] = []
    for s in state_filter:
        out.extend(t.ACTIVE_CASE_STATES if s == "active" else [s])
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
) -> dict[str, Any]:
    """One keyset page of cases (oldest first) and the cursor of the next page."""
    if label and is_blind(state, who):
        raise Forbidden("In blind mode, cases cannot be filtered by the class at issue.")
    cases, cursor = dataset.review.list(
        state=_states(states) or None,
        reason=reason or None,
        label=label or None,
        assignee=assignee or None,
        item=item,
        after=after,
        limit=limit,
    )
    return {
        "ok": True,
        "dataset": dataset.name,
        "cases": [_shown(state, who, dataset, c) for c in cases],
        "next": cursor,
    }


def counts(dataset: Dataset) -> dict[str, Any]:
    """Cases per state and reason (no labels in it: the same for everyone)."""
    return {"ok": True, "counts": dataset.review.counts()}


def case_detail(state: AppState, who: Principal, dataset: Dataset, case_id: int) -> dict[str, Any]:
    """One case with its live evidence (every visible layer's label now) and its audit log."""
    return {"ok": True, "case": _shown(state, who, dataset, dataset.review.get(case_id))}


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
) -> dict[str, Any]:
    """Apply a transition (or a comment) to a case, as the signed-in user."""
    if action in REVIEW_ACTIONS and not who.can("review"):
        raise Forbidden(f"Your role ({who.user.role}) may not {action} review cases.")
    if action in ("escalate", "assign") and assignee not in reviewers(state):
        raise InvalidParameter(
            f"{assignee!r} is not a reviewer: cases go to an enabled reviewer or admin."
        )
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
        )
    return {"ok": True, "case": _shown(state, who, dataset, case)}


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
    return {"ok": True, "case": _shown(state, who, dataset, case)}


def scan(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    layers: list[str] | None,
    threshold: float,
) -> dict[str, Any]:
    """Open cases where layers disagree or the consensus is unsure (reviewers and admins)."""
    result = dataset.review_scan(
        layers=layers or None, threshold=threshold, actor=who.user.username
    )
    return {"ok": True, **result.to_dict()}


# -- what the review page shows besides the cases ---------------------------------------------


def evidence_table(
    state: AppState, who: Principal, dataset: Dataset, cases: list[dict[str, Any]]
) -> dict[str, Any]:
    """The page's side-by-side evidence: for each case, its item (thumbnail or text) and every
    visible layer's current label (with confidence), in columns shared by the page.

    Columns are the visible layers that label at least one item on the page, oldest first.
    """
    item_ids = sorted({c["item_id"] for c in cases})
    rows = layers_for(state, who, dataset)
    labels = data.labels_for_items(dataset, item_ids, [r.id for r in rows])
    used = {layer_id for per in labels.values() for layer_id in per}
    columns = [r for r in rows if r.id in used]
    items = {r["id"]: r for r in data.items_by_ids(dataset, item_ids)}
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
