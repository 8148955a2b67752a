"""Suggestion lists in the store: claim, fill, supersede, and read them back in rank order.

A list goes ``running`` -> ``ready`` (or ``failed``); a newer ready list of the same layer
makes it ``superseded``. The partial unique index ``uq_suggestion_lists_running`` allows one
running list per layer, so two refreshes cannot run at once even from two processes; a list
left running by a process that died (same host, pid gone) or that ran longer than
``RUNNING_TIMEOUT_S`` is marked failed when the next one is claimed.

Whether a suggestion is *done* is not stored: it is done while its item has a label in the
layer (``label_heads``), which is one primary-key probe per row and always current, also
after a label is cleared.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, NotFound
from assay.labels.kinds import get_kind
from assay.processes import pid_alive
from assay.store import bulk
from assay.store import schema as t

RUNNING_TIMEOUT_S = 6 * 3600
MAX_REASON = 500


class SuggestionsBusy(Conflict):
    """A suggestion list for the layer is being computed right now."""


class ListNotFound(NotFound):
    """No suggestion list with that id (or none yet for the layer)."""


def claim(
    conn: Connection,
    dataset_id: int,
    layer: Any,
    *,
    requested: str,
    batch: int,
    seed: int,
    filter: str | None,
    params: dict[str, Any],
    author: str,
) -> int:
    """Insert a ``running`` list for ``layer`` (a layer row); SuggestionsBusy if one runs."""
    _expire_abandoned(conn, layer.id)
    running = _running(conn, layer.id)
    if running is not None:
        raise _busy(layer.name, running)
    try:
        with conn.begin_nested():
            return int(
                conn.execute(
                    t.suggestion_lists.insert().values(
                        dataset_id=dataset_id,
                        layer_id=layer.id,
                        state="running",
                        requested=requested,
                        batch=batch,
                        seed=seed,
                        filter=filter,
                        params=params,
                        pid=os.getpid(),
                        host=socket.gethostname(),
                        created_by=author,
                        created_at=datetime.now(UTC),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
    except sa.exc.IntegrityError:  # another process claimed it between our check and insert
        running = _running(conn, layer.id)
        raise _busy(layer.name, running) from None


def _running(conn: Connection, layer_id: int) -> Any:
    c = t.suggestion_lists.c
    return conn.execute(
        sa.select(t.suggestion_lists).where(c.layer_id == layer_id, c.state == "running")
    ).first()


def _busy(layer: str, row: Any) -> SuggestionsBusy:
    since = f" since {row.created_at:%Y-%m-%d %H:%M:%S} UTC" if row is not None else ""
    who = f" (process {row.pid} on {row.host}, by {row.created_by})" if row is not None else ""
    return SuggestionsBusy(
        f"Suggestions for layer {layer!r} are already being computed{since}{who}; nothing was "
        "changed. Wait for that run to finish, then refresh again."
    )


def _expire_abandoned(conn: Connection, layer_id: int) -> None:
    """Mark failed a running list whose process is gone or that ran past the timeout."""
    row = _running(conn, layer_id)
    if row is None:
        return
    too_old = row.created_at < datetime.now(UTC) - timedelta(seconds=RUNNING_TIMEOUT_S)
    dead = row.host == socket.gethostname() and not pid_alive(row.pid)
    if too_old or dead:
        why = "its process is gone" if dead else f"it ran longer than {RUNNING_TIMEOUT_S} s"
        fail(conn, row.id, f"abandoned: {why}")


def fill(
    conn: Connection,
    list_id: int,
    *,
    item_ids: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    reasons: Sequence[str],
    values: dict[str, Any],
) -> None:
    """Write the ranked rows, mark the list ready and older ready lists of its layer superseded."""
    rows = [
        (list_id, rank, int(item), _finite(score), reason[:MAX_REASON])
        for rank, (item, score, reason) in enumerate(zip(item_ids, scores, reasons, strict=True), 1)
    ]
    bulk.bulk_insert(conn, "suggestions", ("list_id", "rank", "item_id", "score", "reason"), rows)
    c = t.suggestion_lists.c
    layer_id = conn.execute(sa.select(c.layer_id).where(c.id == list_id)).scalar_one()
    conn.execute(
        t.suggestion_lists.update()
        .where(c.layer_id == layer_id, c.state == "ready", c.id != list_id)
        .values(state="superseded")
    )
    conn.execute(
        t.suggestion_lists.update()
        .where(c.id == list_id)
        .values(state="ready", finished_at=datetime.now(UTC), **values)
    )


def _finite(value: float) -> float:
    value = float(value)
    return value if np.isfinite(value) else 0.0


def fail(conn: Connection, list_id: int, error: str) -> None:
    """Mark a running list failed with the reason (its rows, if any, stay unread)."""
    c = t.suggestion_lists.c
    conn.execute(
        t.suggestion_lists.update()
        .where(c.id == list_id, c.state == "running")
        .values(state="failed", finished_at=datetime.now(UTC), error=error[:2000])
    )


def get_list(conn: Connection, dataset_id: int, list_id: int) -> Any:
    """One list row with its layer name, or ListNotFound."""
    row = conn.execute(_list_query(dataset_id).where(t.suggestion_lists.c.id == list_id)).first()
    if row is None:
        raise ListNotFound(f"No suggestion list {list_id} in this dataset.")
    return row


def latest(conn: Connection, dataset_id: int, layer_id: int, states: Sequence[str]) -> Any:
    """The newest list of the layer in one of ``states``, or None."""
    c = t.suggestion_lists.c
    query = _list_query(dataset_id).where(c.layer_id == layer_id, c.state.in_(list(states)))
    return conn.execute(query.order_by(c.id.desc()).limit(1)).first()


def list_lists(conn: Connection, dataset_id: int, layer_id: int | None, limit: int) -> list[Any]:
    """The dataset's lists (of one layer), newest first."""
    c = t.suggestion_lists.c
    query = _list_query(dataset_id)
    if layer_id is not None:
        query = query.where(c.layer_id == layer_id)
    return list(conn.execute(query.order_by(c.id.desc()).limit(limit)))


