"""Snapshots of the labels and diffs between them: the dataset versioned like source code.

A snapshot records, for every (layer, item) of the chosen layers, which label row was current.
Label rows are immutable, so that reference is enough to recover the exact labels later; the
copy is one ``INSERT ... SELECT`` of three integers per label inside the database. Snapshots
are never changed after they are made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, InvalidParameter, NotFound
from assay.labels.kinds import get_kind
from assay.store import queries
from assay.store import schema as t
from assay.store.naming import clean_name

NOW = "now"


def create_snapshot(
    conn: Connection,
    dataset_id: int,
    name: str,
    *,
    layers: Sequence[str] | None = None,
    author: str,
    description: str = "",
) -> dict[str, Any]:
    """Record the current label of every item in ``layers`` (default: every layer)."""
    name = clean_name(name)
    if not name or name == NOW or len(name) > 200:
        raise InvalidParameter(f"A snapshot name must be 1 to 200 characters and not {NOW!r}.")
    taken = conn.execute(
        sa.select(t.snapshots.c.id).where(
            t.snapshots.c.dataset_id == dataset_id, t.snapshots.c.name == name
        )
    ).first()
    if taken is not None:
        raise Conflict(f"A snapshot named {name!r} exists already; snapshots are immutable.")
    rows = (
        [queries.get_layer(conn, dataset_id, n) for n in layers]
        if layers
        else queries.list_layers(conn, dataset_id)
    )
    if conn.dialect.name == "postgresql" and rows:
        # A consistent cut: no label write to these layers may land halfway through the copy.
        conn.execute(
            sa.select(t.layers.c.id)
            .where(t.layers.c.id.in_([r.id for r in rows]))
            .order_by(t.layers.c.id)
            .with_for_update()
        )
    snap_id = conn.execute(
        t.snapshots.insert().values(
            dataset_id=dataset_id,
            name=name,
            description=description,
            author=author,
            created_at=datetime.now(UTC),
            layers=[{"id": r.id, "name": r.name} for r in rows],
            n_labels=0,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    h = t.label_heads
    current = _present(
        sa.select(sa.literal(snap_id, t.Id), h.c.layer_id, h.c.item_id, h.c.label_id),
        [r.id for r in rows],
        _value_layers(rows),
    )
    conn.execute(
        t.snapshot_labels.insert().from_select(
            ["snapshot_id", "layer_id", "item_id", "label_id"], current
        )
    )
    n = conn.execute(
        sa.select(sa.func.count()).where(t.snapshot_labels.c.snapshot_id == snap_id)
    ).scalar_one()
    conn.execute(t.snapshots.update().where(t.snapshots.c.id == snap_id).values(n_labels=n))
    return get_snapshot(conn, dataset_id, name)


def _value_layers(rows: Sequence[Any]) -> set[int]:
    """The ids of the layers whose kind keeps its values in ``labels.value``, not a class."""
    return {r.id for r in rows if not get_kind(r.value_kind).stores_class}


def _present(query: sa.Select[Any], layer_ids: Sequence[int], value_layers: set[int]) -> sa.Select:
    """``query`` (over ``label_heads``) restricted to the current labels of ``layer_ids`` that
    hold a value: a class, or (layers of other kinds) a JSON value, which needs the label row."""
    h, lab = t.label_heads, t.labels
    query = query.where(h.c.layer_id.in_(list(layer_ids)))
    if not value_layers:
        return query.where(h.c.class_id.is_not(None))
    return query.join(lab, lab.c.id == h.c.label_id).where(
        sa.or_(h.c.class_id.is_not(None), lab.c.value.is_not(None))
    )


def _info(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "author": row.author,
        "created_at": row.created_at,
        "layers": [entry["name"] for entry in row.layers],
        "n_labels": row.n_labels,
    }


def get_snapshot(conn: Connection, dataset_id: int, name: str) -> dict[str, Any]:
    """The snapshot of that name; NotFound listing the others."""
    row = conn.execute(
        sa.select(t.snapshots).where(
            t.snapshots.c.dataset_id == dataset_id, t.snapshots.c.name == name
        )
    ).first()
    if row is None:
        names = [s["name"] for s in list_snapshots(conn, dataset_id)]
        raise NotFound(f"No snapshot {name!r}.{queries.hint(name, names, 'snapshots')}")
    return {"id": row.id, **_info(row), "layer_ids": {e["name"]: e["id"] for e in row.layers}}


def list_snapshots(conn: Connection, dataset_id: int) -> list[dict[str, Any]]:
    """The dataset's snapshots, oldest first."""
    rows = conn.execute(
        sa.select(t.snapshots)
        .where(t.snapshots.c.dataset_id == dataset_id)
        .order_by(t.snapshots.c.id)
    )
    return [_info(r) for r in rows]


