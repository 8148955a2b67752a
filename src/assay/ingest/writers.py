"""How an import's rows reach the store: straight into a hidden new dataset, or staged.

* ``DirectWriter`` imports into a dataset that does not exist yet. The dataset is created
  in the ``importing`` state, which every lookup treats as absent; each batch writes its
  items, labels and label heads in one short transaction, and publishing flips the state to
  ``ready`` (one row, one transaction). No row is written twice.
* ``StagedWriter`` imports into an existing dataset. Rows go to ``staged_items`` in batches;
  publishing moves them in one transaction, skipping items already stored (same key and
  content) and adding labels only where they differ from the current one.

Both write through the database driver (``executemany`` on SQLite, ``COPY`` on PostgreSQL)
binding only the columns a batch uses: per-row overhead is what limits import speed.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, DataFormatError, StoreError
from assay.labels.layers import create_layer, ensure_layer
from assay.store import schema as t
from assay.store.bulk import allocate_ids, bulk_insert, db_value
from assay.store.naming import natural_sort_key

if TYPE_CHECKING:
    from assay.ingest.staging import ImportJob

_JSON_COLUMNS = ("fields", "meta")
STAGED_EXTRA = ("label", "blob")  # staged rows also carry these
_MIME = "image/png"


# -- driver-level helpers --------------------------------------------------------------------


def present_columns(rows: Sequence[dict[str, Any]], candidates: Sequence[str]) -> list[str]:
    """The candidate columns some row has (the others are left out, so they stay NULL)."""
    keys: set[str] = set().union(*rows)
    return [c for c in candidates if c in keys]


def pack_numbers(rows: Sequence[dict[str, Any]], numeric: Sequence[str]) -> None:
    """Set each row's ``numbers``: its numeric fields as float64 bytes (see the schema).

    Rows that bring their own ``numbers`` (the table importer packs them column-wise) or
    whose ``fields`` are already serialized are left alone.
    """
    with_fields = [r for r in rows if "numbers" not in r and isinstance(r.get("fields"), dict)]
    if not numeric or not with_fields:
        return
    get = operator.itemgetter(*numeric)
    try:
        values = [get(r["fields"]) for r in with_fields]
    except KeyError:
        values = [tuple(r["fields"].get(n) for n in numeric) for r in with_fields]
    if len(numeric) == 1:
        values = [(v,) for v in values]
    try:
        matrix = np.array(values, dtype="<f8")
    except (TypeError, ValueError):  # a value that is not a number: pack row by row
        matrix = np.array([[_float(v) for v in row] for row in values], dtype="<f8")
    for row, packed in zip(with_fields, matrix, strict=True):
        row["numbers"] = packed.tobytes()


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


@dataclass
class Batch:
    """Rows made ready to insert, in the process that parsed them (the writer only writes).

    ``columns`` are the item columns the rows use (plus ``label`` and ``blob`` when staged);
    ``data`` holds one tuple per row in that order.
    """

    columns: list[str]
    data: list[tuple[Any, ...]]
    keys: list[str]
    labels: list[str | None]
    blobs: list[bytes | None] | None
    first_seq: int


def prepare_batch(
    rows: list[dict[str, Any]], numeric: Sequence[str], *, staged: bool, first_seq: int
) -> Batch:
    """Pack numbers, serialize JSON and turn the rows into tuples for the writer."""
    pack_numbers(rows, numeric)
    candidates = (*t.ITEM_FIELDS, *STAGED_EXTRA) if staged else t.ITEM_FIELDS
    columns = present_columns(rows, candidates)
    has_blobs = any("blob" in r for r in rows)
    return Batch(
        columns=columns,
        data=item_tuples(rows, columns),
        keys=[r["external_key"] for r in rows],
        labels=[r.get("label") for r in rows],
        blobs=[r.get("blob") for r in rows] if has_blobs and not staged else None,
        first_seq=first_seq,
    )


def item_tuples(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Rows as tuples in ``columns`` order, with the JSON columns serialized."""
    json_cols = [c for c in columns if c in _JSON_COLUMNS]
    for c in json_cols:
        for r in rows:
            value = r.get(c)
            if value is not None and not isinstance(value, str):
                r[c] = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return [tuple(map(r.get, columns)) for r in rows]


