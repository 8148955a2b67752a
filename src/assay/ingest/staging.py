"""Atomic, idempotent imports: rows are staged in batches, then published in one transaction.

An ``ImportJob`` writes the rows an importer parses into ``staged_items`` in committed
batches (short write transactions that do not lock labelers out for long), then ``publish``
moves them into ``items`` and ``labels`` in a single transaction. Until then nothing is
visible; if the process dies, the staged rows stay invisible and the next import (or
``assay doctor``) removes them. Publishing skips items whose external key and content hash
are already stored, so importing the same files twice adds nothing.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, DataFormatError
from assay.progress import ProgressCallback, no_progress
from assay.store import Store
from assay.store import schema as t
from assay.store.naming import natural_sort_key

BATCH_SIZE = 10_000
DEFAULT_LAYER = "ground_truth"
STAGED_COLUMNS = ("seq", *t.ITEM_FIELDS, "label", "blob")
_JSON_COLUMNS = ("fields", "meta")


def content_hash(*parts: bytes | str) -> str:
    """A 128-bit BLAKE2b hex digest of the parts (how duplicates and re-imports are found)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x1f")
    return digest.hexdigest()


def json_hash(value: Any) -> str:
    """Content hash of a JSON-able value, independent of key order."""
    return content_hash(
        orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    )


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read, items and labels added, and the dataset it went to.

    ``n_skipped`` counts input the importer was told to leave out (unreadable images with
    ``skip_bad``).
    """

    dataset: str
    import_id: int
    n_rows: int
    n_new_items: int
    n_new_labels: int
    n_classes_added: int
    n_skipped: int = 0


class ImportJob:
    """Stage rows in batches and publish them atomically.

    Use as a context manager; leaving it with an exception discards everything staged::

        with ImportJob(store, "digits", source="x.idx", format="idx") as job:
            for row in rows:
                job.add(row, where=line_number)
            result = job.publish()

    Parameters
    ----------
    store : Store
    dataset : str
        Dataset to import into; created at publish if it does not exist.
    source, format : str
        Recorded on the import (shown in messages and the import log).
    classes : list of str, optional
        The allowed class names. Labels outside them are refused. When omitted, classes are
        taken from the data (new datasets) or from the dataset (existing ones) unless
        ``add_classes`` is true.
    add_classes : bool
        Allow an import into an existing dataset to add classes it has not seen.
    layer : str
        Annotation layer the imported labels go to.
    author : str
        Recorded as the author of imported labels.
    table_schema : list of dict, optional
        Column names and types of tabular items; stored on the dataset and checked against
        the dataset's on later imports.
    """

    def __init__(
        self,
        store: Store,
        dataset: str,
        *,
        source: str,
        format: str,
        classes: list[str] | None = None,
        add_classes: bool = False,
        layer: str = DEFAULT_LAYER,
        author: str = "import",
        table_schema: list[dict[str, str]] | None = None,
        progress: ProgressCallback = no_progress,
        total: int | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.store = store
        self.dataset = dataset
        self.source = source
        self.format = format
        self.layer = layer
        self.author = author
        self.table_schema = table_schema
        self.progress = progress
        self.total = total
        self.batch_size = batch_size
        self.import_id: int | None = None
        self.n_rows = 0
        self._batch: list[tuple[Any, ...]] = []
        self._batch_keys: dict[str, int | str] = {}
        self._where: dict[int, int | str] = {}
        self._allowed = self._allowed_classes(classes, add_classes)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ImportJob:
        remove_abandoned_imports(self.store)
        with self.store.write() as conn:
            self.import_id = conn.execute(
                t.imports.insert().values(
                    dataset_name=self.dataset,
                    source=self.source,
                    format=self.format,
                    state="staging",
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    started_at=_now(),
                )
            ).inserted_primary_key[0]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and self.import_id is not None:
            _discard(self.store, self.import_id, error=str(exc) or exc_type.__name__)  # type: ignore[union-attr]

    # -- staging ---------------------------------------------------------------------------

    def add(self, row: dict[str, Any], where: int | str) -> None:
        """Stage one item. ``where`` (a line number or a file path) locates it in messages."""
        key = row["external_key"]
        if key in self._batch_keys:
            raise DataFormatError(
                f"{self._loc(where)}: the key {key!r} appears twice (first at "
                f"{self._loc(self._batch_keys[key])}). Keys must be unique within a dataset."
            )
        label = row.get("label")
        if label is not None and self._allowed is not None and label not in self._allowed:
            raise DataFormatError(
                f"{self._loc(where)}: unknown class {label!r}; the dataset's classes are "
                f"{_preview(sorted(self._allowed, key=natural_sort_key))}. Fix the label, or "
                "allow new classes (--add-classes)."
            )
        self.n_rows += 1
        self._batch_keys[key] = where
        self._where[self.n_rows] = where
        self._batch.append(tuple(_staged_value(c, row, self.n_rows) for c in STAGED_COLUMNS))
        if len(self._batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows to the staging table in one short transaction."""
        if not self._batch:
            return
        try:
            with self.store.write() as conn:
                _bulk_insert(conn, self.import_id, self._batch)
        except sa.exc.IntegrityError as exc:
            raise self._duplicate_error() from exc
        self._batch.clear()
        self._batch_keys.clear()
        self._where.clear()
        self.progress(self.n_rows, self.total, f"reading {self.source}")

    def _duplicate_error(self) -> DataFormatError:
        keys = [row[STAGED_COLUMNS.index("external_key")] for row in self._batch]
        with self.store.read() as conn:
            dup = conn.execute(
                sa.select(t.staged_items.c.external_key, t.staged_items.c.seq)
                .where(t.staged_items.c.import_id == self.import_id)
                .where(t.staged_items.c.external_key.in_(keys[:30_000]))
                .limit(1)
            ).first()
        if dup is None:
            return DataFormatError(f"{self.source}: the rows could not be staged.")
        return DataFormatError(
            f"{self._loc(self._batch_keys[dup.external_key])}: the key {dup.external_key!r} "
            "appears twice in the input. Keys must be unique within a dataset."
        )

    # -- publishing ------------------------------------------------------------------------

    def publish(self) -> ImportResult:
        """Make everything staged visible at once; returns what was added."""
        self.flush()
        if self.n_rows == 0:
            raise DataFormatError(f"{self.source}: nothing to import (no items found).")
        self.progress(self.n_rows, self.total, "publishing")
        with self.store.write() as conn:
            result = _Publisher(conn, self).run()
        self.progress(self.n_rows, self.total, "done")
        return result

    # -- helpers ---------------------------------------------------------------------------

    def _loc(self, where: int | str) -> str:
        return f"{self.source}, line {where}" if isinstance(where, int) else str(where)

    def _allowed_classes(self, classes: list[str] | None, add_classes: bool) -> set[str] | None:
        if classes is not None:
            return set(classes)
        if add_classes:
            return None
        with self.store.read() as conn:
            names = conn.execute(
                sa.select(t.classes.c.name)
                .join(t.datasets, t.datasets.c.id == t.classes.c.dataset_id)
                .where(t.datasets.c.name == self.dataset)
            ).scalars()
            existing = set(names)
        return existing or None


