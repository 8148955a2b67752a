"""Stream current labels out of the store into a LabelMatrix (or model probabilities)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import InvalidParameter
from assay.labels.matrix import MISSING, LabelMatrix
from assay.store import filters, queries
from assay.store import schema as t

CHUNK = 50_000


def default_layers(conn: Connection, dataset_id: int) -> list[str]:
    """The layers agreement, consensus and review scans compare when none are named.

    One human layer per person, so that nobody weighs more by making more layers: a layer
    without an owner counts on its own, and of the layers one owner has, only the one with
    the most recent label (the newest layer if none has labels). With fewer than two such
    layers, the import layers are added. Layers come in creation order.
    """
    rows = queries.list_layers(conn, dataset_id)
    human = [r for r in rows if r.kind == "human"]
    chosen = {r.id for r in human if r.owner is None} | set(_latest_per_owner(conn, human))
    if len(chosen) < 2:
        chosen |= {r.id for r in rows if r.kind == "import"}
    return [r.name for r in rows if r.id in chosen]


def _latest_per_owner(conn: Connection, layers: Sequence[Any]) -> list[int]:
    """Of each owner's layers, the id of the one labeled last (else the newest)."""
    by_owner: dict[str, list[Any]] = {}
    for row in layers:
        if row.owner is not None:
            by_owner.setdefault(row.owner, []).append(row)
    last = _last_label_ids(conn, [r.id for rs in by_owner.values() if len(rs) > 1 for r in rs])
    return [max(rs, key=lambda r: (last.get(r.id, 0), r.id)).id for rs in by_owner.values()]


def _last_label_ids(conn: Connection, layer_ids: list[int]) -> dict[int, int]:
    """Layer id -> the id of its latest label (layers without labels are left out)."""
    if not layer_ids:
        return {}
    lab = t.labels.c
    query = sa.select(lab.layer_id, sa.func.max(lab.id)).where(lab.layer_id.in_(layer_ids))
    return {int(a): int(b) for a, b in conn.execute(query.group_by(lab.layer_id))}


def load_matrix(
    conn: Connection,
    dataset_id: int,
    layers: Sequence[str],
    filter: str | None = None,
) -> LabelMatrix:
    """Current labels of ``layers`` for the items ``filter`` selects that have at least one.

    Streams (item, layer, class) triples in chunks from ``label_heads``: the only thing held
    in memory is the int16 matrix itself.
    """
    if not layers:
        raise InvalidParameter("Name at least one layer.")
    if len(set(layers)) != len(layers):
        raise InvalidParameter("Each layer may be named once.")
    layer_rows = [queries.get_layer(conn, dataset_id, name) for name in layers]
    column_of = {r.id: j for j, r in enumerate(layer_rows)}
    classes = queries.list_classes(conn, dataset_id)
    code_of = {c.id: i for i, c in enumerate(classes)}
    h = t.label_heads
    query = sa.select(h.c.item_id, h.c.layer_id, h.c.class_id).where(
        h.c.layer_id.in_(list(column_of)), h.c.class_id.is_not(None)
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.join(t.items, t.items.c.id == h.c.item_id).where(where)
    items: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for part in queries.iter_tuples(conn, query, CHUNK):
        arr = np.array(part, dtype=np.int64).reshape(-1, 3)
        items.append(arr[:, 0])
        cols.append(_lookup(column_of, arr[:, 1]))
        codes.append(_lookup(code_of, arr[:, 2]))
    if not items:
        empty = np.zeros((0, len(layers)), dtype=np.int16)
        return LabelMatrix(np.zeros(0, np.int64), list(layers), [c.name for c in classes], empty)
    all_items = np.concatenate(items)
    item_ids, rows = np.unique(all_items, return_inverse=True)
    matrix = np.full((len(item_ids), len(layers)), MISSING, dtype=np.int16)
    matrix[rows, np.concatenate(cols)] = np.concatenate(codes)
    return LabelMatrix(item_ids, list(layers), [c.name for c in classes], matrix)


def _lookup(mapping: dict[int, int], keys: np.ndarray) -> np.ndarray:
    """``mapping[k]`` for every k of ``keys``, vectorized (every key is in the mapping)."""
    known = np.array(sorted(mapping), dtype=np.int64)
    values = np.array([mapping[k] for k in known.tolist()], dtype=np.int64)
    return values[np.searchsorted(known, keys)]


def load_probs(
    conn: Connection, dataset_id: int, layer: str, item_ids: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of a model layer for ``item_ids``: (probs, has_probs mask)."""
    layer_id = queries.get_layer(conn, dataset_id, layer).id
    h, lab = t.label_heads, t.labels
    probs = np.zeros((len(item_ids), n_classes), dtype=np.float64)
    found = np.zeros(len(item_ids), dtype=bool)
    position = {int(i): k for k, i in enumerate(item_ids)}
    ids = [int(i) for i in item_ids]
    for start in range(0, len(ids), 5_000):
        rows = conn.execute(
            sa.select(h.c.item_id, lab.c.probs)
            .join(lab, lab.c.id == h.c.label_id)
            .where(h.c.layer_id == layer_id, h.c.item_id.in_(ids[start : start + 5_000]))
        )
        for item_id, value in rows:
            if value is None:
                continue
            if isinstance(value, (str, bytes)):
                value = orjson.loads(value)
            k = position[item_id]
            probs[k] = value
            found[k] = True
    return probs, found


def current_classes(
    conn: Connection, dataset_id: int, layer: str, item_ids: Sequence[int]
) -> dict[int, str]:
    """item -> class name of its current label in ``layer``, for those of ``item_ids`` that
    have one (empty when the dataset has no such layer: a page of items shows no label)."""
    layer_id = conn.execute(
        sa.select(t.layers.c.id).where(
            t.layers.c.dataset_id == dataset_id, t.layers.c.name == layer
        )
    ).scalar()
    if layer_id is None or not item_ids:
        return {}
    h, c = t.label_heads.c, t.classes.c
    rows = conn.execute(
        sa.select(h.item_id, c.name)
        .join(t.classes, c.id == h.class_id)
        .where(h.layer_id == layer_id, h.item_id.in_(list(item_ids)))
    ).all()
    return {r.item_id: r.name for r in rows}