def layer_id(
    conn: Connection,
    ds: int,
    name: str,
    *,
    kind: str,
    create: bool,
    now: datetime | None = None,
) -> int | None:
    """The id of layer ``name`` of dataset ``ds``, created with ``kind`` if asked to (by
    :func:`assay.labels.layers.create_layer`: the name rules apply)."""
    found = conn.execute(
        sa.select(t.layers.c.id).where(t.layers.c.dataset_id == ds, t.layers.c.name == name)
    ).scalar()
    if found is not None or not create:
        return found
    create_layer(conn, ds, name, kind=kind, created_at=now)
    return layer_id(conn, ds, name, kind=kind, create=False)


def drop_dataset(conn: Connection, ds: int) -> None:
    """Delete a dataset and everything in it, children first (foreign keys stay satisfied)."""
    layer_ids = sa.select(t.layers.c.id).where(t.layers.c.dataset_id == ds)
    item_ids = sa.select(t.items.c.id).where(t.items.c.dataset_id == ds)
    case_ids = sa.select(t.review_cases.c.id).where(t.review_cases.c.dataset_id == ds)
    snap_ids = sa.select(t.snapshots.c.id).where(t.snapshots.c.dataset_id == ds)
    conn.execute(t.review_events.delete().where(t.review_events.c.case_id.in_(case_ids)))
    conn.execute(t.review_cases.delete().where(t.review_cases.c.dataset_id == ds))
    conn.execute(t.snapshot_labels.delete().where(t.snapshot_labels.c.snapshot_id.in_(snap_ids)))
    conn.execute(t.snapshots.delete().where(t.snapshots.c.dataset_id == ds))
    conn.execute(t.head_tags.delete().where(t.head_tags.c.layer_id.in_(layer_ids)))
    conn.execute(t.label_heads.delete().where(t.label_heads.c.layer_id.in_(layer_ids)))
    conn.execute(t.labels.delete().where(t.labels.c.layer_id.in_(layer_ids)))
    conn.execute(t.media_blobs.delete().where(t.media_blobs.c.item_id.in_(item_ids)))
    conn.execute(t.items.delete().where(t.items.c.dataset_id == ds))
    conn.execute(t.layers.delete().where(t.layers.c.dataset_id == ds))
    conn.execute(t.classes.delete().where(t.classes.c.dataset_id == ds))
    conn.execute(t.datasets.delete().where(t.datasets.c.id == ds))


def preview(values: Sequence[str], n: int = 8) -> str:
    """Up to ``n`` values quoted for a message, and how many more there are."""
    if not values:
        return "none"
    shown = ", ".join(repr(v) for v in values[:n])
    return shown + (f" and {len(values) - n} more" if len(values) > n else "")


# -- new datasets ----------------------------------------------------------------------------