@dataclass
class LayerDiff:
    """What changed in one layer."""

    layer: str
    relabeled: int = 0
    added: int = 0
    removed: int = 0
    # (from class, to class) -> items; None stands for "no label"
    flows: dict[tuple[str | None, str | None], int] = field(default_factory=dict)


@dataclass
class Diff:
    """Label changes between two states of a dataset (snapshot names, or "now")."""

    a: str
    b: str
    layers: list[LayerDiff]
    per_class: dict[str, dict[str, int]]  # class -> {"gained": n, "lost": n}
    items: list[dict[str, Any]]  # up to ``limit`` changed items, by layer then item id

    @property
    def n_changes(self) -> int:
        return sum(d.relabeled + d.added + d.removed for d in self.layers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "n_changes": self.n_changes,
            "layers": [
                {
                    "layer": d.layer,
                    "relabeled": d.relabeled,
                    "added": d.added,
                    "removed": d.removed,
                    "flows": [
                        {"from": f, "to": to, "items": n}
                        for (f, to), n in sorted(
                            d.flows.items(), key=lambda kv: (-kv[1], str(kv[0]))
                        )
                    ],
                }
                for d in self.layers
            ],
            "per_class": self.per_class,
            "items": self.items,
        }


def _state(
    conn: Connection, dataset_id: int, ref: str, layer_ids: dict[str, int], value_layers: set[int]
) -> tuple[sa.Subquery, dict[str, int]]:
    """(layer_id, item_id, label_id, class_id) of a snapshot or of now, and the layers it
    covers."""
    lab = t.labels
    if ref == NOW:
        h = t.label_heads
        query = _present(
            sa.select(h.c.layer_id, h.c.item_id, h.c.label_id, h.c.class_id),
            list(layer_ids.values()),
            value_layers,
        )
        return query.subquery(), layer_ids
    snap = get_snapshot(conn, dataset_id, ref)
    s = t.snapshot_labels
    query = (
        sa.select(s.c.layer_id, s.c.item_id, s.c.label_id, lab.c.class_id)
        .join(lab, lab.c.id == s.c.label_id)
        .where(s.c.snapshot_id == snap["id"])
    )
    return query.subquery(), snap["layer_ids"]


