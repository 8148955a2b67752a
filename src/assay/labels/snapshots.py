"""Snapshots of the labels and diffs between them: the dataset versioned like source code.

A snapshot records, for every (layer, item) of the chosen layers, which label row was current.
Label rows are immutable, so that reference is enough to recover the exact labels later; the
copy is one ``INSERT ... SELECT`` of three integers per label inside the database. Snapshots
are never changed after they are made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
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


@dataclass(frozen=True)
class _State:
    """One side of a diff: a snapshot (its rows of ``snapshot_labels``) or now (the label
    heads that hold a value), each a set of (layer, item, label id) keyed by (layer, item)."""

    snapshot_id: int | None  # None: now
    layer_ids: dict[str, int]  # the layers it covers, name -> id
    value_layers: frozenset[int]  # layers whose kind keeps JSON values, not classes

    def alias(self) -> sa.FromClause:
        """A fresh alias of the state's table (each use in one query needs its own)."""
        return (t.label_heads if self.snapshot_id is None else t.snapshot_labels).alias()

    def at(self, rows: sa.FromClause) -> sa.ColumnElement[bool]:
        """The condition that picks this state's rows out of ``rows`` (an :meth:`alias`)."""
        if self.snapshot_id is not None:
            return rows.c.snapshot_id == self.snapshot_id
        return sa.true()

    def held(self, rows: sa.FromClause) -> sa.ColumnElement[bool]:
        """:meth:`at`, and the label holds a value (now's heads include cleared labels)."""
        if self.snapshot_id is not None:
            return self.at(rows)
        present = rows.c.class_id.is_not(None)
        if not self.value_layers:
            return present
        lab = t.labels.alias()
        return sa.or_(
            present,
            sa.and_(
                rows.c.layer_id.in_(sorted(self.value_layers)),
                sa.exists().where(lab.c.id == rows.c.label_id, lab.c.value.is_not(None)),
            ),
        )


def _state(
    conn: Connection, dataset_id: int, ref: str, layer_ids: dict[str, int], value_layers: set[int]
) -> _State:
    """The state ``ref`` names: a snapshot, or now (covering ``layer_ids``)."""
    if ref == NOW:
        return _State(None, layer_ids, frozenset(value_layers))
    snap = get_snapshot(conn, dataset_id, ref)
    return _State(snap["id"], snap["layer_ids"], frozenset(value_layers))


_Cursor = tuple[int, int]  # (layer id, item id): where a page of changed rows starts after


def _after(layer_id: Any, item_id: Any, cursor: _Cursor | None) -> sa.ColumnElement[bool]:
    """Keyset pagination: the (layer, item) pairs after ``cursor`` (all when it is None)."""
    if cursor is None:
        return sa.true()
    return sa.or_(layer_id > cursor[0], sa.and_(layer_id == cursor[0], item_id > cursor[1]))


def _only_in(x: _State, y: _State, layers: list[int], cursor: _Cursor | None) -> sa.Select[Any]:
    """(layer, item, label id) of the labels ``x`` holds and ``y`` does not: a set difference
    over label ids (labels are immutable, so the same id is the same label), as an anti-join
    that probes ``y`` by its key."""
    rx, ry = x.alias(), y.alias()
    same = sa.exists().where(
        y.at(ry),
        ry.c.layer_id == rx.c.layer_id,
        ry.c.item_id == rx.c.item_id,
        ry.c.label_id == rx.c.label_id,
    )
    return sa.select(rx.c.layer_id, rx.c.item_id, rx.c.label_id).where(
        x.held(rx),
        rx.c.layer_id.in_(layers),
        _after(rx.c.layer_id, rx.c.item_id, cursor),
        ~same,
    )


def _class_name(label_id: Any) -> sa.ScalarSelect[Any]:
    """The class name of the label ``label_id`` (None for no label, or a non-class kind's),
    looked up by key for each changed row only."""
    lab, cls = t.labels, t.classes
    return (
        sa.select(cls.c.name)
        .join(lab, lab.c.class_id == cls.c.id)
        .where(lab.c.id == label_id)
        .scalar_subquery()
    )