class DirectWriter:
    """Writes each batch of a new dataset's rows straight into the (hidden) dataset."""

    def __init__(self, job: ImportJob, dataset_id: int, now: datetime) -> None:
        self.job = job
        self.ds = dataset_id
        self.now = now
        self.class_ids: dict[str, int] = {}
        self.layer: int | None = None
        self.n_items = 0
        self.n_labels = 0
        self.last_ids: list[int] = []  # the item ids of the last batch written

    def declare_classes(self, conn: Connection, names: Sequence[str]) -> None:
        """Create the classes a job declared up front, in the order given."""
        self._add_classes(conn, list(names))

    def write(self, conn: Connection, batch: Batch) -> None:
        """Insert one batch: items, their images, labels and label heads."""
        ids = allocate_ids(conn, t.items, len(batch.data))
        self.last_ids = ids
        columns, data = batch.columns, batch.data
        try:
            if conn.dialect.name == "sqlite":
                self._insert_items_sqlite(conn, ids, columns, data)
            else:
                extra = (self.ds, self.job.import_id)
                bulk_insert(
                    conn,
                    "items",
                    ["id", "dataset_id", "import_id", *columns],
                    [(i, *extra, *row) for i, row in zip(ids, data, strict=True)],
                )
        except sa.exc.IntegrityError as exc:
            raise self.job.duplicate_error(batch.keys) from exc
        if batch.blobs is not None:
            blobs = [(i, _MIME, b) for i, b in zip(ids, batch.blobs, strict=True) if b]
            bulk_insert(conn, "media_blobs", ["item_id", "mime", "data"], blobs)
        self.n_items += len(data)
        self._write_labels(conn, ids, batch.labels)

    def _insert_items_sqlite(
        self, conn: Connection, ids: list[int], columns: list[str], data: list[tuple[Any, ...]]
    ) -> None:
        """Bind only the varying values: per-parameter binding is the cost of this insert.

        The two constants are our own integers, written into the statement; the row ids are
        left to SQLite, which hands out ``max(id) + 1`` in order under our write lock, that
        is exactly ``ids`` (checked).
        """
        marks = ", ".join("?" for _ in columns)
        sql = (
            f"INSERT INTO items (dataset_id, import_id, {', '.join(columns)}) "  # noqa: S608
            f"VALUES ({int(self.ds)}, {int(self.job.import_id)}, {marks})"  # type: ignore[arg-type]
        )
        conn.exec_driver_sql(sql, data)
        last = conn.execute(sa.select(sa.func.max(t.items.c.id))).scalar_one()
        if last != ids[-1]:
            raise StoreError(f"Item ids were not handed out in order ({last} != {ids[-1]}).")

    def _write_labels(self, conn: Connection, ids: list[int], names: list[str | None]) -> None:
        labeled = [n for n in names if n is not None]
        if not labeled:
            return
        self._add_classes(conn, [n for n in labeled if n not in self.class_ids])
        if self.layer is None:
            self.layer = ensure_layer(
                conn, self.ds, self.job.layer, kind="import", created_at=self.now
            )
        params = {
            "layer": self.layer,
            "author": self.job.author,
            "now": db_value(conn, t.labels.c.created_at, self.now),
            "imp": self.job.import_id,
        }
        class_ids = [self.class_ids[n] if n is not None else None for n in names]
        if conn.dialect.name == "sqlite":
            low, high = self._labels_sqlite(conn, ids, class_ids, params)
        else:
            low, high = self._labels_copy(conn, ids, class_ids, params)
        # Heads copied in SQL from the rows just written: no second trip through Python.
        conn.execute(
            _HEADS_FROM_LABELS,
            {"low": low, "high": high, "imp": params["imp"], "layer": params["layer"]},
        )
        self.n_labels += len(labeled)

    @staticmethod
    def _labels_sqlite(
        conn: Connection, ids: list[int], class_ids: list[int | None], params: dict[str, Any]
    ) -> tuple[int, int]:
        """One statement per batch: SQLite expands the JSON array of class ids itself.

        Item ids are consecutive here (``allocate_ids`` on SQLite), so row ``k`` of the batch
        is item ``ids[0] + k`` and gets label id ``first + k``; unlabeled rows leave gaps.
        """
        first = allocate_ids(conn, t.labels, len(ids))[0]
        conn.execute(
            _LABELS_FROM_JSON,
            {**params, "first": first, "first_item": ids[0], "classes": orjson.dumps(class_ids)},
        )
        return first, first + len(ids) - 1

    @staticmethod
    def _labels_copy(
        conn: Connection, ids: list[int], class_ids: list[int | None], params: dict[str, Any]
    ) -> tuple[int, int]:
        pairs = [(i, c) for i, c in zip(ids, class_ids, strict=True) if c is not None]
        label_ids = allocate_ids(conn, t.labels, len(pairs))
        p = params
        bulk_insert(
            conn,
            "labels",
            ["id", "layer_id", "item_id", "class_id", "author", "created_at", "import_id"],
            [
                (lid, p["layer"], item, cls, p["author"], p["now"], p["imp"])
                for lid, (item, cls) in zip(label_ids, pairs, strict=True)
            ],
        )
        return label_ids[0], label_ids[-1]

    def _add_classes(self, conn: Connection, names: list[str]) -> None:
        new = list(dict.fromkeys(n for n in names if n not in self.class_ids))
        for name in new:
            self.class_ids[name] = int(
                conn.execute(
                    t.classes.insert().values(
                        dataset_id=self.ds, name=name, position=len(self.class_ids)
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )

    def publish(self, conn: Connection, declared: bool) -> tuple[int, int, int]:
        """Order the classes, make the dataset visible; returns (items, labels, classes)."""
        if not declared:
            ordered = sorted(self.class_ids, key=natural_sort_key)
            for position, name in enumerate(ordered):
                conn.execute(
                    t.classes.update()
                    .where(t.classes.c.id == self.class_ids[name])
                    .values(position=position)
                )
        conn.execute(t.datasets.update().where(t.datasets.c.id == self.ds).values(state="ready"))
        return self.n_items, self.n_labels, len(self.class_ids)


# -- existing datasets -----------------------------------------------------------------------


class StagedWriter:
    """Stages batches for an existing dataset and merges them in at publish."""

    def __init__(self, job: ImportJob, dataset_id: int, now: datetime) -> None:
        self.job = job
        self.ds = dataset_id
        self.now = now

    def write(self, conn: Connection, batch: Batch) -> None:
        """Stage one batch."""
        imp, first = self.job.import_id, batch.first_seq
        try:
            bulk_insert(
                conn,
                "staged_items",
                ["import_id", "seq", *batch.columns],
                [(imp, first + k, *row) for k, row in enumerate(batch.data)],
            )
        except sa.exc.IntegrityError as exc:
            raise self.job.duplicate_error(batch.keys) from exc

    def publish(self, conn: Connection) -> tuple[int, int, int]:
        """Merge the staged rows in; returns (new items, new labels, new classes)."""
        self._check_schema(conn)
        n_classes = self._add_classes(conn)
        self._check_conflicts(conn)
        n_items = self._insert_items(conn)
        self._insert_blobs(conn)
        n_labels = self._insert_labels(conn)
        conn.execute(
            t.staged_items.delete().where(t.staged_items.c.import_id == self.job.import_id)
        )
        return n_items, n_labels, n_classes

    def _check_schema(self, conn: Connection) -> None:
        new = self.job.table_schema
        if new is None:
            return
        old = conn.execute(
            sa.select(t.datasets.c.schema).where(t.datasets.c.id == self.ds)
        ).scalar()
        if old is None:
            conn.execute(t.datasets.update().where(t.datasets.c.id == self.ds).values(schema=new))
            return
        old_names = [c["name"] for c in old]
        new_names = [c["name"] for c in new]
        if old_names != new_names:
            missing = [n for n in old_names if n not in new_names]
            extra = [n for n in new_names if n not in old_names]
            raise DataFormatError(
                f"{self.job.source}: its columns do not match dataset {self.job.dataset!r} "
                f"(missing: {preview(missing)}; not in the dataset: {preview(extra)}). "
                "Import it as a new dataset, or make the columns match."
            )

    def _add_classes(self, conn: Connection) -> int:
        s = t.staged_items.c
        found = set(
            conn.execute(
                sa.select(s.label)
                .where(s.import_id == self.job.import_id, s.label.is_not(None))
                .distinct()
            ).scalars()
        )
        existing = dict(
            conn.execute(
                sa.select(t.classes.c.name, t.classes.c.position).where(
                    t.classes.c.dataset_id == self.ds
                )
            ).all()
        )
        new = sorted(found - set(existing), key=natural_sort_key)
        start = max(existing.values(), default=-1) + 1
        if new:
            conn.execute(
                t.classes.insert(),
                [
                    {"dataset_id": self.ds, "name": n, "position": start + i}
                    for i, n in enumerate(new)
                ],
            )
        return len(new)

    def _check_conflicts(self, conn: Connection) -> None:
        s, i = t.staged_items.c, t.items.c
        clash = conn.execute(
            sa.select(s.external_key, s.seq)
            .join(t.items, sa.and_(i.dataset_id == self.ds, i.external_key == s.external_key))
            .where(s.import_id == self.job.import_id, i.content_hash != s.content_hash)
            .order_by(s.seq)
            .limit(1)
        ).first()
        if clash is not None:
            raise Conflict(
                f"{self.job.source}: item {clash.external_key!r} is already in dataset "
                f"{self.job.dataset!r} with different content. Nothing was imported. Give the "
                "new item another key, or import into a new dataset."
            )

    def _insert_items(self, conn: Connection) -> int:
        s, i = t.staged_items.c, t.items.c
        cols = list(t.ITEM_FIELDS)
        already = sa.exists().where(i.dataset_id == self.ds, i.external_key == s.external_key)
        select = (
            sa.select(sa.literal(self.ds), *[s[c] for c in cols], sa.literal(self.job.import_id))
            .where(s.import_id == self.job.import_id, ~already)
            .order_by(s.seq)
        )
        insert = t.items.insert().from_select(["dataset_id", *cols, "import_id"], select)
        res = conn.execute(insert.execution_options(preserve_rowcount=True))
        return int(res.rowcount)

    def _insert_blobs(self, conn: Connection) -> None:
        s, i = t.staged_items.c, t.items.c
        select = (
            sa.select(i.id, sa.literal(_MIME), s.blob)
            .join(t.items, sa.and_(i.dataset_id == self.ds, i.external_key == s.external_key))
            .where(
                s.import_id == self.job.import_id,
                s.blob.is_not(None),
                i.import_id == self.job.import_id,
            )
        )
        conn.execute(t.media_blobs.insert().from_select(["item_id", "mime", "data"], select))

    def _insert_labels(self, conn: Connection) -> int:
        s = t.staged_items.c
        has_labels = conn.execute(
            sa.select(s.seq).where(s.import_id == self.job.import_id, s.label.is_not(None)).limit(1)
        ).first()
        if has_labels is None:
            return 0
        # Imports write only into import layers, never into a person's (labels.layers).
        layer = ensure_layer(conn, self.ds, self.job.layer, kind="import", created_at=self.now)
        # Serialize with other writers of the layer (as label writes do) and respect a freeze.
        lock = sa.select(t.layers.c.frozen).where(t.layers.c.id == layer)
        if conn.dialect.name == "postgresql":
            lock = lock.with_for_update()
        if conn.execute(lock).scalar():
            raise Conflict(
                f"Layer {self.job.layer!r} is frozen; the import was not published. Unfreeze it "
                f"with `assay layer unfreeze {self.job.layer}` or import into another layer."
            )
        before = conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.labels.c.id), 0))).scalar()
        params = {
            "ds": self.ds,
            "imp": self.job.import_id,
            "layer": layer,
            "author": self.job.author,
            "now": self.now,
        }
        insert = _INSERT_LABELS.bindparams(sa.bindparam("now", type_=t.Timestamp()))
        res = conn.execute(insert.execution_options(preserve_rowcount=True), params)
        conn.execute(_UPSERT_HEADS, {"imp": self.job.import_id, "layer": layer, "before": before})
        return int(res.rowcount)


