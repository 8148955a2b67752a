"""Findings of a label-issue search as review cases (``mislabel``, ``outlier``, ``duplicate``).

Each case carries its evidence (given and suggested label, quality, the model's confidence,
nearest neighbours), so that a reviewer can decide without leaving the queue. Scans are safe to
repeat: the queue skips items with an active case for the same reason, and this module also
skips items whose case for that reason was closed while they had the label they have now (a
reviewer already decided; a new label makes them eligible again).

With ``top``, the ``mislabel`` cases are for the first items of the full label ranking (the
flagged ones, then the lowest quality past the cut), so a reviewer can keep going down it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from assay.errors import InvalidParameter
from assay.quality import runs
from assay.review.queue import open_cases
from assay.store import schema as t

REASONS = {"mislabel": "label", "outlier": "outlier", "duplicate": "duplicate"}
PAGE = 1_000


def check_top(top: int | None) -> None:
    """Refuse a ``top`` below 1 (InvalidParameter); None means no ``top``."""
    if top is not None and top < 1:
        raise InvalidParameter(f"top must be at least 1 (items of the ranking); got {top}.")


def open_issue_cases(
    conn: Connection,
    dataset_id: int,
    run: Row[Any],
    *,
    limit: int | None,
    actor: str,
    top: int | None = None,
) -> dict[str, Any]:
    """Open the cases of one run (see the module docstring); counts found/opened per reason."""
    check_top(top)
    info = runs.summary(run)
    if info.get("family") == "boxes":  # one case per flagged image, its boxes as evidence
        from assay.quality.boxes import open_cases_for_run

        return open_cases_for_run(conn, dataset_id, run, limit=limit, actor=actor, top=top)
    if info.get("family") == "spans":  # one case per flagged text, its suspects as evidence
        from assay.quality.spans import open_cases_for_run as open_span_cases

        return open_span_cases(conn, dataset_id, run, limit=limit, actor=actor, top=top)
    if info.get("family") == "tags":  # one case per flagged item, its suspect tags named
        from assay.quality.tags import open_cases_for_run as open_tag_cases

        return open_tag_cases(conn, dataset_id, run, limit=limit, actor=actor, top=top)
    if info.get("family") == "number":  # one case per flagged value, with its interval
        from assay.quality.numbers import open_cases_for_run as open_number_cases

        return open_number_cases(conn, dataset_id, run, limit=limit, actor=actor, top=top)
    out: dict[str, Any] = {"run_id": int(run.id), "run": run.name}
    for reason, kind in REASONS.items():
        ranked = top if reason == "mislabel" else None
        found = [c for c in _candidates(conn, run.id, info, kind, ranked) if _wanted(reason, c)]
        found = _not_decided(conn, dataset_id, reason, found)
        if limit is not None:
            found = found[:limit]
        cases = [_case(reason, c, run) for c in found]
        opened = open_cases(conn, dataset_id, cases, actor=actor)
        out[reason] = {"found": len(found), "opened": len(opened)}
    return out


def _candidates(
    conn: Connection, run_id: int, info: dict[str, Any], kind: str, top: int | None
) -> Iterator[dict[str, Any]]:
    """Every flagged row of one kind, most suspect first, with evidence; with ``top``, the
    first ``top`` rows of the full label ranking instead."""
    after, left = None, top
    while left is None or left > 0:
        size = PAGE if left is None else min(PAGE, left)
        rows = runs.page(
            conn, run_id, info, kind=kind, limit=size, after=after, only_issues=top is None
        )
        yield from rows
        if len(rows) < size:
            return
        after = rows[-1]["cursor"]
        left = None if left is None else left - len(rows)


def _wanted(reason: str, row: dict[str, Any]) -> bool:
    """One case per near-duplicate pair: on the later of the two items."""
    return reason != "duplicate" or row["duplicate_item_id"] < row["item_id"]


def _not_decided(
    conn: Connection, dataset_id: int, reason: str, found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Drop items whose case for ``reason`` was resolved or dismissed at their current label."""
    if not found:
        return found
    rc = t.review_cases.c
    decided: set[tuple[int, int | None]] = set()
    ids = [c["item_id"] for c in found]
    for start in range(0, len(ids), PAGE):
        rows = conn.execute(
            sa.select(rc.item_id, rc.class_id).where(
                rc.dataset_id == dataset_id,
                rc.reason == reason,
                rc.state.in_(("resolved", "dismissed")),
                rc.item_id.in_(ids[start : start + PAGE]),
            )
        )
        decided.update((int(r.item_id), r.class_id) for r in rows)
    return [c for c in found if (c["item_id"], c["given_class_id"]) not in decided]


def _case(reason: str, c: dict[str, Any], run: Row[Any]) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "run_id": int(run.id),
        "run": run.name,
        "given": c["given"],
        "neighbours": c["neighbours"],
    }
    if reason == "mislabel":
        score = c["score"]
        evidence.update(
            suggested=c["suggested"],
            quality=c["quality"],
            confidence=c["confidence"],
            flagged=c["is_issue"],
        )
        if c["annotators"]:
            evidence["annotators"] = c["annotators"]
    elif reason == "outlier":
        score = 1.0 - (c["outlier_score"] or 0.0)
        evidence["outlier_score"] = c["outlier_score"]
    else:
        score = 1.0
        evidence.update(
            duplicate_of=c["duplicate_of"],
            duplicate_label=c["duplicate_label"],
            same_label=c["duplicate_label"] == c["given"],
        )
    return {
        "item_id": c["item_id"],
        "reason": reason,
        "score": round(float(score), 6),
        "class_id": c["given_class_id"],
        "suggested_class_id": c["suggested_class_id"] if reason == "mislabel" else None,
        "evidence": evidence,
    }
