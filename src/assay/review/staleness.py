"""Close the cases that no longer hold (:func:`assay.review.rules.no_longer_holds`), at read
time: every read of the queue (a list, a case, the counts) first closes the active cases whose
label changed since, as ``obsolete``, logged as done by whoever changed the label.

Why at read time: labels are written from many places (the item page, the labeling queue,
bulk edits, imports, consensus, the CLI, the library), all below this package; checking when a
case is read keeps the rule in one place. It costs two indexed lookups while no label was
written and no case opened (the largest ids are remembered per store and dataset), and after
that it checks only the cases of the items labeled, and the cases opened, since (labels and
cases are append-only); the first read in a process checks every active case.
"""

from __future__ import annotations

from collections.abc import Sequence
from threading import Lock
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.labels.writes import current_labels_by_item
from assay.review.queue import _case_dict, _case_query, _log, _now
from assay.review.rules import case_layer, no_longer_holds, run_layers
from assay.store import schema as t
from assay.store.vocabulary import ACTIVE_CASE_STATES

if TYPE_CHECKING:
    from assay.store.engine import Store

OBSOLETE = "obsolete"
# On PostgreSQL a transaction still open when the ids were read may commit labels with lower
# ids later (SQLite has one writer at a time): items labeled this many ids back are checked
# again. A bigger write still in flight is caught when a case of its items is decided.
SLACK = {"sqlite": 0, "postgresql": 100}
# (store url, dataset id) -> the largest label and case ids when its cases were last checked
_swept: dict[tuple[str, int], tuple[int, int]] = {}
_lock = Lock()


def obsolete_cases(
    conn: Connection, dataset_id: int, item_ids: Sequence[int] | None = None
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The active cases (of ``item_ids``, else all) that no longer hold, each with the change
    that ended it."""
    c = t.review_cases.c
    query = _case_query().where(c.dataset_id == dataset_id, c.state.in_(ACTIVE_CASE_STATES))
    if item_ids is not None:
        if not item_ids:
            return []
        query = query.where(c.item_id.in_(sorted(set(item_ids))))
    cases = [_case_dict(r) for r in conn.execute(query.order_by(c.id))]
    if not cases:
        return []
    runs = run_layers(
        conn,
        {
            int(case["evidence"]["run_id"])
            for case in cases
            if isinstance((case["evidence"] or {}).get("run_id"), int)
        },
    )
    layers = set()
    for case in cases:
        evidence = case["evidence"] or {}
        if isinstance(evidence.get("labels"), dict) and case["reason"] == "disagreement":
            layers.update(evidence["labels"])
        layers.add(case_layer(case, runs) or evidence.get("layer"))
    labels = current_labels_by_item(
        conn, dataset_id, [case["item_id"] for case in cases], {n for n in layers if n}
    )
    out = []
    for case in cases:
        change = no_longer_holds(case, case_layer(case, runs), labels.get(case["item_id"], {}))
        if change is not None:
            out.append((case, change))
    return out


def close(conn: Connection, found: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[int]:
    """Close cases as ``obsolete`` (compare-and-set on their version: one a reviewer decided
    meanwhile stays decided) and log who changed what; the ids closed."""
    c = t.review_cases
    closed = []
    for case, change in found:
        done = conn.execute(
            c.update()
            .where(
                c.c.id == case["id"],
                c.c.version == case["version"],
                c.c.state.in_(ACTIVE_CASE_STATES),
            )
            .values(
                state=OBSOLETE,
                resolution=change["note"],
                updated_at=_now(),
                version=case["version"] + 1,
            )
            .execution_options(preserve_rowcount=True)
        )
        if done.rowcount != 1:
            continue
        closed.append(case["id"])
        _log(
            conn,
            [case["id"]],
            actor=change["by"],
            action=OBSOLETE,
            from_state=case["state"],
            to_state=OBSOLETE,
            note=change["note"],
            data={k: change[k] for k in ("layer", "label", "was", "label_id")},
        )
    return closed


def _touched(conn: Connection, dataset_id: int, label_id: int, case_id: int) -> list[int]:
    """The items labeled (label id above ``label_id``, less SLACK) or given a case (case id
    above ``case_id``) since."""
    lab, rc = t.labels.c, t.review_cases.c
    slack = SLACK.get(conn.dialect.name, 100)
    layers = sa.select(t.layers.c.id).where(t.layers.c.dataset_id == dataset_id)
    labeled = sa.select(lab.item_id).where(lab.id > label_id - slack, lab.layer_id.in_(layers))
    opened = sa.select(rc.item_id).where(rc.id > case_id, rc.dataset_id == dataset_id)
    return sorted({int(i) for (i,) in conn.execute(sa.union(labeled, opened))})


def close_obsolete(store: Store, dataset_id: int) -> list[int]:
    """Close the dataset's active cases that no longer hold (nothing to do, and no scan of
    the cases, while no label was written nor case opened since the last call); the ids
    closed."""
    key = (str(store.url), dataset_id)
    with store.read() as conn:
        newest = (
            int(conn.execute(sa.select(sa.func.max(t.labels.c.id))).scalar() or 0),
            int(conn.execute(sa.select(sa.func.max(t.review_cases.c.id))).scalar() or 0),
        )
        with _lock:
            last = _swept.get(key)
        if last == newest:
            return []
        items = None if last is None else _touched(conn, dataset_id, *last)
        found = obsolete_cases(conn, dataset_id, items)
    closed: list[int] = []
    if found:
        with store.write() as conn:
            closed = close(conn, found)
    with _lock:
        _swept[key] = newest
    return closed
