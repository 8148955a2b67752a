"""Importing and exporting tags (multi-label): CSV/TSV, JSONL and Parquet.

A tag file gives, per row, an item's key and its tags, in one of two layouts:

* a **list column** (``tags_column``): a JSON list (``["night", "outdoor"]``), a Parquet or
  JSONL list, or names joined by a separator (``night|outdoor``; ``sep``, default: the first
  of ``|``, ``;``, ``,`` found in the cell); an empty cell is "no tag" (``[]``), a missing
  one (null, NA) leaves the item not annotated;
* **one column per tag** (``tag_columns``): 0/1 (or true/false) per tag, the tag named by
  the column; a row whose tag cells are all missing is not annotated.

:func:`import_tags` adds the tags to items already in a dataset (matched by key, as boxes
are added to their images) as a tag layer, all or nothing: the file is streamed in chunks
(flat memory), each chunk checked and written inside ONE transaction, so a bad row anywhere
rolls every chunk back. Tags outside the dataset's classes are refused with the file, line
and tag named, unless ``add_classes`` (or the dataset has no classes yet: a first import
builds the tag set from the file, in the order tags are first seen). Labels equal to the
current ones are skipped, so importing a file again writes nothing.

:func:`export_tags` writes a tag layer back in the same layouts.

Line numbers are 1-based lines of the file: the CSV header is line 1, so row ``i`` (0-based)
is line ``i + 2``; JSONL rows are their line; Parquet rows their 0-based index.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import DataFormatError, InvalidParameter
from assay.ingest.boxes import ensure_classes
from assay.labels.kinds import Stored
from assay.labels.kinds.tags import MAX_TAGS
from assay.labels.layers import check_system_target, create_layer
from assay.labels.writes import append_labels, current_heads, writable_layer
from assay.progress import ProgressCallback, no_progress
from assay.store import Store, bulk, queries
from assay.store import schema as t

__all__ = ["TagRows", "export_tags", "import_tags", "read_tag_rows"]

CHUNK_ROWS = 20_000
SEPARATORS = ("|", ";", ",")
_NULL = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None")
_NULL_TEXT = frozenset(_NULL[1:])  # a text cell that is missing (an empty one is "no tag")


@dataclass
class TagRows:
    """One chunk of a tag file: per row its key, its tags (None: not annotated) and where
    it is (a line number for messages)."""

    keys: list[str]
    tags: list[list[str] | None]
    lines: list[int]


def _kind_of(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return "jsonl"
    if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt")):
        return "csv"
    raise InvalidParameter(
        f"{path.name}: tags are imported from .csv/.tsv, .jsonl or .parquet files."
    )


@lru_cache(maxsize=65_536)
def _split_cached(cell: str, sep: str | None) -> tuple[str, ...] | None:
    """The tags of a cell that parses (None: one that does not, parsed again for its error).
    Tag columns repeat a few sets over and over: each distinct cell is split once."""
    try:
        return tuple(_split_text(cell, sep, ""))
    except DataFormatError:
        return None


def _split_text(cell: str, sep: str | None, where: str) -> list[str]:
    text = cell.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise DataFormatError(
                f"{where}: the tags {text[:60]!r} are not a JSON list ({exc})."
            ) from None
        return _as_list(value, where)
    if sep is None:
        sep = next((s for s in SEPARATORS if s in text), "|")
    return [p.strip() for p in text.split(sep) if p.strip()]


def _as_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple):
        raise DataFormatError(
            f"{where}: tags are a list of names or a text like 'a|b', not {value!r}."
        )
    out = []
    for v in value:
        if not isinstance(v, str | int) or isinstance(v, bool):
            raise DataFormatError(f"{where}: tag {v!r} is not a name.")
        out.append(str(v))
    return out


def _flag(value: Any, column: str, where: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
    elif isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "y", "t"):
            return True
        if low in ("0", "false", "no", "n", "f"):
            return False
        if value.strip() in _NULL:
            return None
    raise DataFormatError(
        f"{where}: column {column!r} holds {value!r}; a tag column holds 0/1 (or true/false)."
    )


def _rows_of_columns(
    source: str, columns: dict[str, list[Any]], first_line: int, step_line: int,
    key_column: str, tags_column: str | None, tag_columns: Sequence[str], sep: str | None,
) -> TagRows:  # fmt: skip
    keys_raw = columns[key_column]
    n = len(keys_raw)
    lines = [first_line + k * step_line for k in range(n)]

    def where(k: int) -> str:  # only made for a message: a string per row costs
        return f"{source}, line {lines[k]}"

    keys = [k if type(k) is str else "" if k is None else str(k) for k in keys_raw]
    for k, key in enumerate(keys):
        if not key.strip():
            raise DataFormatError(f"{where(k)}: no key in column {key_column!r}.")
    tags: list[list[str] | None] = []
    if tags_column is not None:
        for k, cell in enumerate(columns[tags_column]):
            if cell is None:
                tags.append(None)
            elif type(cell) is str:
                if cell.strip() in _NULL_TEXT:
                    tags.append(None)
                    continue
                found = _split_cached(cell, sep)
                tags.append(list(found) if found is not None else _split_text(cell, sep, where(k)))
            elif type(cell) is list and all(type(v) is str for v in cell):
                tags.append(cell)  # a Parquet or JSON list of names, as read
            else:
                tags.append(_as_list(cell, where(k)))
    else:
        for k in range(n):
            flags = [_flag(columns[c][k], c, where(k)) for c in tag_columns]
            if all(f is None for f in flags):
                tags.append(None)
            else:
                tags.append([c for c, f in zip(tag_columns, flags, strict=True) if f])
    return TagRows(keys, tags, lines)


def read_tag_rows(
    path: str | os.PathLike[str],
    *,
    key_column: str,
    tags_column: str | None = None,
    tag_columns: Sequence[str] = (),
    sep: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[TagRows]:
    """The rows of a tag file in chunks (see the module doc); DataFormatError naming the file
    and line of the first bad row, InvalidParameter for a missing column."""
    path = Path(path)
    if (tags_column is None) == (not tag_columns):
        raise InvalidParameter(
            "Give either the list column of tags (tags_column) or the tag columns "
            "(tag_columns), not both nor neither."
        )
    wanted = [key_column, *([tags_column] if tags_column else tag_columns)]
    kind = _kind_of(path)
    source = path.name
    if kind == "jsonl":
        yield from _jsonl(path, wanted, key_column, tags_column, tag_columns, sep, chunk_rows)
        return
    if kind == "parquet":
        pf = pq.ParquetFile(path)
        _check_columns(source, pf.schema_arrow.names, wanted)
        start = 0
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=wanted):
            cols = {c: batch.column(c).to_pylist() for c in wanted}
            yield _rows_of_columns(source, cols, start, 1, key_column, tags_column,
                                   tag_columns, sep)  # fmt: skip
            start += batch.num_rows
        return
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    types = {c: pa.string() for c in wanted}
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 20),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            include_columns=wanted,
            strings_can_be_null=False,
            null_values=[],
        ),
    )
    _check_columns(source, reader.schema.names, wanted)
    line = 2
    for batch in reader:
        cols = {c: batch.column(c).to_pylist() for c in wanted}
        yield _rows_of_columns(source, cols, line, 1, key_column, tags_column, tag_columns, sep)
        line += batch.num_rows


def _check_columns(source: str, names: Sequence[str], wanted: Sequence[str]) -> None:
    missing = [c for c in wanted if c not in names]
    if missing:
        hint = queries.hint(missing[0], list(names), "columns")
        raise InvalidParameter(f"{source}: no column {missing[0]!r}.{hint}")


def _jsonl(
    path: Path, wanted: Sequence[str], key_column: str, tags_column: str | None,
    tag_columns: Sequence[str], sep: str | None, chunk_rows: int,
) -> Iterator[TagRows]:  # fmt: skip
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    cols: dict[str, list[Any]] = {c: [] for c in wanted}
    lines: list[int] = []
    with opener(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise DataFormatError(f"{path.name}, line {number}: not JSON ({exc}).") from None
            if not isinstance(obj, dict):
                raise DataFormatError(f"{path.name}, line {number}: a row is a JSON object.")
            if key_column not in obj:
                raise DataFormatError(f"{path.name}, line {number}: no field {key_column!r}.")
            for c in wanted:
                cols[c].append(obj.get(c))
            lines.append(number)
            if len(lines) >= chunk_rows:
                yield _jsonl_chunk(path.name, cols, lines, key_column, tags_column,
                                   tag_columns, sep)  # fmt: skip
                cols, lines = {c: [] for c in wanted}, []
    if lines:
        yield _jsonl_chunk(path.name, cols, lines, key_column, tags_column, tag_columns, sep)


def _jsonl_chunk(
    source: str, cols: dict[str, list[Any]], lines: list[int], key_column: str,
    tags_column: str | None, tag_columns: Sequence[str], sep: str | None,
) -> TagRows:  # fmt: skip
    rows = _rows_of_columns(source, cols, 0, 0, key_column, tags_column, tag_columns, sep)
    rows.lines = lines
    return rows


def _classes(conn: Connection, dataset_id: int) -> dict[str, int]:
    return {c.name: int(c.position) for c in queries.list_classes(conn, dataset_id)}


def import_tags(
    store: Store,
    dataset_id: int,
    path: str | os.PathLike[str],
    *,
    layer: str,
    key_column: str = "key",
    tags_column: str | None = None,
    tag_columns: Sequence[str] = (),
    sep: str | None = None,
    add_classes: bool = False,
    kind: str = "import",
    author: str = "import",
    progress: ProgressCallback = no_progress,
) -> dict[str, Any]:
    """Add the tags of ``path`` to the items of the dataset (matched by key) as the tag layer
    ``layer`` (made if new, of ``kind``), in one transaction; see the module doc. Returns
    ``{"layer", "n_rows", "n_new_labels", "n_classes_added"}``."""
    source = Path(path).name
    chunks = read_tag_rows(path, key_column=key_column, tags_column=tags_column,
                           tag_columns=tag_columns, sep=sep)  # fmt: skip
    now = datetime.now(UTC)
    n_rows = written = added = 0
    with store.write() as conn:
        classes = _classes(conn, dataset_id)
        grow = add_classes or not classes
        row = check_system_target(conn, dataset_id, layer, kind)
        fresh = row is None  # a new layer has no labels to compare with
        if row is None:
            create_layer(conn, dataset_id, layer, kind=kind, value_kind="tags",
                         origin={"source": source, "format": "tags"})  # fmt: skip
        elif row.value_kind != "tags":
            raise InvalidParameter(
                f"Layer {layer!r} holds {row.value_kind} labels, not tags; import the tags "
                "into another layer (--layer NAME)."
            )
        layer_row = writable_layer(conn, dataset_id, layer)
        if tag_columns and grow:
            added += ensure_classes(conn, dataset_id, list(tag_columns))
            classes = _classes(conn, dataset_id)
        sets: dict[tuple[str, ...], tuple[list[str], str]] = {}
        # Items already given a row, as a bitmap over item ids (flat: a byte per id).
        top = conn.execute(sa.select(sa.func.max(t.items.c.id))).scalar() or 0
        seen = bytearray(int(top) + 1)
        for chunk in chunks:
            # The tag set: refuse unknown tags (naming line and tag) or grow it.
            if grow:
                new = [tg for tags in chunk.tags for tg in tags or () if tg not in classes]
                if new:
                    added += ensure_classes(conn, dataset_id, new)
                    classes = _classes(conn, dataset_id)
                    sets.clear()
            ids = _item_ids(conn, dataset_id, chunk, source, seen)
            heads = {} if fresh else current_heads(conn, layer_row.id, ids)
            item_ids: list[int] = []
            values: list[str | None] = []
            supersedes: list[int | None] = []
            for k, tags in enumerate(chunk.tags):
                if tags is None:
                    continue
                key = tuple(tags)
                found = sets.get(key)  # each distinct set checked, ordered, serialized once
                if found is None:
                    value = _tag_set(tags, classes, f"{source}, line {chunk.lines[k]}")
                    found = (value, orjson.dumps(value).decode())
                    if len(sets) < 65_536:
                        sets[key] = found
                item_id = ids[k]
                head = heads.get(item_id)
                if head is not None:
                    if head[1] == Stored(value=found[0]) and head[2] is None:
                        continue
                    supersedes.append(head[0])
                else:
                    supersedes.append(None)
                item_ids.append(item_id)
                values.append(found[1])
            # Checked here by _tag_set (the rule of Tags.validate, kinds.tags.tag_set, with the
            # file's line in the message), so the values go to the label store's own append.
            append_labels(conn, layer_row.id, item_ids, values, author=author, created_at=now,
                          supersedes=supersedes)  # fmt: skip
            written += len(item_ids)
            n_rows += len(chunk.keys)
            progress(n_rows, None, f"importing the tags of {source}")
    return {"layer": layer, "n_rows": n_rows, "n_new_labels": written, "n_classes_added": added}


def _tag_set(tags: list[str], classes: dict[str, int], where: str) -> list[str]:
    """The tag set as stored (each once, in class order) or DataFormatError naming the tag."""
    if len(tags) == 1 and tags[0] in classes:  # the common cases, without a sort
        return list(tags)
    if not tags:
        return []
    if len(tags) > MAX_TAGS:
        raise DataFormatError(f"{where}: {len(tags)} tags; one item holds at most {MAX_TAGS}.")
    for tag in tags:
        if tag not in classes:
            hint = queries.hint(tag, list(classes), "tags")
            raise DataFormatError(
                f"{where}: tag {tag!r} is not in the dataset's tag set.{hint} Nothing was "
                "imported (add it to the classes, or import with add_classes)."
            )
    return sorted(set(tags), key=classes.__getitem__)


def _item_ids(
    conn: Connection, dataset_id: int, chunk: TagRows, source: str, seen: bytearray
) -> list[int]:
    keys = chunk.keys
    found = bulk.ids_by_key(conn, dataset_id, keys)
    out = []
    for k, key in enumerate(keys):
        if key not in found:
            raise DataFormatError(
                f"{source}, line {chunk.lines[k]}: item {key!r} is not in the dataset (rows are "
                "matched to items by key). Nothing was imported."
            )
        item_id = found[key]
        if seen[item_id]:
            raise DataFormatError(
                f"{source}, line {chunk.lines[k]}: item {key!r} appears twice; give each item "
                "one row. Nothing was imported."
            )
        seen[item_id] = 1
        out.append(item_id)
    return out


# -- export -----------------------------------------------------------------------------------
def _iter_layer(
    conn: Connection, dataset_id: int, layer: str, filter: str | None
) -> Iterator[list[tuple[str, list[str]]]]:
    from assay.store import filters

    row = queries.get_layer(conn, dataset_id, layer)
    if row.value_kind != "tags":
        raise InvalidParameter(f"Layer {layer!r} holds {row.value_kind} labels, not tags.")
    i, h, lab = t.items.c, t.label_heads.c, t.labels.c
    value: Any = lab.value
    if conn.dialect.name == "postgresql":
        value = sa.cast(lab.value, sa.Text)
    query = (
        sa.select(i.id, i.external_key, value)
        .select_from(
            t.items.join(t.label_heads, sa.and_(h.item_id == i.id, h.layer_id == row.id)).join(
                t.labels, lab.id == h.label_id
            )
        )
        .where(i.dataset_id == dataset_id, lab.value.is_not(None))
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.where(where)
    for rows in queries.iter_raw_chunks(conn, query, chunk_size=CHUNK_ROWS):
        yield [
            (str(key), orjson.loads(v) if isinstance(v, str | bytes) else v) for _, key, v in rows
        ]


def export_tags(
    store: Store,
    dataset_id: int,
    layer: str,
    path: str | os.PathLike[str],
    *,
    columns: bool = False,
    sep: str = "|",
    key_column: str = "key",
    tags_column: str = "tags",
    filter: str | None = None,
) -> dict[str, Any]:
    """Write tag layer ``layer`` to ``path`` (.csv/.tsv, .jsonl or .parquet): a list column
    (``tags_column``; CSV: names joined by ``sep``; JSONL and Parquet: a list) or, with
    ``columns``, one 0/1 column per tag of the dataset. Returns ``{"path", "n_rows"}``."""
    path = Path(path)
    kind = _kind_of(path)
    n = 0
    with store.read() as conn:
        classes = list(_classes(conn, dataset_id))
        chunks = _iter_layer(conn, dataset_id, layer, filter)
        if kind == "jsonl":
            with path.open("wb") as f:
                for chunk in chunks:
                    for key, tags in chunk:
                        obj: dict[str, Any] = {key_column: key}
                        if columns:
                            obj.update({c: int(c in tags) for c in classes})
                        else:
                            obj[tags_column] = tags
                        f.write(orjson.dumps(obj) + b"\n")
                    n += len(chunk)
            return {"path": str(path), "n_rows": n}
        writer: Any = None
        try:
            for chunk in chunks:
                table = _arrow_chunk(chunk, classes, columns, sep, key_column, tags_column,
                                     csv=kind == "csv")  # fmt: skip
                if writer is None:
                    if kind == "parquet":
                        writer = pq.ParquetWriter(path, table.schema)
                    else:
                        delimiter = "\t" if ".tsv" in path.name.lower() else ","
                        writer = pacsv.CSVWriter(
                            path, table.schema, write_options=pacsv.WriteOptions(
                                delimiter=delimiter, quoting_style="needed"),
                        )  # fmt: skip
                writer.write_table(table)
                n += len(chunk)
            if writer is None:  # an empty layer: the header only
                table = _arrow_chunk([], classes, columns, sep, key_column, tags_column,
                                     csv=kind == "csv")  # fmt: skip
                if kind == "parquet":
                    pq.write_table(table, path)
                else:
                    pacsv.write_csv(table, path)
        finally:
            if writer is not None:
                writer.close()
    return {"path": str(path), "n_rows": n}


def _arrow_chunk(
    chunk: list[tuple[str, list[str]]], classes: Sequence[str], columns: bool, sep: str,
    key_column: str, tags_column: str, *, csv: bool,
) -> pa.Table:  # fmt: skip
    data: dict[str, Any] = {key_column: pa.array([k for k, _ in chunk], pa.string())}
    if columns:
        for c in classes:
            data[c] = pa.array([int(c in tags) for _, tags in chunk], pa.int8())
    elif csv:
        data[tags_column] = pa.array([sep.join(tags) for _, tags in chunk], pa.string())
    else:
        data[tags_column] = pa.array([tags for _, tags in chunk], pa.list_(pa.string()))
    return pa.table(data)