_LABELS_FROM_JSON = sa.text(
    """
    INSERT INTO labels (id, layer_id, item_id, class_id, author, created_at, import_id)
    SELECT :first + key, :layer, :first_item + key, value, :author, :now, :imp
    FROM json_each(:classes) WHERE value IS NOT NULL
    """
)

_HEADS_FROM_LABELS = sa.text(
    """
    INSERT INTO label_heads (layer_id, item_id, label_id, class_id)
    SELECT layer_id, item_id, id, class_id FROM labels
    WHERE id BETWEEN :low AND :high AND import_id = :imp AND layer_id = :layer
    """
)

# Labels that differ from the current one in the layer become new rows (superseding it).
_INSERT_LABELS = sa.text(
    """
    INSERT INTO labels (layer_id, item_id, class_id, author, created_at, reason, supersedes,
                        import_id)
    SELECT :layer, i.id, c.id, :author, :now, NULL, h.label_id, :imp
    FROM staged_items s
    JOIN items i ON i.dataset_id = :ds AND i.external_key = s.external_key
    JOIN classes c ON c.dataset_id = :ds AND c.name = s.label
    LEFT JOIN label_heads h ON h.layer_id = :layer AND h.item_id = i.id
    WHERE s.import_id = :imp AND s.label IS NOT NULL
      AND (h.class_id IS NULL OR h.class_id <> c.id)
    ORDER BY s.seq
    """
)

# "WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join constraint.
_UPSERT_HEADS = sa.text(
    """
    INSERT INTO label_heads (layer_id, item_id, label_id, class_id)
    SELECT layer_id, item_id, id, class_id FROM labels
    WHERE id > :before AND import_id = :imp AND layer_id = :layer
    ON CONFLICT (layer_id, item_id)
    DO UPDATE SET label_id = excluded.label_id, class_id = excluded.class_id
    """
)
