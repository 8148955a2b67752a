"""Label-quality results in the store: one ``label_quality`` row per item of a model run.

The results of a label-issue search hang off the model run whose probabilities they used (the
cross-validation run, or the run behind an existing model layer; a layer written without a run
gets an ``import`` run). Searching again with the same run replaces its rows. The summary,
the outlier threshold and the evidence of the flagged items (nearest neighbours, the model's
confidence) are kept in the run's ``metrics`` under ``label_quality``.

Pages are keyset-paged (no OFFSET): the flagged items by ``(quality, item_id)``, and the full
label ranking in two phases, the flagged items first and then the others, each phase one
indexed query on ``(run_id, quality)``. Its cursor names the phase and carries the rank of the
last row, so every row of the full ranking knows its 1-based position for free.
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
OLD_METHOD = "self_confidence"  # the method of searches stored before methods were recorded
FLAGGED, REST = "f", "r"  # the two phases of the full label ranking, as its cursors name them


NO_SEARCH = (
    "No label-issue search has run on this dataset yet: run `assay issues scan` "
    "(or ds.quality.find())."
)


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
    if row is None or _labels_changed(conn, layer_id, int(row.snapshot_id)):
        return None
    return int(row.id), str(row.name)


def _labels_changed(conn: Connection, layer_id: int, snapshot_id: int) -> bool:
    """Whether layer ``layer_id`` has labels newer than what snapshot ``snapshot_id`` pinned.

    Label ids only grow, and every change (a clear too) adds a row: a head newer than
    everything the snapshot pinned means the labels changed after it was taken.
    """
    h, sl = t.label_heads.c, t.snapshot_labels.c
    newest = conn.execute(sa.select(sa.func.max(h.label_id)).where(h.layer_id == layer_id))
    pinned = conn.execute(
        sa.select(sa.func.max(sl.label_id)).where(
            sl.snapshot_id == snapshot_id, sl.layer_id == layer_id
        )
    )
    return bool((newest.scalar() or 0) > (pinned.scalar() or 0))


def stale_note(conn: Connection, dataset_id: int, run_id: int) -> str | None:
    """Why the probabilities of run ``run_id`` are out of date, or None if they are not.

    They are when the run is a cross-validation whose training labels changed after it ran
    (its snapshot no longer matches the layer); runs of other kinds are never stale.
    """
    r = t.model_runs.c
    row = conn.execute(
        sa.select(r.name, r.kind, r.train_layer, r.snapshot_id).where(
            r.id == run_id, r.dataset_id == dataset_id
        )
    ).first()
    if row is None or row.kind != "cv" or row.snapshot_id is None or not row.train_layer:
        return None
    layer_id = conn.execute(
        sa.select(t.layers.c.id).where(
            t.layers.c.dataset_id == dataset_id, t.layers.c.name == row.train_layer
        )
    ).scalar()
    if layer_id is None or not _labels_changed(conn, int(layer_id), int(row.snapshot_id)):
        return None
    return (
        f"The labels of {row.train_layer!r} changed after cross-validation run {row.name!r} "
        "computed these probabilities: they are out of date; cross-validate again to "
        "recompute them."
    )


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

    ``columns`` holds ``given_class_id``, ``suggested_class_id``, ``quality``, ``is_issue``,
    ``loss`` and optionally ``outlier_score`` and ``duplicate_of`` (-1 for none), aligned with
    ``item_ids``.
    """
    lq = t.label_quality
    conn.execute(lq.delete().where(lq.c.run_id == run_id))
    names = [name for name, values in columns.items() if values is not None]
    lists = {name: _plain(columns[name]) for name in names}
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
    searched_at = datetime.fromisoformat(summary["computed_at"])
    conn.execute(
        t.model_runs.update()
        .where(t.model_runs.c.id == run_id)
        .values(metrics=metrics, searched_at=searched_at)
    )


def _plain(values: np.ndarray | None) -> list[Any]:
    """A column as Python values, NaN as None (PostgreSQL would keep a NaN, which sorts
    above every number)."""
    array = np.asarray(values)
    out: list[Any] = array.tolist()
    if array.dtype.kind == "f":
        for k in np.flatnonzero(np.isnan(array)):
            out[k] = None
    return out


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
            raise RunNotFound(NO_SEARCH)
        raise RunNotFound(f"No model run {run!r} with label-quality results in this dataset.")
    return max(rows, key=lambda row: (_json(row.metrics)[KEY]["computed_at"], row.id))


