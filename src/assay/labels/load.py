"""Stream current labels out of the store: the values of one kind of layers (a LabelMatrix for
classification), or model probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from assay.errors import InvalidParameter
from assay.labels.kinds import AnnotationKind, get_kind, kind_of_layers
from assay.labels.matrix import LabelMatrix
from assay.store import queries
from assay.store import schema as t

CLASSIFICATION = get_kind("classification")


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


def layer_rows(conn: Connection, dataset_id: int, layers: Sequence[str]) -> list[Row[Any]]:
    """The rows of ``layers``: named at least once, each once; LayerNotFound with a hint."""
    if not layers:
        raise InvalidParameter("Name at least one layer.")
    if len(set(layers)) != len(layers):
        raise InvalidParameter("Each layer may be named once.")
    return [queries.get_layer(conn, dataset_id, name) for name in layers]


def load_values(
    conn: Connection,
    dataset_id: int,
    layers: Sequence[str],
    filter: str | None = None,
    *,
    kind: AnnotationKind | None = None,
) -> tuple[AnnotationKind, Any]:
    """The annotation kind of ``layers`` and their current values as that kind loads them
    (:meth:`AnnotationKind.load`; a LabelMatrix for classification).

    InvalidParameter when the layers hold different kinds, or (``kind`` given) not ``kind``.
    """
    rows = layer_rows(conn, dataset_id, layers)
    found = kind_of_layers(rows)
    if kind is not None and found is not kind:
        raise InvalidParameter(
            f"{', '.join(repr(n) for n in layers)}: {found.name} labels, not {kind.name}; "
            f"this works on {kind.name} layers only."
        )
    return found, found.load(conn, dataset_id, rows, filter)


def load_matrix(
    conn: Connection,
    dataset_id: int,
    layers: Sequence[str],
    filter: str | None = None,
) -> LabelMatrix:
    """Current classes of classification ``layers`` for the items ``filter`` selects that
    have at least one (see :meth:`Classification.load`); InvalidParameter for layers of
    another kind."""
    matrix: LabelMatrix = load_values(conn, dataset_id, layers, filter, kind=CLASSIFICATION)[1]
    return matrix


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
