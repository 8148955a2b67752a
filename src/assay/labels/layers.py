"""Annotation layers: create, copy, rename, freeze, and the keys that pick their classes.

A layer is a named set of current labels with its own history. Its ``kind`` says where the
labels come from: ``import`` (labels that came with the data), ``human`` (an annotator's, or
shared), ``model`` (a model run's, with probabilities), ``consensus`` and ``reviewed``
(decisions from the review queue). Its ``value_kind`` says what the labels are: an annotation
kind of :mod:`assay.labels.kinds` (``classification`` unless made with another).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, InvalidParameter
from assay.labels.hotkeys import check_keys
from assay.labels.kinds import DEFAULT_KIND, get_kind
from assay.labels.kinds.classification import class_ids
from assay.labels.names import layer_name, lookalike_key, reserved_kind
from assay.labels.writes import lock_layer
from assay.store import queries
from assay.store import schema as t


def layer_info(row: Any) -> dict[str, Any]:
    """A layer row as a plain dict."""
    return {
        "name": row.name,
        "kind": row.kind,
        "value_kind": row.value_kind,
        "frozen": bool(row.frozen),
        "owner": row.owner,
        "description": row.description,
        "origin": row.origin,
        "hotkeys": row.hotkeys or {},
        "options": row.options or {},
        "created_at": row.created_at,
    }


def _check_name(
    conn: Connection,
    dataset_id: int,
    name: str,
    *,
    kind: str,
    owner: str | None,
    renaming: int | None = None,
) -> str:
    """The new name in normal form: refused when reserved for another kind, or when it is,
    or looks like, the name of another layer of the dataset (``renaming``: that layer's id)."""
    name = layer_name(name)
    key = lookalike_key(name)
    for row in queries.list_layers(conn, dataset_id):
        if row.id != renaming and lookalike_key(row.name) == key:
            same = "already has" if row.name == name else "has a lookalike,"
            raise Conflict(f"This dataset {same} a layer named {row.name!r}; choose another name.")
    _check_reserved(name, kind, owner)
    return name


def _check_reserved(name: str, kind: str, owner: str | None) -> None:
    """Refuse a reserved name (or a lookalike of one) for a layer of another kind or owned."""
    reserved = reserved_kind(name)
    if reserved is None or (reserved == (name, kind) and owner is None):
        return
    like = "" if name == reserved[0] else f" looks like {reserved[0]!r}, which"
    raise InvalidParameter(
        f"The layer name {name!r}{like} is reserved: Assay writes {reserved[1]} labels into "
        f"{reserved[0]!r} by itself, in a {reserved[1]} layer nobody owns. Choose another name."
    )


def check_system_target(conn: Connection, dataset_id: int, name: str, kind: str) -> Any:
    """The layer the system is about to write ``kind`` labels into (None if it does not exist
    yet and may be created).

    Imports, review decisions and consensus write only into a layer of their own kind, never
    into a person's (``human``) layer, and a reserved name only when the layer has no owner.

    Raises
    ------
    InvalidParameter
        The layer exists with another kind, or with a reserved name and an owner; or it does
        not exist and ``name`` is not a name it may be created with.
    Conflict
        The layer does not exist and ``name`` looks like the name of another layer.
    """
    row = conn.execute(
        sa.select(t.layers).where(t.layers.c.dataset_id == dataset_id, t.layers.c.name == name)
    ).first()
    if row is None:
        normal = _check_name(conn, dataset_id, name, kind=kind, owner=None)
        if normal != name:
            raise InvalidParameter(f"Name the new layer {normal!r}, not {name!r}.")
        return None
    if row.kind != kind or (reserved_kind(name) is not None and row.owner is not None):
        owned = f", {row.owner}'s" if row.owner else ""
        raise InvalidParameter(
            f"Layer {name!r} is a layer of kind {row.kind}{owned}, not a {kind} layer: "
            f"Assay writes {kind} labels only into {kind} layers, never into a person's. Rename "
            f"that layer (`assay layer rename {name} NEW`) or choose another target."
        )
    return row


def create_layer(
    conn: Connection,
    dataset_id: int,
    name: str,
    *,
    kind: str = "human",
    value_kind: str = DEFAULT_KIND,
    owner: str | None = None,
    description: str = "",
    origin: dict[str, Any] | None = None,
    created_at: datetime | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Add an empty layer of origin ``kind`` holding labels of the annotation kind
    ``value_kind`` with ``options`` (checked by that kind: a number's range, whether spans
    overlap); Conflict if the name (or a lookalike of it) is taken, InvalidParameter for an
    unknown kind of either sort or an option the kind does not take."""
    if kind not in t.LAYER_KINDS:
        raise InvalidParameter(
            f"Unknown layer kind {kind!r}; use one of {', '.join(t.LAYER_KINDS)}."
        )
    kept = get_kind(value_kind).check_options(options or {}, class_ids(conn, dataset_id))
    name = _check_name(conn, dataset_id, name, kind=kind, owner=owner)
    conn.execute(
        t.layers.insert().values(
            dataset_id=dataset_id,
            name=name,
            kind=kind,
            value_kind=value_kind,
            owner=owner,
            description=description,
            origin=origin,
            created_at=created_at or datetime.now(UTC),
            options=kept or None,
        )
    )
    return layer_info(queries.get_layer(conn, dataset_id, name))


def ensure_layer(conn: Connection, dataset_id: int, name: str, *, kind: str, **kw: Any) -> int:
    """The id of the layer the system writes ``kind`` labels into, created on first use
    (consensus, reviewed and import layers); see :func:`check_system_target`."""
    row = check_system_target(conn, dataset_id, name, kind)
    if row is None:
        create_layer(conn, dataset_id, name, kind=kind, **kw)
        row = queries.get_layer(conn, dataset_id, name)
    return int(row.id)


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
        value_kind=src.value_kind,
        owner=owner,
        description=f"Copy of {source!r}",
        origin={"copied_from": source},
        options=src.options,
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
            lab.c.value,
        )
        .join(lab, lab.c.id == h.c.label_id)
        .where(h.c.layer_id == src.id, sa.or_(h.c.class_id.is_not(None), lab.c.value.is_not(None)))
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
        "value",
    ]
    conn.execute(lab.insert().from_select(columns, copied))
    # The new layer is invisible to other transactions until commit: all its labels are ours.
    # Its heads keep what the source's keep of the same values (a number, the tags).
    was = t.label_heads.alias("source_heads")
    conn.execute(
        h.insert().from_select(
            ["layer_id", "item_id", "label_id", "class_id", "number"],
            sa.select(lab.c.layer_id, lab.c.item_id, lab.c.id, lab.c.class_id, was.c.number)
            .join(was, sa.and_(was.c.layer_id == src.id, was.c.item_id == lab.c.item_id))
            .where(lab.c.layer_id == new_id),
        )
    )
    tags = t.head_tags.c
    conn.execute(
        t.head_tags.insert().from_select(
            ["layer_id", "item_id", "class_id"],
            sa.select(sa.literal(new_id, t.Id), tags.item_id, tags.class_id).where(
                tags.layer_id == src.id
            ),
        )
    )
    return info


def rename_layer(conn: Connection, dataset_id: int, old: str, new: str) -> dict[str, Any]:
    """Give a layer a new name; its labels and history stay as they are."""
    row = lock_layer(conn, dataset_id, old)
    new = _check_name(conn, dataset_id, new, kind=row.kind, owner=row.owner, renaming=row.id)
    conn.execute(t.layers.update().where(t.layers.c.id == row.id).values(name=new))
    return layer_info(queries.get_layer(conn, dataset_id, new))


def freeze_layer(conn: Connection, dataset_id: int, name: str, frozen: bool = True) -> dict:
    """Make a layer read-only (or writable again); writes to a frozen layer are refused."""
    row = lock_layer(conn, dataset_id, name)
    conn.execute(t.layers.update().where(t.layers.c.id == row.id).values(frozen=frozen))
    return layer_info(queries.get_layer(conn, dataset_id, name))


def set_hotkeys(conn: Connection, dataset_id: int, name: str, keys: Mapping[str, str]) -> dict:
    """Set the keys that pick classes when labeling in a layer, {class: key} (replacing those
    set before; empty: back to the rule of :mod:`assay.labels.hotkeys`)."""
    checked = check_keys([c.name for c in queries.list_classes(conn, dataset_id)], keys)
    row = lock_layer(conn, dataset_id, name)
    conn.execute(t.layers.update().where(t.layers.c.id == row.id).values(hotkeys=checked or None))
    return layer_info(queries.get_layer(conn, dataset_id, name))
