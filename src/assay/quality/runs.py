"""Label-quality results in the store: one ``label_quality`` row per item of a model run.

The results of a label-issue search hang off the model run whose probabilities they used (the
cross-validation run, or the run behind an existing model layer; a layer written without a run
gets an ``import`` run). Searching again with the same run replaces its rows. The summary,
the outlier threshold and the evidence of the flagged items (nearest neighbours, the model's
confidence) are kept in the run's ``metrics`` under ``label_quality``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from assay.errors import InvalidParameter, NotFound
from assay.store import queries
from assay.store import schema as t

KEY = "label_quality"  # the key of the summary in model_runs.metrics
CHUNK = 5_000
KINDS = ("label", "outlier", "duplicate")


class RunNotFound(NotFound):
    """No model run of that id or name, or none with label-quality results."""


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def run_for_layer(conn: Connection, dataset_id: int, layer: str) -> int | None:
    """The latest model run that wrote ``layer``, if any."""
    layer_id = queries.get_layer(conn, dataset_id, layer).id
    r = t.model_runs.c
    return conn.execute(
        sa.select(r.id)
        .where(r.dataset_id == dataset_id, r.layer_id == layer_id)
        .order_by(r.id.desc())
        .limit(1)
    ).scalar()


def reusable_cv(
    conn: Connection, dataset_id: int, layer: str, filter: str | None
) -> tuple[int, str] | None:
    """The latest finished cross-validation of ``layer`` (same slice) whose labels have not
    changed since it ran: (run id, its model layer), or None."""
    layer_id = queries.get_layer(conn, dataset_id, layer).id
    r = t.model_runs.c
    row = conn.execute(
        sa.select(r.id, r.snapshot_id, t.layers.c.name)
        .join(t.layers, t.layers.c.id == r.layer_id)
        .where(
            r.dataset_id == dataset_id,
            r.kind == "cv",
            r.state == "done",
            r.train_layer == layer,
            r.train_filter.is_(None) if filter is None else r.train_filter == filter,
            r.snapshot_id.is_not(None),
        )
        .order_by(r.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    # Label ids only grow, and every change (a clear too) adds a row: a head newer than
    # everything the snapshot pinned means the labels changed after the run.
    h, sl = t.label_heads.c, t.snapshot_labels.c
    newest = conn.execute(sa.select(sa.func.max(h.label_id)).where(h.layer_id == layer_id))
    pinned = conn.execute(
        sa.select(sa.func.max(sl.label_id)).where(
            sl.snapshot_id == row.snapshot_id, sl.layer_id == layer_id
        )
    )
    if (newest.scalar() or 0) > (pinned.scalar() or 0):
        return None
    return int(row.id), str(row.name)


def import_run(conn: Connection, dataset_id: int, layer: str, actor: str) -> int:
    """A run of kind ``import`` standing for a layer of probabilities written without a run."""
    layer_id = queries.get_layer(conn, dataset_id, layer).id
    now = datetime.now(UTC)
    return int(
        conn.execute(
            t.model_runs.insert()
            .values(
                dataset_id=dataset_id,
                name=f"{layer}@{now:%Y%m%d-%H%M%S.%f}",
                kind="import",
                state="done",
                model="imported",
                layer_id=layer_id,
                created_by=actor,
                created_at=now,
                finished_at=now,
            )
            .returning(t.model_runs.c.id)
        ).scalar_one()
    )


def save(
    conn: Connection,
    run_id: int,
    item_ids: np.ndarray,
    columns: dict[str, np.ndarray | None],
    summary: dict[str, Any],
) -> None:
    """Replace the run's rows with one per item, in chunks, and store ``summary`` on the run.

    ``columns`` holds ``given_class_id``, ``suggested_class_id``, ``quality``, ``is_issue``
    and optionally ``outlier_score`` and ``duplicate_of`` (-1 for none), aligned with
    ``item_ids``.
    """
    lq = t.label_quality
    conn.execute(lq.delete().where(lq.c.run_id == run_id))
    names = [name for name, values in columns.items() if values is not None]
    lists = {name: np.asarray(columns[name]).tolist() for name in names}
    ids = [int(i) for i in item_ids]
    for start in range(0, len(ids), CHUNK):
        rows = []
        for k in range(start, min(start + CHUNK, len(ids))):
            row: dict[str, Any] = {"run_id": run_id, "item_id": ids[k]}
            for name in names:
                row[name] = lists[name][k]
            if row.get("duplicate_of") == -1:
                row["duplicate_of"] = None
            rows.append(row)
        conn.execute(lq.insert(), rows)
    metrics = _json(
        conn.execute(sa.select(t.model_runs.c.metrics).where(t.model_runs.c.id == run_id)).scalar()
    )
    metrics = dict(metrics or {})
    metrics[KEY] = summary
    conn.execute(t.model_runs.update().where(t.model_runs.c.id == run_id).values(metrics=metrics))


def get_run(conn: Connection, dataset_id: int, run: int | str | None = None) -> Any:
    """The model run ``run`` (id or name), or the one whose label-quality search ran last.

    Raises RunNotFound if there is none, or it has no label-quality results.
    """
    r = t.model_runs.c
    query = sa.select(r.id, r.name, r.kind, r.layer_id, r.metrics).where(r.dataset_id == dataset_id)
    if run is not None:
        query = query.where(r.id == run if isinstance(run, int) else r.name == run)
    rows = [row for row in conn.execute(query) if KEY in (_json(row.metrics) or {})]
    if not rows:
        if run is None:
            raise RunNotFound(
                "No label-issue search has run on this dataset yet: run `assay issues scan` "
                "(or ds.quality.find())."
            )
        raise RunNotFound(f"No model run {run!r} with label-quality results in this dataset.")
    return max(rows, key=lambda row: (_json(row.metrics)[KEY]["computed_at"], row.id))


def summary(row: Row[Any]) -> dict[str, Any]:
    """The label-quality summary stored on a run row from :func:`get_run`."""
    return dict(_json(row.metrics)[KEY])


def _where(run_id: int, kind: str, only_issues: bool, info: dict[str, Any]) -> list[Any]:
    lq = t.label_quality.c
    where: list[Any] = [lq.run_id == run_id]
    if not only_issues:
        return where
    if kind == "label":
        where.append(lq.is_issue.is_(True))
    elif kind == "outlier":
        threshold = info.get("outlier_threshold")
        where.append(lq.outlier_score <= threshold if threshold is not None else sa.false())
    else:
        where.append(lq.duplicate_of.is_not(None))
    return where


def page(
    conn: Connection,
    run_id: int,
    info: dict[str, Any],
    *,
    kind: str = "label",
    limit: int = 50,
    after: str | None = None,
    only_issues: bool = True,
) -> list[Row[Any]]:
    """Rows of a run most-suspect first: by quality (``label``), outlier score (``outlier``)
    or item id (``duplicate``); keyset-paged with ``after``, a row's ``cursor``."""
    if kind not in KINDS:
        raise InvalidParameter(f"Unknown issue kind {kind!r}; use one of {', '.join(KINDS)}.")
    if limit < 1:
        raise InvalidParameter(f"limit must be at least 1; got {limit}.")
    lq, items = t.label_quality.c, t.items.c
    given, suggested = t.classes.alias("given"), t.classes.alias("suggested")
    score = {"label": lq.quality, "outlier": lq.outlier_score, "duplicate": sa.literal(0.0)}[kind]
    query = (
        sa.select(
            lq.item_id,
            items.external_key,
            given.c.name.label("given"),
            suggested.c.name.label("suggested"),
            lq.given_class_id,
            lq.suggested_class_id,
            lq.quality,
            lq.is_issue,
            lq.outlier_score,
            lq.duplicate_of,
            score.label("score"),
        )
        .join(t.items, t.items.c.id == lq.item_id)
        .outerjoin(given, given.c.id == lq.given_class_id)
        .outerjoin(suggested, suggested.c.id == lq.suggested_class_id)
        .where(*_where(run_id, kind, only_issues, info))
    )
    if after is not None:
        last_score, last_id = _parse_cursor(after)
        query = query.where(sa.tuple_(score, lq.item_id) > sa.tuple_(last_score, last_id))
    return list(conn.execute(query.order_by(score, lq.item_id).limit(limit)))