def _changed(
    a: _State, b: _State, layers: list[int], value_layers: set[int], cursor: _Cursor | None = None
) -> sa.Subquery:
    """The changed (layer, item) pairs of ``layers`` from ``a`` to ``b`` (after ``cursor``),
    with the label id and class on each side (None: no label).

    The labels each state holds and the other does not, paired by (layer, item): the pairs and
    their label ids come from the two anti-joins alone, and the classes are looked up for those
    pairs only (a join back to the states would let PostgreSQL, which cannot foresee how few
    rows changed, hash whole tables). A relabel to the same class is no change; in layers of
    non-class kinds every pair whose label differs is returned and the kind decides (a value
    set again to what it was is no change).
    """
    none = sa.cast(sa.null(), t.Id)
    only_a = _only_in(a, b, layers, cursor).subquery()
    only_b = _only_in(b, a, layers, cursor).subquery()
    sides = sa.union_all(
        sa.select(
            only_a.c.layer_id, only_a.c.item_id, only_a.c.label_id.label("was"), none.label("now")
        ),
        sa.select(
            only_b.c.layer_id, only_b.c.item_id, none.label("was"), only_b.c.label_id.label("now")
        ),
    ).subquery()
    pairs = (
        sa.select(
            sides.c.layer_id,
            sides.c.item_id,
            sa.func.max(sides.c.was).label("was_label_id"),
            sa.func.max(sides.c.now).label("label_id"),
        )
        .group_by(sides.c.layer_id, sides.c.item_id)
        .subquery()
    )
    named = sa.select(
        pairs,
        _class_name(pairs.c.was_label_id).label("was"),
        _class_name(pairs.c.label_id).label("now"),
    ).subquery()
    differs = named.c.was.is_distinct_from(named.c.now)
    if value_layers:
        differs = sa.or_(differs, named.c.layer_id.in_(sorted(value_layers)))
    return (
        sa.select(
            named.c.layer_id,
            named.c.item_id,
            named.c.was,
            named.c.now,
            named.c.was_label_id,
            named.c.label_id,
        )
        .where(differs)
        .subquery()
    )


def diff(conn: Connection, dataset_id: int, a: str, b: str = NOW, *, limit: int = 1000) -> Diff:
    """What changed from state ``a`` to state ``b``: per layer, per class and per item.

    Both states are snapshot names or ``"now"``; only layers both of them cover are compared
    (a snapshot of some layers against now compares those layers). Each changed item says what
    changed in its layer's kind's words (``change``; :meth:`AnnotationKind.diff`); ``was`` and
    ``now`` are the values as the kind shows them. Layers of kinds other than classification
    count a changed value as relabeled and have no class flows.

    The database finds the changes: a set difference over the label ids the two states hold
    (:func:`_changed`), counted per class flow in the same pass that ranks the first ``limit``
    changed rows (:func:`_first_page`). Only those rows and one row per flow reach Python;
    further pages (by (layer, item)) are read only when values of a non-class kind set back to
    what they were leave the first page short. A diff without changes reads no label at all.
    """
    rows = queries.list_layers(conn, dataset_id)
    all_layers = {r.name: r.id for r in rows}
    kind_of = {r.id: get_kind(r.value_kind) for r in rows}
    value_layers = _value_layers(rows)
    state_a = _state(conn, dataset_id, a, all_layers, value_layers)
    state_b = _state(conn, dataset_id, b, all_layers, value_layers)
    # Match on layer id (a renamed layer is still the same layer); name it by its current name.
    name_of = {v: k for k, v in all_layers.items()}
    common = sorted(set(state_a.layer_ids.values()) & set(state_b.layer_ids.values()))
    if not common:
        raise InvalidParameter(f"{a!r} and {b!r} have no layer in common to compare.")
    sub = _changed(state_a, state_b, common, value_layers)
    first = _first_page(conn, sub, limit)
    per_layer: dict[int, LayerDiff] = {i: LayerDiff(name_of.get(i, str(i))) for i in common}
    per_class: dict[str, dict[str, int]] = defaultdict(lambda: {"gained": 0, "lost": 0})
    for row in first:
        if row.in_flow != 1 or row.layer_id in value_layers:
            continue
        d = per_layer[row.layer_id]
        d.flows[(row.was, row.now)] = row.n
        _count(d, row.was is None, row.now is None, row.n)
        if row.was is not None:
            per_class[row.was]["lost"] += row.n
        if row.now is not None:
            per_class[row.now]["gained"] += row.n
    changed_values = value_layers & set(common)
    if changed_values:
        for changed_layer, was, now in _value_changes(conn, sub, changed_values, kind_of):
            _count(per_layer[changed_layer], was is None, now is None, 1)
    page = [row for row in first if row.seq <= limit]
    pages = _pages(conn, state_a, state_b, common, value_layers, limit, page)
    return Diff(
        a=a,
        b=b,
        layers=[per_layer[i] for i in common],
        per_class=dict(sorted(per_class.items())),
        items=_shown(conn, pages, value_layers, kind_of, name_of, limit),
    )


