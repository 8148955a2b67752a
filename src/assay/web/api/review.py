"""The review queue: cases, their transitions, flags and scans."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from assay.labels.kinds.boxes import MAX_BOXES
from assay.review.scan import ReviewScanSpec
from assay.store.vocabulary import CASE_STATES
from assay.web.auth import Flagger, Principal, Reader, Reviewer
from assay.web.params import Cursor, Id
from assay.web.state import app_state
from assay.web.views import review
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["review"])
CaseId = Id
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Version = Cursor | None


class Escalation(BaseModel):
    """Escalate a case to a reviewer (or, with assign, hand it to another one)."""

    model_config = ConfigDict(extra="forbid")
    assignee: str = Field(min_length=1, max_length=64)
    note: str | None = Field(None, max_length=2000)
    expected_version: Version = None


class Resolution(BaseModel):
    """Resolve a case: the label the item should have and why (on a case about boxes, the
    decision's starting point, and optionally the box set the reviewer edited from it)."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=200)
    reason: Text
    expected_version: Version = None
    boxes: list[dict[str, Any]] | None = Field(
        None, max_length=MAX_BOXES,
        description="A box case: the box set decided, [{id, class, x, y, w, h}] (checked like "
        "any box label).",
    )  # fmt: skip


class BulkDecision(BaseModel):
    """One case of a bulk resolution: the label it gets and the case version you saw."""

    model_config = ConfigDict(extra="forbid")
    id: Id
    label: str = Field(min_length=1, max_length=200)
    expected_version: Version = None


class BulkResolution(BaseModel):
    """Resolve several cases at once (accept the suggestions of the selected ones)."""

    model_config = ConfigDict(extra="forbid")
    cases: list[BulkDecision] = Field(min_length=1, max_length=review.MAX_BULK)
    reason: Text


class Dismissal(BaseModel):
    """Dismiss a case without changing any label, saying why."""

    model_config = ConfigDict(extra="forbid")
    reason: Text
    expected_version: Version = None


class Comment(BaseModel):
    """A note on a case's log."""

    model_config = ConfigDict(extra="forbid")
    text: Text


class Flag(BaseModel):
    """Flag an item for review: why, and optionally the label you believe is right."""

    model_config = ConfigDict(extra="forbid")
    item_id: Id
    comment: Text
    label: str | None = Field(None, max_length=200)


@router.get("/datasets/{name}/review/cases")
def list_cases(
    name: str,
    request: Request,
    who: Reader,
    state: Annotated[
        list[str] | None,
        Query(
            max_length=5,
            description=f"{', '.join(CASE_STATES)}, active or any (repeatable).",
        ),
    ] = None,
    reason: Annotated[str | None, Query(max_length=40)] = None,
    label: Annotated[str | None, Query(max_length=200, description="The class at issue.")] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    item: Id | None = None,
    after: Cursor | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    evidence: Annotated[
        bool, Query(description="Add each case's evidence (``why``) and the queue's counts.")
    ] = False,
) -> dict[str, Any]:
    """One keyset page of cases, oldest first: pass ``next`` as ``after`` for the next page."""
    app = app_state(request)
    return review.list_cases(
        app,
        who,
        open_dataset(app, name),
        states=state,
        reason=reason,
        label=label,
        assignee=assignee,
        item=item,
        after=after,
        limit=limit,
        evidence=evidence,
    )


@router.get("/datasets/{name}/review/counts")
def counts(name: str, request: Request, who: Reader) -> dict[str, Any]:
    """How many cases there are per state and reason."""
    return review.counts(open_dataset(app_state(request), name))


@router.get("/datasets/{name}/review/cases/{case_id}")
def get_case(name: str, case_id: CaseId, request: Request, who: Reader) -> dict[str, Any]:
    """One case: its evidence, every visible layer's label now, and its audit log."""
    app = app_state(request)
    return review.case_detail(app, who, open_dataset(app, name), case_id)


def _act(
    request: Request, who: Principal, name: str, case_id: int, action: str, **kw: Any
) -> dict[str, Any]:
    app = app_state(request)
    return review.act(app, who, open_dataset(app, name), case_id, action, **kw)


@router.post("/datasets/{name}/review/cases/{case_id}/escalate")
def escalate(
    name: str, case_id: CaseId, body: Escalation, request: Request, who: Reviewer
) -> dict[str, Any]:
    """Escalate an open case to a reviewer. A stale ``expected_version`` answers 409."""
    return _act(
        request, who, name, case_id, "escalate",
        assignee=body.assignee, note=body.note, expected_version=body.expected_version,
    )  # fmt: skip


@router.post("/datasets/{name}/review/cases/{case_id}/assign")
def assign(
    name: str, case_id: CaseId, body: Escalation, request: Request, who: Reviewer
) -> dict[str, Any]:
    """Hand an open or escalated case to another reviewer (its state stays)."""
    return _act(
        request, who, name, case_id, "assign",
        assignee=body.assignee, note=body.note, expected_version=body.expected_version,
    )  # fmt: skip


@router.post("/datasets/{name}/review/cases/{case_id}/resolve")
def resolve(
    name: str, case_id: CaseId, body: Resolution, request: Request, who: Reviewer
) -> dict[str, Any]:
    """Decide the item's label: a new version in the layer the case is about (between
    annotators: the ``reviewed`` layer), as you, with the reason. Answers the counts too."""
    return _act(
        request, who, name, case_id, "resolve",
        label=body.label, note=body.reason, expected_version=body.expected_version,
        boxes=body.boxes,
    )  # fmt: skip


@router.get("/datasets/{name}/review/cases/{case_id}/decision")
def decision(
    name: str,
    case_id: CaseId,
    request: Request,
    who: Reviewer,
    choice: Annotated[str, Query(min_length=1, max_length=200)] = "accept",
) -> dict[str, Any]:
    """A box case's decision before it is made: the box set resolving with ``choice`` (accept,
    keep or a layer) would write, as the box editor's data (one editable layer, the class
    keys); nothing is written. Resolve with ``boxes`` to write an edited set."""
    app = app_state(request)
    return review.decision_editor(app, who, open_dataset(app, name), case_id, choice)


@router.post("/datasets/{name}/review/bulk-resolve")
def bulk_resolve(
    name: str, body: BulkResolution, request: Request, who: Reviewer
) -> dict[str, Any]:
    """Resolve several cases, each with its label and version; a stale or closed one is
    reported in ``failed`` and the others are written. Answers the queue's counts too."""
    app = app_state(request)
    decisions = [(c.id, c.label, c.expected_version) for c in body.cases]
    return review.bulk_resolve(app, who, open_dataset(app, name), decisions, body.reason)


@router.post("/datasets/{name}/review/cases/{case_id}/dismiss")
def dismiss(
    name: str, case_id: CaseId, body: Dismissal, request: Request, who: Reviewer
) -> dict[str, Any]:
    """Close a case without changing any label."""
    return _act(
        request, who, name, case_id, "dismiss",
        note=body.reason, expected_version=body.expected_version,
    )  # fmt: skip


@router.post("/datasets/{name}/review/cases/{case_id}/comment", status_code=201)
def comment(
    name: str, case_id: CaseId, body: Comment, request: Request, who: Flagger
) -> dict[str, Any]:
    """Add a note to a case's log (anyone signed in)."""
    return _act(request, who, name, case_id, "comment", note=body.text)


@router.post("/datasets/{name}/review/flag", status_code=201)
def flag(name: str, body: Flag, request: Request, who: Flagger) -> dict[str, Any]:
    """Flag an item for review with a comment (anyone signed in); 409 if it is flagged already."""
    app = app_state(request)
    dataset = open_dataset(app, name)
    return review.flag(app, who, dataset, body.item_id, comment=body.comment, label=body.label)


@router.post("/datasets/{name}/review/scan")
def scan(name: str, body: ReviewScanSpec, request: Request, who: Reviewer) -> dict[str, Any]:
    """Open cases where layers disagree or consensus is unsure (reviewers and admins)."""
    app = app_state(request)
    dataset = open_dataset(app, name)
    return review.scan(app, who, dataset, body)