def latest_run(conn: Connection, dataset_id: int) -> Any:
    """(id, name) of the run whose label-issue search ran last, as :func:`get_run` picks it,
    without reading any run's ``metrics``; RunNotFound if none has run."""
    r = t.model_runs.c
    row = conn.execute(
        sa.select(r.id, r.name)
        .where(r.dataset_id == dataset_id, r.searched_at.is_not(None))
        .order_by(r.searched_at.desc(), r.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise RunNotFound(NO_SEARCH)
    return row


def summary(row: Row[Any]) -> dict[str, Any]:
    """The label-quality summary stored on a run row from :func:`get_run`.

    Searches stored before the method and staleness were recorded read as the method used
    then (:data:`OLD_METHOD`) and as not stale.
    """
    info = dict(_json(row.metrics)[KEY])
    info.setdefault("method", OLD_METHOD)
    info.setdefault("stale", False)
    info.setdefault("stale_message", None)
    return info


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


def _check(kind: str, limit: int) -> None:
    if kind not in KINDS:
        raise InvalidParameter(f"Unknown issue kind {kind!r}; use one of {', '.join(KINDS)}.")
    if limit < 1:
        raise InvalidParameter(f"limit must be at least 1; got {limit}.")


def _select(kind: str) -> tuple[sa.Select[Any], Any]:
    """The rows of one kind with their class names, and the score they are ordered by."""
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
    )
    return query, score


def _keyset(
    conn: Connection, query: sa.Select[Any], score: Any, after: tuple[float, int] | None, limit: int
) -> list[Row[Any]]:
    """One page of ``query`` by (score, item id), after the key ``after``."""
    item_id = t.label_quality.c.item_id
    if after is not None:
        query = query.where(sa.tuple_(score, item_id) > sa.tuple_(*after))
    return list(conn.execute(query.order_by(score, item_id).limit(limit)))


def page(
    conn: Connection,
    run_id: int,
    info: dict[str, Any],
    *,
    kind: str = "label",
    limit: int = 50,
    after: str | None = None,
    only_issues: bool = True,
) -> list[dict[str, Any]]:
    """One page of a run's rows as :func:`describe` gives them, most suspect first: by quality
    (``label``), outlier score (``outlier``) or item id (``duplicate``); keyset-paged with
    ``after``, a row's ``cursor``.

    For ``label`` without ``only_issues`` it is the full ranking (:func:`ranking`, flagged
    first, with ranks); for the other kinds ``only_issues=False`` orders every row by score.
    """
    _check(kind, limit)
    if kind == "label" and not only_issues:
        rows, first = ranking(conn, run_id, limit=limit, after=after)
        return describe(conn, run_id, info, rows, first_rank=first)
    query, score = _select(kind)
    query = query.where(*_where(run_id, kind, only_issues, info))
    rows = _keyset(conn, query, score, _parse_cursor(after) if after else None, limit)
    return describe(conn, run_id, info, rows)


def ranking(
    conn: Connection, run_id: int, *, limit: int = 50, after: str | None = None
) -> tuple[list[Row[Any]], int]:
    """One page of the full label ranking: the flagged items by (quality, item id), then the
    others likewise. Returns the rows and the rank (1-based) of the first.

    ``after`` is a cursor of :func:`ranked_cursor`; each phase is one keyset query.
    """
    _check("label", limit)
    phase, rank, key = _parse_ranked(after) if after else (FLAGGED, 0, None)
    query, score = _select("label")
    is_issue = t.label_quality.c.is_issue
    query = query.where(t.label_quality.c.run_id == run_id)
    rows: list[Row[Any]] = []
    if phase == FLAGGED:
        rows = _keyset(conn, query.where(is_issue.is_(True)), score, key, limit)
        key = None  # the rest starts from its beginning
    if len(rows) < limit:
        rows += _keyset(conn, query.where(is_issue.is_(False)), score, key, limit - len(rows))
    return rows, rank + 1


def cursor(score: float | None, item_id: int) -> str:
    """The keyset cursor after a row (exact: ``repr`` round-trips floats)."""
    return f"{0.0 if score is None else float(score)!r}:{item_id}"


def ranked_cursor(is_issue: bool, rank: int, quality: float, item_id: int) -> str:
    """The cursor after a row of the full label ranking: its phase, rank and key."""
    return f"{FLAGGED if is_issue else REST}:{rank}:{float(quality)!r}:{item_id}"


def _bad_cursor(text: str) -> InvalidParameter:
    return InvalidParameter(
        f"Bad cursor {text!r}: pass the 'cursor' of the last row of the previous page."
    )


def _parse_cursor(text: str) -> tuple[float, int]:
    try:
        score, item_id = text.rsplit(":", 1)
        return float(score), int(item_id)
    except ValueError:
        raise _bad_cursor(text) from None


def _parse_ranked(text: str) -> tuple[str, int, tuple[float, int]]:
    phase, _, rest = text.partition(":")
    rank, _, key = rest.partition(":")
    if phase not in (FLAGGED, REST) or not rank.isdigit():
        raise _bad_cursor(text)
    return phase, int(rank), _parse_cursor(key)


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
    conn: Connection,
    run_id: int,
    info: dict[str, Any],
    rows: list[Any],
    first_rank: int | None = None,
) -> list[dict[str, Any]]:
    """Page rows as dicts, with neighbour and duplicate ids turned into keys and labels.

    With ``first_rank`` the rows are a page of the full label ranking: each gets its ``rank``
    and a :func:`ranked_cursor`; otherwise ``rank`` is None.
    """
    evidence = info.get("evidence", {})
    threshold = info.get("outlier_threshold")
    wanted = [int(r.duplicate_of) for r in rows if r.duplicate_of is not None]
    for r in rows:
        wanted.extend(evidence.get(str(r.item_id), {}).get("neighbours", []))
    names = keys_and_labels(conn, run_id, wanted)
    out = []
    for n, r in enumerate(rows):
        ev = evidence.get(str(r.item_id), {})
        rank = None if first_rank is None else first_rank + n
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
                # Box runs: the image's suspect boxes and the box set they were found in.
                "suspects": ev.get("suspects"),
                "label_id": ev.get("label_id"),
                # Number runs: the given value, the predicted one and its interval.
                "number": ev.get("number"),
                "rank": rank,
                "cursor": cursor(r.score, int(r.item_id))
                if rank is None
                else ranked_cursor(bool(r.is_issue), rank, r.score, int(r.item_id)),
            }
        )
    return out


