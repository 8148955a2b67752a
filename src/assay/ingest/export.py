"""Export the labels of one annotation layer as CSV, Parquet or JSONL, streamed in chunks.

The file is written next to its destination under a temporary name and renamed into place
at the end, so an interrupted export never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from assay.errors import InvalidParameter
from assay.progress import ProgressCallback, no_progress
from assay.store import filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

EXPORT_FORMATS = ("csv", "parquet", "jsonl")
CHUNK_SIZE = 20_000
_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
COLUMNS = ("key", "split", "label", "author", "created_at", "reason")
HISTORY_COLUMNS = (*COLUMNS, "label_id", "supersedes")


def export_layer(
    dataset: Dataset,
    path: str | os.PathLike[str],
    *,
    layer: str = filters.DEFAULT_LAYER,
    format: str | None = None,
    filter: str | None = None,
    history: bool = False,
    progress: ProgressCallback = no_progress,
) -> int:
    """Write the labels of ``layer`` to a file; returns the number of rows written.

    Parameters
    ----------
    dataset : Dataset
    path : path
        The file to write (replaced if it exists). Its folder must exist.
    layer : str
        The annotation layer (``ground_truth`` by default).
    format : {"csv", "parquet", "jsonl"}, optional
        By default taken from the suffix of ``path``.
    filter : str, optional
        Export only the items this filter selects (see :mod:`assay.store.filters`).
    history : bool
        Export every label ever set in the layer (the audit trail, ordered by item and then
        by label id, with ``label_id`` and the ``supersedes`` it replaced; a cleared label has
        an empty ``label``) instead of the current labels of the labeled items.
    progress : callable, optional

    Returns
    -------
    int
        Rows written. Columns: ``key, split, label, author, created_at, reason`` (plus
        ``label_id, supersedes`` with ``history``), and ``probs`` (JSON) when any label of the
        layer has class probabilities.

    Raises
    ------
    LayerNotFound
        The dataset has no layer of that name.
    InvalidParameter
        The format is unknown, or the folder of ``path`` does not exist.
    """
    target = Path(path).expanduser()
    fmt = export_format(target, format)
    if not target.parent.is_dir():
        raise InvalidParameter(f"{target.parent}: no such folder; create it first.")
    with dataset.store.read() as conn:
        layer_row = queries.get_layer(conn, dataset.id, layer)
        where = filters.compile_filter(conn, dataset.id, filter)
        columns = list(HISTORY_COLUMNS if history else COLUMNS)
        if _has_probs(conn, layer_row.id):
            columns.append("probs")
        total = None if filter else _count(conn, layer_row.id, history)
        read = _history_chunks if history else _current_chunks
        chunks = read(conn, layer_row.id, _label_columns(columns), where)
        return _write_atomically(target, fmt, columns, chunks, total, progress)


def export_format(path: Path, format: str | None) -> str:
    """The export format named, or the one the file's suffix implies."""
    if format is not None:
        fmt = format.lower().lstrip(".")
        if fmt not in EXPORT_FORMATS:
            raise InvalidParameter(
                f"Unknown export format {format!r}; choose one of {', '.join(EXPORT_FORMATS)}."
            )
        return fmt
    implied = _SUFFIXES.get(path.suffix.lower())
    if implied is None:
        raise InvalidParameter(
            f"{path}: cannot tell the export format from the suffix {path.suffix or '(none)'!r}; "
            "use .csv, .parquet or .jsonl, or pass the format (--format)."
        )
    return implied


# -- reading ---------------------------------------------------------------------------------


def _has_probs(conn: Connection, layer: int) -> bool:
    """Whether any label of the layer has probabilities (a JSON ``null`` counts as none)."""
    probs = t.labels.c.probs
    return (
        conn.execute(
            sa.select(t.labels.c.id)
            .where(
                t.labels.c.layer_id == layer,
                probs.is_not(None),
                sa.cast(probs, sa.Text) != "null",
            )
            .limit(1)
        ).first()
        is not None
    )


def _count(conn: Connection, layer: int, history: bool) -> int:
    if history:
        query = sa.select(sa.func.count()).where(t.labels.c.layer_id == layer)
    else:
        h = t.label_heads.c
        query = sa.select(sa.func.count()).where(h.layer_id == layer, h.class_id.is_not(None))
    return int(conn.execute(query).scalar_one())


def _label_columns(names: list[str]) -> list[Any]:
    """The selected columns: the exported ones in order, then ``item_id`` for paging."""
    i, lb = t.items.c, t.labels.c
    available = {
        "key": i.external_key,
        "split": i.split,
        "label": t.classes.c.name,
        "author": lb.author,
        "created_at": lb.created_at,
        "reason": lb.reason,
        "label_id": lb.id,
        "supersedes": lb.supersedes,
        "probs": lb.probs,
    }
    return [*(available[n].label(n) for n in names), lb.item_id]


