"""The review queue: cases about single items, their state machine and their audit log.

A case is about one item and has a reason (annotators disagree, low consensus confidence,
flagged by a person, a model suspects a mislabel, ...). It moves::

    open ──escalate──> escalated ──resolve──> resolved   (a new label, see below)
      │                   │      └──dismiss──> dismissed
      ├──resolve / dismiss┘
      ├──assign (stays open or escalated; changes the assignee)
      └──(its label changed elsewhere)──> obsolete   (:mod:`assay.review.staleness`)

A decision is a new label version in the layer the case is about, or in the ``reviewed`` layer
for a case between annotators (:func:`assay.review.rules.decision_layer`).

Every transition is a compare-and-set on the case's ``version`` inside one transaction, and is
logged in ``review_events``. Two reviewers resolving the same case at the same moment: one wins,
the other gets Conflict and nothing of theirs is written (their label included).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from assay.errors import Conflict, InvalidParameter, NotFound
from assay.labels.kinds.classification import class_ids, resolve_class
from assay.labels.layers import ensure_layer
from assay.labels.writes import LabelWrite, current_labels, write_labels
from assay.review.rules import (
    REVIEWED_LAYER,
    box_case,
    box_fixes,
    case_layer,
    decided_value,
    decision_layer,
    no_longer_holds,
    number_case,
    run_layers,
)
from assay.store import queries
from assay.store import schema as t
from assay.store.filters import DEFAULT_LAYER
from assay.store.vocabulary import ACTIVE_CASE_STATES, CASE_REASONS, CASE_STATES

# The predicate of the partial unique index uq_review_cases_active, verbatim (ON CONFLICT must
# name it exactly, and executemany cannot expand an IN list).
ACTIVE_WHERE = sa.text("state IN ('open', 'escalated')")
MAX_PAGE = 1000

# action -> (states it may start from, state it leads to); None: the state does not change.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "escalate": (("open", "escalated"), "escalated"),
    "assign": (("open", "escalated"), None),
    "resolve": (("open", "escalated"), "resolved"),
    "dismiss": (("open", "escalated"), "dismissed"),
    "comment": (CASE_STATES, None),
}


class CaseNotFound(NotFound):
    """A review case id that does not exist in this dataset."""


def _now() -> datetime:
    return datetime.now(UTC)


def _insert(conn: Connection) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert


def _log(
    conn: Connection,
    case_ids: Sequence[int],
    *,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    if not case_ids:
        return
    when = at or _now()
    conn.execute(
        t.review_events.insert(),
        [
            {
                "case_id": cid,
                "at": when,
                "actor": actor,
                "action": action,
                "from_state": from_state,
                "to_state": to_state,
                "note": note,
                "data": data,
            }
            for cid in case_ids
        ],
    )


def open_cases(
    conn: Connection,
    dataset_id: int,
    cases: Sequence[dict[str, Any]],
    *,
    actor: str,
) -> list[int]:
    """Open cases (dicts with item_id, reason and optionally score, class_id, suggested_class_id,
    evidence, comment); an item that already has an active case for the same reason is skipped.

    Returns the ids of the cases opened. Safe against concurrent scans: the partial unique index
    on active cases decides, and the loser's duplicates are skipped, not errors.
    """
    if not cases:
        return []
    for c in cases:
        if c["reason"] not in CASE_REASONS:
            raise InvalidParameter(
                f"Unknown reason {c['reason']!r}; use one of {', '.join(CASE_REASONS)}."
            )
    when = _now()
    rows = [
        {
            "dataset_id": dataset_id,
            "item_id": c["item_id"],
            "reason": c["reason"],
            "state": "open",
            "score": c.get("score"),
            "class_id": c.get("class_id"),
            "suggested_class_id": c.get("suggested_class_id"),
            "evidence": c.get("evidence"),
            "comment": c.get("comment"),
            "created_by": actor,
            "created_at": when,
            "updated_at": when,
            "version": 0,
        }
        for c in cases
    ]
    insert = _insert(conn)(t.review_cases).on_conflict_do_nothing(
        index_elements=["dataset_id", "item_id", "reason"],
        index_where=ACTIVE_WHERE,
    )
    opened: list[int] = []
    for start in range(0, len(rows), 5000):
        result = conn.execute(insert.returning(t.review_cases.c.id), rows[start : start + 5000])
        opened.extend(int(r[0]) for r in result)
    _log(conn, opened, actor=actor, action="open", from_state=None, to_state="open", at=when)
    return opened


def flag(
    conn: Connection,
    dataset_id: int,
    item_id: int,
    *,
    actor: str,
    comment: str,
    label: str | None = None,
    layer: str | None = None,
) -> dict[str, Any]:
    """A person flags an item with a comment (and optionally the label they believe is right)
    about its label in ``layer`` (default: the default layer, when the dataset has one)."""
    comment = (comment or "").strip()
    if not comment:
        raise InvalidParameter("Say why the item is flagged: a comment is required.")
    names = class_ids(conn, dataset_id)
    suggested = None if label is None else resolve_class(names, label)
    queries.check_items(conn, dataset_id, [item_id])
    now = current_labels(conn, dataset_id, item_id)
    if layer is not None:
        queries.get_layer(conn, dataset_id, layer)  # LayerNotFound with a hint
    evidence: dict[str, Any] = {"labels": {name: rec["label"] for name, rec in now.items()}}
    at_issue = now.get(layer or DEFAULT_LAYER)
    if layer is not None or at_issue is not None:
        evidence["layer"] = layer or DEFAULT_LAYER
    ids = open_cases(
        conn,
        dataset_id,
        [
            {
                "item_id": item_id,
                "reason": "flagged",
                "comment": comment,
                "class_id": None if at_issue is None else names.get(at_issue["label"]),
                "suggested_class_id": suggested,
                "evidence": evidence,
                "score": 1.0,
            }
        ],
        actor=actor,
    )
    if not ids:
        existing = conn.execute(
            sa.select(t.review_cases.c.id).where(
                t.review_cases.c.dataset_id == dataset_id,
                t.review_cases.c.item_id == item_id,
                t.review_cases.c.reason == "flagged",
                t.review_cases.c.state.in_(ACTIVE_CASE_STATES),
            )
        ).scalar_one()
        raise Conflict(
            f"Item {item_id} is already flagged in case {existing}; add a comment there "
            f"(`assay review comment {existing} ...`)."
        )
    return get_case(conn, dataset_id, ids[0])


def _case_query() -> sa.Select[Any]:
    c = t.review_cases
    cls, sug, res = t.classes.alias("cls"), t.classes.alias("sug"), t.classes.alias("res")
    return (
        sa.select(
            c,
            t.items.c.external_key.label("item_key"),
            cls.c.name.label("label"),
            sug.c.name.label("suggested"),
            res.c.name.label("resolved_label"),
        )
        .join(t.items, t.items.c.id == c.c.item_id)
        .outerjoin(cls, cls.c.id == c.c.class_id)
        .outerjoin(sug, sug.c.id == c.c.suggested_class_id)
        .outerjoin(res, res.c.id == c.c.resolved_class_id)
    )


def _case_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "item_id": row.item_id,
        "item_key": row.item_key,
        "reason": row.reason,
        "state": row.state,
        "score": row.score,
        "label": row.label,
        "suggested": row.suggested,
        "evidence": row.evidence,
        "comment": row.comment,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "assignee": row.assignee,
        "resolution": row.resolution,
        "resolved_label": row.resolved_label,
        "version": row.version,
    }


def get_case(
    conn: Connection, dataset_id: int, case_id: int, *, evidence: bool = True
) -> dict[str, Any]:
    """One case with its audit log and, by default, the live evidence: every layer's current
    label for the item (the stored evidence is what was seen when the case was opened)."""
    row = conn.execute(
        _case_query().where(
            t.review_cases.c.id == case_id, t.review_cases.c.dataset_id == dataset_id
        )
    ).first()
    if row is None:
        raise CaseNotFound(f"No review case {case_id} in this dataset.")
    case = _case_dict(row)
    case["events"] = events(conn, case_id)
    if evidence:
        case["labels_now"] = current_labels(conn, dataset_id, row.item_id)
    return case


def events(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    """The audit log of one case, oldest first."""
    e = t.review_events
    rows = conn.execute(sa.select(e).where(e.c.case_id == case_id).order_by(e.c.id))
    return [
        {
            "at": r.at,
            "actor": r.actor,
            "action": r.action,
            "from": r.from_state,
            "to": r.to_state,
            "note": r.note,
            "data": r.data,
        }
        for r in rows
    ]


def list_cases(
    conn: Connection,
    dataset_id: int,
    *,
    state: str | Sequence[str] | None = None,
    reason: str | None = None,
    label: str | None = None,
    assignee: str | None = None,
    item_id: int | None = None,
    after: int | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int | None]:
    """One keyset page of cases, newest id last; filters by state, reason, class, assignee.

    ``label`` matches the class at issue or the suggested class. Returns rows and next cursor.
    """
    c = t.review_cases
    query = _case_query().where(c.c.dataset_id == dataset_id)
    states = [state] if isinstance(state, str) else list(state or [])
    for s in states:
        if s not in CASE_STATES:
            raise InvalidParameter(f"Unknown state {s!r}; use one of {', '.join(CASE_STATES)}.")
    if states:
        query = query.where(c.c.state.in_(states))
    if reason is not None:
        if reason not in CASE_REASONS:
            raise InvalidParameter(
                f"Unknown reason {reason!r}; use one of {', '.join(CASE_REASONS)}."
            )
        query = query.where(c.c.reason == reason)
    if label is not None:
        cid = queries.get_class(conn, dataset_id, label).id
        query = query.where(sa.or_(c.c.class_id == cid, c.c.suggested_class_id == cid))
    if assignee is not None:
        query = query.where(c.c.assignee == assignee)
    if item_id is not None:
        query = query.where(c.c.item_id == item_id)
    if after is not None:
        query = query.where(c.c.id > after)
    limit = max(1, min(limit, MAX_PAGE))
    rows = conn.execute(query.order_by(c.c.id).limit(limit + 1)).all()
    page = [_case_dict(r) for r in rows[:limit]]
    return page, (page[-1]["id"] if len(rows) > limit else None)


def counts(conn: Connection, dataset_id: int) -> dict[str, dict[str, int]]:
    """Cases per state and reason."""
    c = t.review_cases
    rows = conn.execute(
        sa.select(c.c.state, c.c.reason, sa.func.count())
        .where(c.c.dataset_id == dataset_id)
        .group_by(c.c.state, c.c.reason)
    )
    out: dict[str, dict[str, int]] = {}
    for state, reason, n in rows:
        out.setdefault(state, {})[reason] = n
    return out


def transition(
    conn: Connection,
    dataset_id: int,
    case_id: int,
    action: str,
    *,
    actor: str,
    note: str | None = None,
    assignee: str | None = None,
    label: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Apply ``action`` to a case inside the caller's write transaction.

    * ``escalate``: to a reviewer (``assignee`` required);
    * ``assign``: change the assignee without changing the state;
    * ``resolve``: with the chosen ``label`` and a reason (``note``); writes the label as a
      new version in :func:`~assay.review.rules.decision_layer`, attributed to ``actor``,
      its note naming the case and the reason;
    * ``dismiss``: with a reason (``note``);
    * ``comment``: add a note to the log.

    ``expected_version`` (from what the reviewer saw) turns a stale view into a Conflict, and
    so does a case that no longer holds (its label changed since it was opened).
    """
    if action not in TRANSITIONS:
        raise InvalidParameter(f"Unknown action {action!r}; use one of {', '.join(TRANSITIONS)}.")
    sources, target = TRANSITIONS[action]
    note = (note or "").strip() or None
    c = t.review_cases
    row = conn.execute(sa.select(c).where(c.c.id == case_id, c.c.dataset_id == dataset_id)).first()
    if row is None:
        raise CaseNotFound(f"No review case {case_id} in this dataset.")
    if row.state not in sources:
        raise Conflict(
            f"Case {case_id} is {row.state} (by {_last_actor(conn, case_id)}); it cannot be "
            f"{_past(action)} now. Nothing was changed."
        )
    if expected_version is not None and expected_version != row.version:
        raise Conflict(
            f"Case {case_id} changed since you loaded it (now {row.state}, by "
            f"{_last_actor(conn, case_id)}); reload it. Nothing was changed."
        )
    if action != "comment":
        _check_holds(conn, dataset_id, case_id)
    values: dict[str, Any] = {"updated_at": _now(), "version": row.version + 1}
    if action in ("escalate", "assign"):
        if not assignee:
            raise InvalidParameter(f"To {action} a case, name the reviewer (assignee).")
        values["assignee"] = assignee
    if action in ("resolve", "dismiss") and not note:
        raise InvalidParameter(f"To {action} a case, give a reason.")
    if action == "comment" and not note:
        raise InvalidParameter("A comment needs text.")
    data: dict[str, Any] | None = None
    decided: Any = label  # what the decision writes: a class name, or a box set
    boxes_decided = box_case(dict(row._mapping)) or box_fixes(dict(row._mapping)) is not None
    if action == "resolve":
        if label is None:
            raise InvalidParameter("To resolve a case, choose the label the item should have.")
        if box_case(dict(row._mapping)):
            decided, what = _decided_boxes(conn, dataset_id, row, label)
            note = f"{note} ({what})" if note else note
        elif number_case(dict(row._mapping)):  # a number case writes a number
            decided_value(dict(row._mapping), label, None)  # refuse a non-number up front
        elif box_fixes(dict(row._mapping)) is None:  # a box case writes boxes, not a class
            values["resolved_class_id"] = resolve_class(class_ids(conn, dataset_id), label)
        values["resolution"] = note
    if action == "dismiss":
        values["resolution"] = note
    new_state = target or row.state
    values["state"] = new_state
    claimed = conn.execute(
        c.update()
        .where(c.c.id == case_id, c.c.version == row.version, c.c.state.in_(sources))
        .values(**values)
        .execution_options(preserve_rowcount=True)
    )
    if claimed.rowcount != 1:
        raise Conflict(
            f"Case {case_id} was changed by someone else just now; reload it. Nothing was changed."
        )
    if action == "resolve":
        target = decision_layer(conn, dataset_id, dict(row._mapping))
        if target.startswith(REVIEWED_LAYER):
            ensure_layer(
                conn,
                dataset_id,
                target,
                kind="reviewed",
                value_kind="boxes"
                if boxes_decided
                else ("number" if number_case(dict(row._mapping)) else "classification"),
                description="Decisions from the review queue.",
            )
        value = (
            decided
            if box_case(dict(row._mapping))
            else decided_value(
                dict(row._mapping),
                str(label),
                current_labels(conn, dataset_id, row.item_id).get(target, {}).get("value"),
            )
        )
        written = write_labels(
            conn,
            dataset_id,
            target,
            [LabelWrite(row.item_id, value, note=f"review case {case_id}: {note}")],
            author=actor,
        )
        conn.execute(
            c.update().where(c.c.id == case_id).values(resolved_label_id=written.label_ids[0])
        )
        data = {"label": label, "label_id": written.label_ids[0], "layer": target}
    if assignee:
        data = {**(data or {}), "assignee": assignee}
    _log(
        conn,
        [case_id],
        actor=actor,
        action=action,
        from_state=row.state,
        to_state=new_state,
        note=note,
        data=data,
    )
    return get_case(conn, dataset_id, case_id)