def undecided_rows(
    conn: Connection,
    dataset_id: int,
    run: Row[Any],
    info: dict[str, Any],
    *,
    top: int | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    """The rows of a label-quality run to open ``mislabel`` cases for, most suspect first: the
    flagged ones (``top``: the first of the full ranking instead), read in pages, less those
    whose case was resolved or dismissed at the label the run checked (a search of a newer
    version makes the item eligible again), at most ``limit``. The one rule of every kind's
    cases (boxes, tags, spans, numbers)."""
    found: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        size = 1_000 if top is None else min(1_000, top - len(found))
        if size <= 0:
            break
        rows = page(conn, run.id, info, kind="label", limit=size, after=after,
                    only_issues=top is None)  # fmt: skip
        found.extend(rows)
        if len(rows) < size:
            break
        after = rows[-1]["cursor"]
    rc = t.review_cases.c
    decided: set[tuple[int, Any]] = set()
    ids = [r["item_id"] for r in found]
    for start in range(0, len(ids), 1_000):
        for item_id, ev in conn.execute(
            sa.select(rc.item_id, rc.evidence).where(
                rc.dataset_id == dataset_id, rc.reason == "mislabel",
                rc.state.in_(("resolved", "dismissed")), rc.item_id.in_(ids[start:start + 1_000]),
            )
        ):  # fmt: skip
            data = orjson.loads(ev) if isinstance(ev, str | bytes) else ev
            decided.add((int(item_id), (data or {}).get("label_id")))
    found = [r for r in found if (r["item_id"], r["label_id"]) not in decided]
    return found if limit is None else found[:limit]


def value_columns(quality: np.ndarray, is_issue: np.ndarray) -> dict[str, np.ndarray | None]:
    """The stored columns of a run over a kind whose labels are not one class (boxes, tags,
    spans, numbers): its quality and flags; ``loss`` is ``-ln(quality)``, so the grid's loss
    order is the label-quality order, as for classes."""
    return {
        "quality": quality,
        "loss": -np.log(np.clip(quality, 1e-12, 1.0)),
        "is_issue": is_issue,
        "given_class_id": None,
        "suggested_class_id": None,
        "outlier_score": None,
        "duplicate_of": None,
    }


def save_for_layer(
    conn: Connection,
    dataset_id: int,
    predictions: str,
    actor: str,
    item_ids: np.ndarray,
    quality: np.ndarray,
    is_issue: np.ndarray,
    summary: dict[str, Any],
) -> int:
    """Save a search over a kind whose labels are not one class as the run of the layer of
    predictions it read (a run imported for it when no run of ours wrote that layer), with
    the staleness note of that run in ``summary``. Returns the run's id."""
    run_id = run_for_layer(conn, dataset_id, predictions)
    if run_id is None:
        run_id = import_run(conn, dataset_id, predictions, actor)
    note = stale_note(conn, dataset_id, run_id)
    summary.update(stale=note is not None, stale_message=note)
    save(conn, run_id, item_ids.astype(np.int64), value_columns(quality, is_issue), summary)
    return int(run_id)


def open_mislabel_cases(
    conn: Connection,
    dataset_id: int,
    run: Row[Any],
    evidence: Any,
    *,
    limit: int | None,
    actor: str,
    top: int | None = None,
) -> dict[str, Any]:
    """``mislabel`` cases for the flagged items of a run over a kind whose labels are not one
    class (``top``: the first items of the full ranking instead), most suspect first, less
    those already decided (:func:`undecided_rows`); ``evidence(row, run, info)`` is the
    kind's evidence of one row."""
    from assay.review.queue import open_cases

    info = summary(run)
    found = undecided_rows(conn, dataset_id, run, info, top=top, limit=limit)
    cases = [
        {
            "item_id": r["item_id"],
            "reason": "mislabel",
            "score": round(1.0 - float(r["quality"]), 6),
            "evidence": evidence(r, run, info),
        }
        for r in found
    ]
    opened = open_cases(conn, dataset_id, cases, actor=actor)
    empty = {"found": 0, "opened": 0}
    return {
        "run_id": int(run.id), "run": run.name,
        "mislabel": {"found": len(found), "opened": len(opened)},
        "outlier": empty, "duplicate": dict(empty),
    }  # fmt: skip
