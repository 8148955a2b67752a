"""Stream current labels out of the store into a LabelMatrix (or model probabilities)."""

from __future__ import annotations

from collections.abc import Sequence

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
    """The layers agreement compares when none are named: the human ones, or, with fewer than
    two of them, the human and import layers."""
    rows = queries.list_layers(conn, dataset_id)
    human = [r.name for r in rows if r.kind == "human"]
    if len(human) >= 2:
        return human
    return [r.name for r in rows if r.kind in ("human", "import")]


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