class _Publisher:
    """The single transaction that moves one import's staged rows into the dataset."""

    def __init__(self, conn: Connection, job: ImportJob) -> None:
        self.conn = conn
        self.job = job
        self.imp = job.import_id
        self.now = _now()

    def run(self) -> ImportResult:
        ds = self._dataset_id()
        self._check_schema(ds)
        n_classes = self._add_classes(ds)
        self._check_conflicts(ds)
        n_items = self._insert_items(ds)
        self._insert_blobs(ds)
        n_labels = self._insert_labels(ds)
        self.conn.execute(
            t.imports.update()
            .where(t.imports.c.id == self.imp)
            .values(
                state="published",
                finished_at=self.now,
                n_rows=self.job.n_rows,
                n_new_items=n_items,
                n_new_labels=n_labels,
            )
        )
        self.conn.execute(t.staged_items.delete().where(t.staged_items.c.import_id == self.imp))
        return ImportResult(
            self.job.dataset, self.imp, self.job.n_rows, n_items, n_labels, n_classes
        )

    def _dataset_id(self) -> int:
        row = self.conn.execute(
            sa.select(t.datasets.c.id).where(t.datasets.c.name == self.job.dataset)
        ).first()
        if row is not None:
            return int(row.id)
        return int(
            self.conn.execute(
                t.datasets.insert().values(
                    name=self.job.dataset, created_at=self.now, schema=self.job.table_schema
                )
            ).inserted_primary_key[0]
        )

    def _check_schema(self, ds: int) -> None:
        new = self.job.table_schema
        if new is None:
            return
        old = self.conn.execute(
            sa.select(t.datasets.c.schema).where(t.datasets.c.id == ds)
        ).scalar()
        if old is None:
            self.conn.execute(t.datasets.update().where(t.datasets.c.id == ds).values(schema=new))
            return
        old_names = [c["name"] for c in old]
        new_names = [c["name"] for c in new]
        if old_names != new_names:
            missing = [n for n in old_names if n not in new_names]
            extra = [n for n in new_names if n not in old_names]
            raise DataFormatError(
                f"{self.job.source}: its columns do not match dataset {self.job.dataset!r} "
                f"(missing: {_preview(missing)}; not in the dataset: {_preview(extra)}). "
                "Import it as a new dataset, or make the columns match."
            )

    def _add_classes(self, ds: int) -> int:
        s = t.staged_items.c
        found = self.conn.execute(
            sa.select(s.label).where(s.import_id == self.imp, s.label.is_not(None)).distinct()
        ).scalars()
        found = set(found)
        existing = dict(
            self.conn.execute(
                sa.select(t.classes.c.name, t.classes.c.position).where(
                    t.classes.c.dataset_id == ds
                )
            ).all()
        )
        new = sorted(found - set(existing), key=natural_sort_key)
        start = max(existing.values(), default=-1) + 1
        if new:
            self.conn.execute(
                t.classes.insert(),
                [{"dataset_id": ds, "name": n, "position": start + i} for i, n in enumerate(new)],
            )
        return len(new)

    def _check_conflicts(self, ds: int) -> None:
        s, i = t.staged_items.c, t.items.c
        clash = self.conn.execute(
            sa.select(s.external_key, s.seq)
            .join(t.items, sa.and_(i.dataset_id == ds, i.external_key == s.external_key))
            .where(s.import_id == self.imp, i.content_hash != s.content_hash)
            .order_by(s.seq)
            .limit(1)
        ).first()
        if clash is not None:
            raise Conflict(
                f"{self.job.source}: item {clash.external_key!r} is already in dataset "
                f"{self.job.dataset!r} with different content. Nothing was imported. Give the "
                "new item another key, or import into a new dataset."
            )

    def _insert_items(self, ds: int) -> int:
        s, i = t.staged_items.c, t.items.c
        cols = list(t.ITEM_FIELDS)
        already = sa.exists().where(i.dataset_id == ds, i.external_key == s.external_key)
        select = (
            sa.select(sa.literal(ds), *[s[c] for c in cols], sa.literal(self.imp))
            .where(s.import_id == self.imp, ~already)
            .order_by(s.seq)
        )
        res = self.conn.execute(
            t.items.insert().from_select(["dataset_id", *cols, "import_id"], select)
        )
        return int(res.rowcount)

    def _insert_blobs(self, ds: int) -> None:
        s, i = t.staged_items.c, t.items.c
        select = (
            sa.select(i.id, sa.literal("image/png"), s.blob)
            .join(t.items, sa.and_(i.dataset_id == ds, i.external_key == s.external_key))
            .where(s.import_id == self.imp, s.blob.is_not(None), i.import_id == self.imp)
        )
        self.conn.execute(t.media_blobs.insert().from_select(["item_id", "mime", "data"], select))

    def _insert_labels(self, ds: int) -> int:
        s = t.staged_items.c
        has_labels = self.conn.execute(
            sa.select(s.seq).where(s.import_id == self.imp, s.label.is_not(None)).limit(1)
        ).first()
        if has_labels is None:
            return 0
        layer = layer_id(self.conn, ds, self.job.layer, kind="import", create=True, now=self.now)
        before = self.conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(t.labels.c.id), 0))
        ).scalar()
        params = {
            "ds": ds,
            "imp": self.imp,
            "layer": layer,
            "author": self.job.author,
            "now": self.now,
            "reason": f"imported from {self.job.source}",
        }
        res = self.conn.execute(_INSERT_LABELS, params)
        self.conn.execute(_UPSERT_HEADS, {"imp": self.imp, "layer": layer, "before": before})
        return int(res.rowcount)