def cursor(score: float | None, item_id: int) -> str:
    """The keyset cursor after a row (exact: ``repr`` round-trips floats)."""
    return f"{0.0 if score is None else float(score)!r}:{item_id}"


def _parse_cursor(text: str) -> tuple[float, int]:
    try:
        score, item_id = text.rsplit(":", 1)
        return float(score), int(item_id)
    except ValueError:
        raise InvalidParameter(
            f"Bad cursor {text!r}: pass the 'cursor' of the last row of the previous page."
        ) from None


def keys_and_labels(
    conn: Connection, run_id: int, item_ids: Sequence[int]
) -> dict[int, tuple[str, str | None]]:
    """External key and given class name of each item (of the run) in ``item_ids``."""
    if not item_ids:
        return {}
    lq = t.label_quality.c
    rows = conn.execute(
        sa.select(t.items.c.id, t.items.c.external_key, t.classes.c.name)
        .join(t.label_quality, sa.and_(lq.item_id == t.items.c.id, lq.run_id == run_id))
        .outerjoin(t.classes, t.classes.c.id == lq.given_class_id)
        .where(t.items.c.id.in_(sorted({int(i) for i in item_ids})))
    )
    return {int(r.id): (r.external_key, r.name) for r in rows}


def describe(
    conn: Connection, run_id: int, info: dict[str, Any], rows: list[Any]
) -> list[dict[str, Any]]:
    """Page rows as dicts, with neighbour and duplicate ids turned into keys and labels."""
    evidence = info.get("evidence", {})
    threshold = info.get("outlier_threshold")
    wanted = [int(r.duplicate_of) for r in rows if r.duplicate_of is not None]
    for r in rows:
        wanted.extend(evidence.get(str(r.item_id), {}).get("neighbours", []))
    names = keys_and_labels(conn, run_id, wanted)
    out = []
    for r in rows:
        ev = evidence.get(str(r.item_id), {})
        neighbours = [
            {"key": names[n][0], "label": names[n][1]}
            for n in ev.get("neighbours", [])
            if n in names
        ]
        dup = names.get(int(r.duplicate_of)) if r.duplicate_of is not None else None
        out.append(
            {
                "item_id": int(r.item_id),
                "key": r.external_key,
                "given": r.given,
                "given_class_id": r.given_class_id,
                "suggested": r.suggested,
                "suggested_class_id": r.suggested_class_id,
                "quality": float(r.quality),
                "score": 1.0 - float(r.quality),
                "confidence": ev.get("confidence"),
                "is_issue": bool(r.is_issue),
                "outlier_score": None if r.outlier_score is None else float(r.outlier_score),
                "is_outlier": threshold is not None
                and r.outlier_score is not None
                and float(r.outlier_score) <= threshold,
                "duplicate_of": None if dup is None else dup[0],
                "duplicate_item_id": None if r.duplicate_of is None else int(r.duplicate_of),
                "duplicate_label": None if dup is None else dup[1],
                "neighbours": neighbours,
                "annotators": ev.get("annotators"),
                "cursor": cursor(r.score, int(r.item_id)),
            }
        )
    return out
