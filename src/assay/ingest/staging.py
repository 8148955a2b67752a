"""Atomic, idempotent imports: the ``ImportJob`` every importer feeds its rows to.

An import is all or nothing. Rows are written in short, committed batches (so an import
never locks labelers out for long) to a place no reader looks: a new dataset still in the
``importing`` state, or the ``staged_items`` table for an existing dataset (see
``ingest.writers``). ``publish`` makes everything visible in one transaction. If the process
dies first, nothing is visible and the next import (or ``assay doctor``) removes what was
left. Importing the same files again adds nothing: items are matched by external key and
content hash, and a label is added only where it differs from the current one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson
import sqlalchemy as sa

from assay.errors import Conflict, DataFormatError
from assay.ingest.sinks import InlineSink, ProcessSink, Sink
from assay.ingest.writers import (
    Batch,
    DirectWriter,
    StagedWriter,
    drop_dataset,
    layer_id,
    prepare_batch,
    preview,
)
from assay.processes import can_fork, pid_alive
from assay.progress import ProgressCallback, no_progress
from assay.store import Store
from assay.store import schema as t
from assay.store.naming import natural_sort_key

BATCH_SIZE = 10_000
DEFAULT_LAYER = "ground_truth"

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_LAYER",
    "ImportJob",
    "ImportResult",
    "content_hash",
    "json_hash",
    "layer_id",
    "publish_gate",
    "remove_abandoned_imports",
]


PublishGate = Callable[[sa.Connection, int], None]
"""Run in an import's publishing transaction with its connection and the dataset's id, before
the commit; raising refuses the import (the transaction rolls back, nothing is published)."""

_PUBLISH_GATE: ContextVar[PublishGate | None] = ContextVar("publish_gate", default=None)


@contextlib.contextmanager
def publish_gate(gate: PublishGate | None) -> Iterator[None]:
    """Make the imports started inside this block run ``gate`` before they publish (the data
    checks of ``assay import --check``: ingest knows nothing of them, the caller hands them
    down). The forked writer process inherits the gate with the rest of the job."""
    token = _PUBLISH_GATE.set(gate)
    try:
        yield
    finally:
        _PUBLISH_GATE.reset(token)


def content_hash(*parts: bytes | str) -> str:
    """A 128-bit BLAKE2b hex digest of the parts (how duplicates and re-imports are found)."""
    if len(parts) == 1:  # the hot path of table imports
        part = parts[0]
        data = part.encode() if isinstance(part, str) else part
        return hashlib.blake2b(data + b"\x1f", digest_size=16).hexdigest()
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
    """Write rows in batches and publish them atomically.

    Use as a context manager; leaving it with an exception discards everything written::

        with ImportJob(store, "digits", source="x.idx", format="idx") as job:
            for row in rows:
                job.add(row, where=line_number)
            result = job.publish()

    Parameters
    ----------
    store : Store
    dataset : str
        Dataset to import into; created (invisible until published) if it does not exist.
    source, format : str
        Recorded on the import (shown in messages and the import log).
    classes : list of str, optional
        The allowed class names, in schema order. Labels outside them are refused. When
        omitted, classes come from the data (new datasets) or from the dataset (existing
        ones) unless ``add_classes`` is true.
    add_classes : bool
        Allow an import into an existing dataset to add classes it has not seen.
    layer : str
        Annotation layer the imported labels go to.
    author : str
        Recorded as the author of imported labels.
    table_schema : list of dict, optional
        Column names and types of tabular items; stored on the dataset and checked against
        the dataset's on later imports.
    batch_size : int
        Rows per write transaction.
    use_process : bool
        Write in a forked process while this one parses, when that is safe (see
        ``ingest.sinks``); imports of a single batch are always written here.
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
        use_process: bool = True,
    ) -> None:
        self.store = store
        self.dataset = dataset
        self.source = source
        self.format = format
        self.layer = layer
        self.author = author
        self.table_schema = table_schema
        self.numeric_columns = [c["name"] for c in table_schema or [] if c.get("dtype") == "number"]
        self.progress = progress
        self.total = total
        self.batch_size = batch_size
        self.declared = classes
        self.add_classes = add_classes
        self.import_id: int | None = None
        self.n_rows = 0
        self.kinds: set[str] = set()
        self._batch: list[dict[str, Any]] = []
        self._batch_keys: dict[str, int | str] = {}
        self._writer: DirectWriter | StagedWriter | None = None
        self._sink: Sink | None = None
        self._written_keys: dict[str, int | str] = {}
        self.use_process = use_process
        self._allowed: set[str] | None = None
        self._now = datetime.now(UTC)
        self._gate = _PUBLISH_GATE.get()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ImportJob:
        remove_abandoned_imports(self.store)
        with self.store.write() as conn:
            existing = conn.execute(
                sa.select(t.datasets.c.id, t.datasets.c.state).where(
                    t.datasets.c.name == self.dataset
                )
            ).first()
            if existing is not None and existing.state != "ready":
                raise Conflict(
                    f"Dataset {self.dataset!r} is being imported by another process. Wait for "
                    "it to finish, or import under another name."
                )
            self.import_id = self._insert_import(conn)
            if existing is None:
                self._writer = DirectWriter(self, self._create_dataset(conn), self._now)
                if self.declared:
                    self._writer.declare_classes(conn, self.declared)
            else:
                self._writer = StagedWriter(self, existing.id, self._now)
            self._allowed = self._allowed_classes(conn, existing.id if existing else None)
        return self

    def _insert_import(self, conn: sa.Connection) -> int:
        return int(
            conn.execute(
                t.imports.insert().values(
                    dataset_name=self.dataset,
                    source=self.source,
                    format=self.format,
                    state="staging",
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    started_at=self._now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )

    def _create_dataset(self, conn: sa.Connection) -> int:
        return int(
            conn.execute(
                t.datasets.insert().values(
                    name=self.dataset,
                    created_at=self._now,
                    schema=self.table_schema,
                    state="importing",
                    import_id=self.import_id,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )

    def _allowed_classes(self, conn: sa.Connection, dataset_id: int | None) -> set[str] | None:
        if self.declared is not None:
            return set(self.declared)
        if self.add_classes or dataset_id is None:
            return None
        names = set(
            conn.execute(
                sa.select(t.classes.c.name).where(t.classes.c.dataset_id == dataset_id)
            ).scalars()
        )
        return names or None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sink is not None:
            self._sink.close()
        if exc is not None and self.import_id is not None:
            error = str(exc) or (exc_type.__name__ if exc_type else "error")
            discard_import(self.store, self.import_id, error=error)

    # -- adding rows -----------------------------------------------------------------------

    def add(self, row: dict[str, Any], where: int | str) -> None:
        """Add one item. ``where`` (a line number or a file path) locates it in messages.

        ``row`` holds item columns (``assay.store.schema.ITEM_FIELDS``), and optionally
        ``label`` (a class name) and ``blob`` (PNG bytes kept in the store).
        """
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
                f"{preview(sorted(self._allowed, key=natural_sort_key))}. Fix the label, or "
                "allow new classes (--add-classes)."
            )
        self.n_rows += 1
        self.kinds.add(row["kind"])
        self._batch_keys[key] = where
        self._batch.append(row)
        if len(self._batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered rows to the writer (see ``ingest.sinks``)."""
        if not self._batch:
            return
        if self._sink is None:
            self._sink = ProcessSink(self) if self.use_process and can_fork() else InlineSink(self)
        first_seq = self.n_rows - len(self._batch) + 1
        staged = isinstance(self._writer, StagedWriter)
        batch = prepare_batch(self._batch, self.numeric_columns, staged=staged, first_seq=first_seq)
        keys = self._batch_keys
        self._batch, self._batch_keys = [], {}
        self._sink.write(batch, keys)
        self.progress(self.n_rows, self.total, f"reading {self.source}")

    def write_batch(self, batch: Batch, keys: dict[str, int | str]) -> None:
        """Write one batch in one short transaction (in whichever process writes)."""
        self._written_keys = keys
        # Nobody sees these rows before the publishing commit, which is durable (and makes
        # them durable too), so the batches skip the fsync.
        with self.store.write(durable=False) as conn:
            self._writer.write(conn, batch)  # type: ignore[union-attr]
            self.after_batch(conn, batch)

    def duplicate_error(self, keys: list[str]) -> DataFormatError:
        """The error for a key written twice: names the later row and where the first was."""
        table = t.staged_items if isinstance(self._writer, StagedWriter) else t.items
        if table is t.staged_items:
            owner = t.staged_items.c.import_id == self.import_id
        else:
            owner = t.items.c.dataset_id == self._writer.ds  # type: ignore[union-attr,assignment]
        with self.store.read() as conn:
            dup = conn.execute(
                sa.select(table.c.external_key)
                .where(owner, table.c.external_key.in_(keys[:30_000]))
                .limit(1)
            ).scalar()
        if dup is None:
            return DataFormatError(f"{self.source}: the rows could not be written.")
        return DataFormatError(
            f"{self._loc(self._written_keys[dup])}: the key {dup!r} appears twice in the "
            "input. Keys must be unique within a dataset."
        )

    # -- publishing ------------------------------------------------------------------------

    def publish(self) -> ImportResult:
        """Make everything written visible at once; returns what was added."""
        self.flush()
        if self.n_rows == 0:
            raise DataFormatError(f"{self.source}: nothing to import (no items found).")
        self.progress(self.n_rows, self.total, "publishing")
        sink = self._sink or InlineSink(self)
        n_items, n_labels, n_classes = sink.publish(self.n_rows, self.kinds)
        self.progress(self.n_rows, self.total, "done")
        return ImportResult(
            self.dataset,
            self.import_id,  # type: ignore[arg-type]
            self.n_rows,
            n_items,
            n_labels,
            n_classes,
        )

    def publish_transaction(self, n_rows: int, kinds: set[str]) -> tuple[int, int, int]:
        """The one transaction that makes the import visible; returns what it added."""
        self.n_rows, self.kinds = n_rows, kinds
        with self.store.write() as conn:
            if isinstance(self._writer, DirectWriter):
                counts = self._writer.publish(conn, self.declared is not None)
            else:
                counts = self._writer.publish(conn)  # type: ignore[union-attr]
            counts = self.before_publish_commit(conn, counts)
            self._record_kinds(conn)
            if self._gate is not None:
                self._gate(conn, self._writer.ds)  # type: ignore[union-attr]
            conn.execute(
                t.imports.update()
                .where(t.imports.c.id == self.import_id)
                .values(
                    state="published",
                    finished_at=datetime.now(UTC),
                    n_rows=n_rows,
                    n_new_items=counts[0],
                    n_new_labels=counts[1],
                )
            )
        return counts

    def after_batch(self, conn: sa.Connection, batch: Batch) -> None:
        """What a subclass writes with each batch, in its transaction (the box importer
        writes a new dataset's boxes here, while the next images are read)."""

    def before_publish_commit(
        self, conn: sa.Connection, counts: tuple[int, int, int]
    ) -> tuple[int, int, int]:
        """What a subclass adds in the publishing transaction (the box importer writes its
        boxes here, so items and boxes land together); returns the updated counts."""
        return counts

    def _record_kinds(self, conn: sa.Connection) -> None:
        ds = self._writer.ds  # type: ignore[union-attr]
        known = conn.execute(sa.select(t.datasets.c.kinds).where(t.datasets.c.id == ds)).scalar()
        kinds = sorted(set(known or []) | self.kinds)
        conn.execute(t.datasets.update().where(t.datasets.c.id == ds).values(kinds=kinds))

    def _loc(self, where: int | str) -> str:
        return f"{self.source}, line {where}" if isinstance(where, int) else str(where)


# -- cleaning up -----------------------------------------------------------------------------


def remove_abandoned_imports(store: Store) -> int:
    """Discard what imports whose process on this host is gone left behind; returns how many."""
    host = socket.gethostname()
    with store.read() as conn:
        rows = conn.execute(
            sa.select(t.imports.c.id, t.imports.c.pid).where(
                t.imports.c.state == "staging", t.imports.c.host == host
            )
        ).all()
    dead = [r.id for r in rows if not pid_alive(r.pid)]
    for imp in dead:
        discard_import(
            store, imp, error="interrupted: the importing process ended before publishing"
        )
    return len(dead)


def discard_import(store: Store, import_id: int, error: str) -> None:
    """Remove an unpublished import's rows (and its hidden dataset) and mark it failed."""
    with store.write() as conn:
        hidden = conn.execute(
            sa.select(t.datasets.c.id).where(
                t.datasets.c.import_id == import_id, t.datasets.c.state == "importing"
            )
        ).scalar()
        if hidden is not None:
            drop_dataset(conn, hidden)
        conn.execute(t.staged_items.delete().where(t.staged_items.c.import_id == import_id))
        conn.execute(
            t.imports.update()
            .where(t.imports.c.id == import_id)
            .values(state="failed", finished_at=datetime.now(UTC), error=error[:2000])
        )