# Labels that differ from the current one in the layer become new rows (superseding it).
_INSERT_LABELS = sa.text(
    """
    INSERT INTO labels (layer_id, item_id, class_id, author, created_at, reason, supersedes,
                        import_id)
    SELECT :layer, i.id, c.id, :author, :now, :reason, h.label_id, :imp
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


def layer_id(
    conn: Connection, ds: int, name: str, *, kind: str, create: bool, now: datetime | None = None
) -> int:
    """The id of layer ``name`` of dataset ``ds``, created with ``kind`` if asked to."""
    found = conn.execute(
        sa.select(t.layers.c.id).where(t.layers.c.dataset_id == ds, t.layers.c.name == name)
    ).scalar()
    if found is not None or not create:
        return found  # type: ignore[no-any-return]
    return int(
        conn.execute(
            t.layers.insert().values(dataset_id=ds, name=name, kind=kind, created_at=now or _now())
        ).inserted_primary_key[0]
    )


def remove_abandoned_imports(store: Store) -> int:
    """Discard the staged rows of imports whose process on this host is gone; returns how many."""
    host = socket.gethostname()
    with store.read() as conn:
        rows = conn.execute(
            sa.select(t.imports.c.id, t.imports.c.pid).where(
                t.imports.c.state == "staging", t.imports.c.host == host
            )
        ).all()
    dead = [r.id for r in rows if not _pid_alive(r.pid)]
    for imp in dead:
        _discard(store, imp, error="interrupted: the importing process ended before publishing")
    return len(dead)


def _discard(store: Store, imp: int, error: str) -> None:
    with store.write() as conn:
        conn.execute(t.staged_items.delete().where(t.staged_items.c.import_id == imp))
        conn.execute(
            t.imports.update()
            .where(t.imports.c.id == imp)
            .values(state="failed", finished_at=_now(), error=error[:2000])
        )


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _bulk_insert(conn: Connection, import_id: int | None, rows: list[tuple[Any, ...]]) -> None:
    """Insert staged rows through the driver directly: the hot path of every import."""
    columns = ("import_id", *STAGED_COLUMNS)
    data = [(import_id, *row) for row in rows]
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(  # type: ignore[union-attr]
                f"COPY staged_items ({', '.join(columns)}) FROM STDIN"
            ) as copy,
        ):
            for row in data:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    # Column names are constants of this module, never user input.
    sql = f"INSERT INTO staged_items ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    conn.exec_driver_sql(sql, data)


def _staged_value(column: str, row: dict[str, Any], seq: int) -> Any:
    if column == "seq":
        return seq
    value = row.get(column)
    if column in _JSON_COLUMNS and value is not None:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return value


def _preview(values: list[str], n: int = 8) -> str:
    if not values:
        return "none"
    shown = ", ".join(repr(v) for v in values[:n])
    return shown + (f" and {len(values) - n} more" if len(values) > n else "")


def _now() -> datetime:
    return datetime.now(UTC)