def _first_page(conn: Connection, sub: sa.Subquery, limit: int) -> list[Any]:
    """One pass over the changed rows ``sub``: the first ``limit`` of them by (layer, item)
    (``seq`` from 1), and the first row of each class flow (``in_flow`` 1) with the flow's
    size ``n``. The database counts; only these rows reach Python."""
    flow = (sub.c.layer_id, sub.c.was, sub.c.now)
    ranked = sa.select(
        sub,
        sa.func.row_number().over(order_by=(sub.c.layer_id, sub.c.item_id)).label("seq"),
        sa.func.row_number().over(partition_by=flow, order_by=sub.c.item_id).label("in_flow"),
        sa.func.count().over(partition_by=flow).label("n"),
    ).subquery()
    return list(
        conn.execute(
            sa.select(ranked, _external_key(ranked.c.item_id))
            .where(sa.or_(ranked.c.seq <= limit, ranked.c.in_flow == 1))
            .order_by(ranked.c.seq)
        ).all()
    )


def _external_key(item_id: Any) -> sa.Label[Any]:
    """The item's key, looked up for each row returned only (a join would let PostgreSQL,
    which cannot foresee how few rows changed, hash the whole items table)."""
    return (
        sa.select(t.items.c.external_key)
        .where(t.items.c.id == item_id)
        .scalar_subquery()
        .label("external_key")
    )


def _pages(
    conn: Connection,
    a: _State,
    b: _State,
    common: list[int],
    value_layers: set[int],
    limit: int,
    first: list[Any],
) -> Iterator[list[Any]]:
    """Pages of changed rows by (layer, item), ``first`` first, then the next ones by keyset
    while the previous page was full (the reader stops when it has shown enough)."""
    page = first
    while page:
        yield page
        if len(page) < limit:
            return
        cursor = (page[-1].layer_id, page[-1].item_id)
        sub = _changed(a, b, common, value_layers, cursor)
        page = list(
            conn.execute(
                sa.select(sub, _external_key(sub.c.item_id))
                .order_by(sub.c.layer_id, sub.c.item_id)
                .limit(limit)
            ).all()
        )


def _shown(
    conn: Connection,
    pages: Iterator[list[Any]],
    value_layers: set[int],
    kind_of: dict[int, Any],
    name_of: dict[int, str],
    limit: int,
) -> list[dict[str, Any]]:
    """The first ``limit`` changed items of ``pages``, as their kinds show them (a value set
    again to what it was is no change, and the next page fills its place)."""
    shown: list[dict[str, Any]] = []
    for page in pages:
        values = _label_values(
            conn,
            [i for r in page if r.layer_id in value_layers for i in (r.was_label_id, r.label_id)],
        )
        for r in page:
            kind = kind_of[r.layer_id]
            was = kind.read(r.was, values.get(r.was_label_id))
            now = kind.read(r.now, values.get(r.label_id))
            change = kind.diff(was, now)
            if change is None:
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
            if len(shown) == limit:
                return shown
    return shown


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