def _decided_boxes(
    conn: Connection, dataset_id: int, row: Any, choice: str
) -> tuple[list[dict[str, Any]], str]:
    """The box set a decision on a box case writes (``choice``: accept, keep or a layer; see
    :func:`assay.labels.box_agreement.decision_boxes`), from the layers' boxes now."""
    from assay.labels.box_agreement import decision_boxes

    layers = list((row.evidence or {}).get("box_layers") or [])
    now = current_labels(conn, dataset_id, row.item_id)
    values = {name: now[name]["value"] for name in layers if name in now}
    return decision_boxes(values, layers, choice)


def _check_holds(conn: Connection, dataset_id: int, case_id: int) -> None:
    """Conflict if the case no longer holds (its label changed since it was opened): it is
    closed as obsolete when next read, and nothing is decided on a stale view."""
    case = get_case(conn, dataset_id, case_id, evidence=False)
    run_id = (case["evidence"] or {}).get("run_id")
    runs = run_layers(conn, {run_id} if isinstance(run_id, int) else set())
    change = no_longer_holds(
        case, case_layer(case, runs), current_labels(conn, dataset_id, case["item_id"])
    )
    if change is not None:
        raise Conflict(f"Case {case_id}: {change['note']} Reload it. Nothing was changed.")


def _past(action: str) -> str:
    return {
        "escalate": "escalated",
        "assign": "assigned",
        "resolve": "resolved",
        "dismiss": "dismissed",
        "comment": "commented on",
    }[action]


def _last_actor(conn: Connection, case_id: int) -> str:
    e = t.review_events
    row = conn.execute(
        sa.select(e.c.actor, e.c.at).where(e.c.case_id == case_id).order_by(e.c.id.desc()).limit(1)
    ).first()
    if row is None:
        return "unknown"
    return f"{row.actor} at {row.at:%Y-%m-%d %H:%M:%S} UTC"