def _current_chunks(
    conn: Connection,
    layer: int,
    columns: list[Any],
    where: sa.ColumnElement[bool] | None,
) -> Iterator[Sequence[Row[Any]]]:
    """Current labels of labeled items, in item order, by keyset over ``label_heads``."""
    h, i, lb = t.label_heads.c, t.items.c, t.labels.c
    base = (
        sa.select(*columns)
        .select_from(
            t.label_heads.join(t.items, i.id == h.item_id)
            .join(t.labels, lb.id == h.label_id)
            .join(t.classes, t.classes.c.id == h.class_id)
        )
        .where(h.layer_id == layer)
        .order_by(h.item_id)
        .limit(CHUNK_SIZE)
    )
    if where is not None:
        base = base.where(where)
    after = -1
    while True:
        rows = conn.execute(base.where(h.item_id > after)).all()
        if rows:
            yield rows
        if len(rows) < CHUNK_SIZE:
            return
        after = rows[-1].item_id


def _history_chunks(
    conn: Connection,
    layer: int,
    columns: list[Any],
    where: sa.ColumnElement[bool] | None,
) -> Iterator[Sequence[Row[Any]]]:
    """Every label of the layer, by item then label id.

    Pages over the items the layer has labeled (keyset on ``label_heads``), then reads the
    labels of each page's item-id range through the (item_id, layer_id, id) index.
    """
    h, i, lb = t.label_heads.c, t.items.c, t.labels.c
    page = (
        sa.select(h.item_id)
        .select_from(t.label_heads.join(t.items, i.id == h.item_id))
        .where(h.layer_id == layer)
        .order_by(h.item_id)
        .limit(CHUNK_SIZE)
    )
    labels = (
        sa.select(*columns)
        .select_from(
            t.labels.join(t.items, i.id == lb.item_id).outerjoin(
                t.classes, t.classes.c.id == lb.class_id
            )
        )
        # "+ 0" keeps SQLite from reading every label of the layer through the (layer_id,
        # author) index: the item-id range on (item_id, layer_id, id) is the narrow one.
        .where(lb.layer_id + 0 == layer)
        .order_by(lb.item_id, lb.id)
    )
    if where is not None:
        page, labels = page.where(where), labels.where(where)
    after = -1
    while True:
        ids = list(conn.execute(page.where(h.item_id > after)).scalars())
        if not ids:
            return
        yield list(conn.execute(labels.where(lb.item_id.between(ids[0], ids[-1]))).all())
        if len(ids) < CHUNK_SIZE:
            return
        after = ids[-1]


# -- writing ---------------------------------------------------------------------------------


def _write_atomically(
    target: Path,
    fmt: str,
    columns: list[str],
    chunks: Iterator[Sequence[Row[Any]]],
    total: int | None,
    progress: ProgressCallback,
) -> int:
    """Write to a temporary file in the target's folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    try:
        writer = {"csv": _write_csv, "parquet": _write_parquet, "jsonl": _write_jsonl}[fmt]
        n = writer(Path(tmp), columns, _counted(chunks, total, progress, target))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    progress(n, total, "done")
    return n


def _counted(
    chunks: Iterator[Sequence[Row[Any]]],
    total: int | None,
    progress: ProgressCallback,
    target: Path,
) -> Iterator[Sequence[Row[Any]]]:
    done = 0
    progress(0, total, f"writing {target.name}")
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        progress(done, total, f"writing {target.name}")


def _write_csv(path: Path, columns: list[str], chunks: Iterator[Sequence[Row[Any]]]) -> int:
    n, width = 0, len(columns)
    time_at = columns.index("created_at")
    probs_at = columns.index("probs") if "probs" in columns else None
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for chunk in chunks:
            rows = [list(r[:width]) for r in chunk]
            for row in rows:
                row[time_at] = row[time_at].isoformat()
                if probs_at is not None:
                    row[probs_at] = _json_text(row[probs_at])
            writer.writerows(rows)
            n += len(rows)
        _sync(f)
    return n


def _write_jsonl(path: Path, columns: list[str], chunks: Iterator[Sequence[Row[Any]]]) -> int:
    n = 0
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    with open(path, "wb") as f:
        for chunk in chunks:
            # zip stops at the last exported column (item_id, for paging, is left out).
            lines = (dumps(dict(zip(columns, r, strict=False)), option=newline) for r in chunk)
            f.write(b"".join(lines))
            n += len(chunk)
        _sync(f)
    return n


def _write_parquet(path: Path, columns: list[str], chunks: Iterator[Sequence[Row[Any]]]) -> int:
    types = {
        "created_at": pa.timestamp("us", tz="UTC"),
        "label_id": pa.int64(),
        "supersedes": pa.int64(),
    }
    schema = pa.schema([(c, types.get(c, pa.string())) for c in columns])
    n = 0
    with open(path, "wb") as f:
        with pq.ParquetWriter(f, schema) as writer:
            for chunk in chunks:
                data = {c: [r[k] for r in chunk] for k, c in enumerate(columns)}
                if "probs" in data:
                    data["probs"] = [_json_text(p) for p in data["probs"]]
                writer.write_batch(pa.RecordBatch.from_pydict(data, schema=schema))
                n += len(chunk)
        _sync(f)
    return n


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _sync(f: IO[Any]) -> None:
    f.flush()
    os.fsync(f.fileno())