def diff(conn: Connection, dataset_id: int, a: str, b: str = NOW, *, limit: int = 1000) -> Diff:
    """What changed from state ``a`` to state ``b``: per layer, per class and per item.

    Both states are snapshot names or ``"now"``; only layers both of them cover are compared
    (a snapshot of some layers against now compares those layers). Each changed item says what
    changed in its layer's kind's words (``change``; :meth:`AnnotationKind.diff`); ``was`` and
    ``now`` are the values as the kind shows them. Layers of kinds other than classification
    count a changed value as relabeled and have no class flows.
    """
    rows = queries.list_layers(conn, dataset_id)
    all_layers = {r.name: r.id for r in rows}
    kind_of = {r.id: get_kind(r.value_kind) for r in rows}
    value_layers = _value_layers(rows)
    state_a, covered_a = _state(conn, dataset_id, a, all_layers, value_layers)
    state_b, covered_b = _state(conn, dataset_id, b, all_layers, value_layers)
    # Match on layer id (a renamed layer is still the same layer); name it by its current name.
    ids_a, ids_b = set(covered_a.values()), set(covered_b.values())
    name_of = {v: k for k, v in all_layers.items()}
    common = sorted(ids_a & ids_b)
    if not common:
        raise InvalidParameter(f"{a!r} and {b!r} have no layer in common to compare.")
    cl_a, cl_b = t.classes.alias("ca"), t.classes.alias("cb")
    layer_id = sa.func.coalesce(state_a.c.layer_id, state_b.c.layer_id).label("layer_id")
    item_id = sa.func.coalesce(state_a.c.item_id, state_b.c.item_id).label("item_id")
    differs = state_a.c.class_id.is_distinct_from(state_b.c.class_id)
    if value_layers:  # values are compared by their kind, below, where the label rows differ
        differs = sa.or_(
            differs,
            sa.and_(
                layer_id.in_(sorted(value_layers)),
                state_a.c.label_id.is_distinct_from(state_b.c.label_id),
            ),
        )
    changed = (
        sa.select(
            layer_id,
            item_id,
            cl_a.c.name.label("was"),
            cl_b.c.name.label("now"),
            state_a.c.label_id.label("was_label_id"),
            state_b.c.label_id,
        )
        .select_from(
            state_a.join(
                state_b,
                sa.and_(
                    state_a.c.layer_id == state_b.c.layer_id,
                    state_a.c.item_id == state_b.c.item_id,
                ),
                full=True,
            )
        )
        .outerjoin(cl_a, cl_a.c.id == state_a.c.class_id)
        .outerjoin(cl_b, cl_b.c.id == state_b.c.class_id)
        .where(layer_id.in_(common), differs)
    )
    sub = changed.subquery()
    flows = conn.execute(
        sa.select(sub.c.layer_id, sub.c.was, sub.c.now, sa.func.count().label("n"))
        .where(sub.c.layer_id.not_in(sorted(value_layers)))
        .group_by(sub.c.layer_id, sub.c.was, sub.c.now)
    ).all()
    per_layer: dict[int, LayerDiff] = {i: LayerDiff(name_of.get(i, str(i))) for i in common}
    per_class: dict[str, dict[str, int]] = defaultdict(lambda: {"gained": 0, "lost": 0})
    for row in flows:
        d = per_layer[row.layer_id]
        d.flows[(row.was, row.now)] = row.n
        _count(d, row.was is None, row.now is None, row.n)
        if row.was is not None:
            per_class[row.was]["lost"] += row.n
        if row.now is not None:
            per_class[row.now]["gained"] += row.n
    if value_layers & set(common):
        for changed_layer, was, now in _value_changes(conn, sub, value_layers, kind_of):
            _count(per_layer[changed_layer], was is None, now is None, 1)
    items = conn.execute(
        sa.select(sub, t.items.c.external_key)
        .join(t.items, t.items.c.id == sub.c.item_id)
        .order_by(sub.c.layer_id, sub.c.item_id)
        .limit(limit)
    ).all()
    values = _label_values(
        conn, [i for r in items if r.layer_id in value_layers for i in (r.was_label_id, r.label_id)]
    )
    shown = []
    for r in items:
        kind = kind_of[r.layer_id]
        was = kind.read(r.was, values.get(r.was_label_id))
        now = kind.read(r.now, values.get(r.label_id))
        change = kind.diff(was, now)
        if change is None:  # a value set again to what it was
            continue
        shown.append(
            {
                "layer": name_of.get(r.layer_id, str(r.layer_id)),
                "item_id": r.item_id,
                "key": r.external_key,
                "was": None if was is None else kind.show(was),
                "now": None if now is None else kind.show(now),
                "change": change,
            }
        )
    return Diff(
        a=a,
        b=b,
        layers=[per_layer[i] for i in common],
        per_class=dict(sorted(per_class.items())),
        items=shown,
    )


def _count(d: LayerDiff, added: bool, removed: bool, n: int) -> None:
    """Count ``n`` changes: added (there was no label), removed (there is none) or relabeled."""
    if added:
        d.added += n
    elif removed:
        d.removed += n
    else:
        d.relabeled += n


def _value_changes(
    conn: Connection, sub: sa.Subquery, value_layers: set[int], kind_of: dict[int, Any]
) -> list[tuple[int, Any, Any]]:
    """(layer id, was, now) of every real change in the layers of non-class kinds."""
    out: list[tuple[int, Any, Any]] = []
    query = sa.select(sub.c.layer_id, sub.c.was_label_id, sub.c.label_id).where(
        sub.c.layer_id.in_(sorted(value_layers))
    )
    for part in queries.iter_tuples(conn, query, 5_000):
        values = _label_values(conn, [i for row in part for i in row[1:]])
        for layer_id, was_id, now_id in part:
            kind = kind_of[layer_id]
            was = kind.read(None, values.get(was_id))
            now = kind.read(None, values.get(now_id))
            if kind.diff(was, now) is not None:
                out.append((layer_id, was, now))
    return out


def _label_values(conn: Connection, label_ids: Sequence[int | None]) -> dict[int, Any]:
    """Label id -> its JSON value (labels of non-class kinds)."""
    wanted = sorted({i for i in label_ids if i is not None})
    lab = t.labels
    out: dict[int, Any] = {}
    for start in range(0, len(wanted), 5_000):
        rows = conn.execute(
            sa.select(lab.c.id, lab.c.value).where(lab.c.id.in_(wanted[start : start + 5_000]))
        )
        out.update({int(i): v for i, v in rows})
    return out