def _list_query(dataset_id: int) -> sa.Select[Any]:
    s, la = t.suggestion_lists, t.layers
    return (
        sa.select(s, la.c.name.label("layer"))
        .join(la, la.c.id == s.c.layer_id)
        .where(s.c.dataset_id == dataset_id)
    )


def keeps_values(conn: Connection, layer_id: int) -> bool:
    """True when the layer's kind keeps its labels as JSON values (boxes), not as a class: its
    labeled items are the heads whose label holds a value (``label_heads.class_id`` is NULL)."""
    return not get_kind(_kind_of(conn, layer_id)).stores_class


def counts(conn: Connection, list_id: int, layer_id: int) -> tuple[int, int]:
    """(suggestions, of which done) for one list."""
    s, h, lab = t.suggestions.c, t.label_heads.c, t.labels.c
    if keeps_values(conn, layer_id):
        done_col: Any = lab.id
        source = t.suggestions.outerjoin(
            t.label_heads.join(t.labels, (lab.id == h.label_id) & lab.value.is_not(None)),
            (h.layer_id == layer_id) & (h.item_id == s.item_id),
        )
    else:
        done_col = h.class_id
        source = t.suggestions.outerjoin(
            t.label_heads,
            (h.layer_id == layer_id) & (h.item_id == s.item_id) & h.class_id.is_not(None),
        )
    n, done = conn.execute(
        sa.select(sa.func.count(), sa.func.count(done_col))
        .select_from(source)
        .where(s.list_id == list_id)
    ).one()
    return int(n), int(done)


def rows(
    conn: Connection,
    list_id: int,
    layer_id: int,
    *,
    after_rank: int | None = None,
    limit: int = 100,
    pending_only: bool = False,
) -> list[dict[str, Any]]:
    """Suggestions of a list in rank order (keyset on rank), each with its current label in
    the layer (None while pending)."""
    s, h, i, k, lab = t.suggestions.c, t.label_heads.c, t.items.c, t.classes.c, t.labels.c
    kind = get_kind(_kind_of(conn, layer_id))
    values = not kind.stores_class
    query = (
        sa.select(s.rank, s.item_id, i.external_key, s.score, s.reason, k.name.label("label"))
        .select_from(t.suggestions)
        .join(t.items, i.id == s.item_id)
        .outerjoin(t.label_heads, (h.layer_id == layer_id) & (h.item_id == s.item_id))
        .outerjoin(t.classes, k.id == h.class_id)
        .where(s.list_id == list_id)
    )
    if values:  # a box layer: done when its label holds a value ([] included)
        query = query.outerjoin(t.labels, lab.id == h.label_id).add_columns(lab.value)
    if after_rank is not None:
        query = query.where(s.rank > after_rank)
    if pending_only:
        query = query.where(lab.value.is_(None) if values else k.id.is_(None))
    result = conn.execute(query.order_by(s.rank).limit(limit))
    out = []
    for r in result:
        label = r.label
        if values and r.value is not None:
            label = kind.show(r.value)
        out.append(
            {
                "rank": r.rank,
                "item_id": r.item_id,
                "key": r.external_key,
                "score": r.score,
                "reason": r.reason,
                "done": label is not None,
                "label": label,
            }
        )
    return out


def _kind_of(conn: Connection, layer_id: int) -> str:
    return str(
        conn.execute(sa.select(t.layers.c.value_kind).where(t.layers.c.id == layer_id)).scalar_one()
    )


def rank_of(conn: Connection, list_id: int, item_id: int) -> int | None:
    """The rank of an item in a list, or None if the list does not hold it."""
    s = t.suggestions.c
    return conn.execute(
        sa.select(s.rank).where(s.list_id == list_id, s.item_id == item_id)
    ).scalar()


def as_list(value: Any) -> list[Any]:
    """A JSON column's value as a list (SQLite may hand back text)."""
    if isinstance(value, (str, bytes)):
        value = orjson.loads(value)
    return list(value or [])


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON column's value as a dict."""
    if isinstance(value, (str, bytes)):
        value = orjson.loads(value)
    return dict(value or {})
