"""Annotation layers: create, copy, rename, freeze.

A layer is a named set of current labels with its own history: ``import`` (labels that came
with the data), ``human`` (an annotator's, or shared), ``model`` (a model run's, with
probabilities), ``consensus`` and ``reviewed`` (decisions from the review queue).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, InvalidParameter
from assay.labels.writes import lock_layer
from assay.store import queries
from assay.store import schema as t
from assay.store.naming import clean_name

MAX_NAME = 200


def layer_info(row: Any) -> dict[str, Any]:
    """A layer row as a plain dict."""
    return {
        "name": row.name,
        "kind": row.kind,
        "frozen": bool(row.frozen),
        "owner": row.owner,
        "description": row.description,
        "origin": row.origin,
        "created_at": row.created_at,
    }


def _check_name(conn: Connection, dataset_id: int, name: str) -> str:
    name = clean_name(name)
    if not name or len(name) > MAX_NAME:
        raise InvalidParameter(f"A layer name must be 1 to {MAX_NAME} characters long.")
    taken = conn.execute(
        sa.select(t.layers.c.id).where(t.layers.c.dataset_id == dataset_id, t.layers.c.name == name)
    ).first()
    if taken is not None:
        raise Conflict(f"This dataset already has a layer named {name!r}; choose another name.")
    return name


def create_layer(
    conn: Connection,
    dataset_id: int,
    name: str,
    *,
    kind: str = "human",
    owner: str | None = None,
    description: str = "",
    origin: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add an empty layer; Conflict if the name is taken."""
    if kind not in t.LAYER_KINDS:
        raise InvalidParameter(
            f"Unknown layer kind {kind!r}; use one of {', '.join(t.LAYER_KINDS)}."
        )
    name = _check_name(conn, dataset_id, name)
    conn.execute(
        t.layers.insert().values(
            dataset_id=dataset_id,
            name=name,
            kind=kind,
            owner=owner,
            description=description,
            origin=origin,
            created_at=datetime.now(UTC),
        )
    )
    return layer_info(queries.get_layer(conn, dataset_id, name))


def ensure_layer(conn: Connection, dataset_id: int, name: str, *, kind: str, **kw: Any) -> None:
    """Create the layer unless it exists (consensus and reviewed layers appear on first use)."""
    exists = conn.execute(
        sa.select(t.layers.c.id).where(t.layers.c.dataset_id == dataset_id, t.layers.c.name == name)
    ).first()
    if exists is None:
        create_layer(conn, dataset_id, name, kind=kind, **kw)


def copy_layer(
    conn: Connection,
    dataset_id: int,
    source: str,
    target: str,
    *,
    author: str,
    kind: str | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """A new layer holding the current labels of ``source`` as new label rows.

    The copies are labels of their own (author, time, a note naming the source), so the copy
    can be edited without touching the source and its history says where it started.
    """
    src = lock_layer(conn, dataset_id, source)
    info = create_layer(
        conn,
        dataset_id,
        target,
        kind=kind or ("human" if src.kind == "import" else src.kind),
        owner=owner,
        description=f"Copy of {source!r}",
        origin={"copied_from": source},
    )
    new_id = queries.get_layer(conn, dataset_id, info["name"]).id
    h, lab = t.label_heads, t.labels
    copied = (
        sa.select(
            sa.literal(new_id, t.Id).label("layer_id"),
            h.c.item_id,
            h.c.class_id,
            sa.literal(author).label("author"),
            sa.literal(datetime.now(UTC), t.Timestamp()).label("created_at"),
            (
                sa.literal(f"copied from layer {source!r}, label #") + sa.cast(lab.c.id, sa.String)
            ).label("reason"),
            lab.c.probs,
            lab.c.confidence,
        )
        .join(lab, lab.c.id == h.c.label_id)
        .where(h.c.layer_id == src.id, h.c.class_id.is_not(None))
        .order_by(h.c.item_id)
    )
    columns = [
        "layer_id",
        "item_id",
        "class_id",
        "author",
        "created_at",
        "reason",
        "probs",
        "confidence",
    ]
    conn.execute(lab.insert().from_select(columns, copied))
    # The new layer is invisible to other transactions until commit: all its labels are ours.
    conn.execute(
        h.insert().from_select(
            ["layer_id", "item_id", "label_id", "class_id"],
            sa.select(lab.c.layer_id, lab.c.item_id, lab.c.id, lab.c.class_id).where(
                lab.c.layer_id == new_id
            ),
        )
    )
    return info


def rename_layer(conn: Connection, dataset_id: int, old: str, new: str) -> dict[str, Any]:
    """Give a layer a new name; its labels and history stay as they are."""
    row = lock_layer(conn, dataset_id, old)
    new = _check_name(conn, dataset_id, new)
    conn.execute(t.layers.update().where(t.layers.c.id == row.id).values(name=new))
    return layer_info(queries.get_layer(conn, dataset_id, new))


def freeze_layer(conn: Connection, dataset_id: int, name: str, frozen: bool = True) -> dict:
    """Make a layer read-only (or writable again); writes to a frozen layer are refused."""
    row = lock_layer(conn, dataset_id, name)
    conn.execute(t.layers.update().where(t.layers.c.id == row.id).values(frozen=frozen))
    return layer_info(queries.get_layer(conn, dataset_id, name))
