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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay import users
from assay.dataset import Dataset
from assay.errors import InvalidParameter
from assay.labels.writes import current_labels_of
from assay.review.queue import transition as queue_transition
from assay.review.scan import ReviewScanSpec
from assay.store import reads
from assay.store.vocabulary import ACTIVE_CASE_STATES
from assay.web.auth import Principal
from assay.web.errors import Forbidden
from assay.web.state import AppState
from assay.web.urls import media_url

REVIEW_ACTIONS = ("escalate", "assign", "resolve", "dismiss")
CASE_PAGE = 25
TEXT_PREVIEW = 240


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
) -> dict[str, Any]:
    """One keyset page of cases (oldest first) and the cursor of the next page."""
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
    return {
        "ok": True,
        "dataset": dataset.name,
        "cases": [_shown(who, dataset, c) for c in cases],
        "next": cursor,
    }


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
    return {"ok": True, "case": _shown(who, dataset, case)}


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


def evidence_table(
    state: AppState, who: Principal, dataset: Dataset, cases: list[dict[str, Any]]
) -> dict[str, Any]:
    """The page's side-by-side evidence: for each case, its item (thumbnail or text) and every
    visible layer's current label (with confidence), in columns shared by the page.

    Columns are the visible layers that label at least one item on the page, oldest first.
    """
    item_ids = sorted({c["item_id"] for c in cases})
    rows = who.viewer.layers(dataset)
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
