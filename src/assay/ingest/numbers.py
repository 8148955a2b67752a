"""Numbers from any table column (CSV/TSV, Parquet, JSONL) into a number layer, and back out.

:func:`read_number_column` reads one column (and the key column, or the row index) with
pyarrow, column-wise; :func:`check_numbers` checks every value against the layer's range at
once (numpy), naming the file, the line and the value of the first bad one ("not a number",
"outside [min, max]", "not a whole number"); :func:`import_numbers_onto` writes them in ONE
transaction onto the items matched by key (all or nothing; a value equal to the current one
is skipped, so a re-import writes nothing). Checked column-wise like box imports, the rows go
to the label store's insert without a per-label ``validate`` (the rule is the kind's
:func:`assay.labels.kinds.numbers.number_value`, applied here to arrays).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import DataFormatError, InvalidParameter
from assay.labels.kinds import Stored
from assay.labels.layers import check_system_target, create_layer
from assay.labels.writes import append_labels, current_heads, writable_layer
from assay.progress import ProgressCallback, no_progress
from assay.store import Store, queries
from assay.store import schema as t

__all__ = [
    "NumberColumn",
    "check_numbers",
    "export_numbers",
    "import_numbers_onto",
    "number_layer",
    "read_number_column",
]

WRITE_CHUNK = 20_000


@dataclass(frozen=True)
class NumberColumn:
    """One column of numbers: ``keys`` (str, the items' external keys), ``values`` (float,
    nan where the cell is empty: no label), ``first_line`` (the file line of row 0) and what
    a "line" is called in messages."""

    source: str
    column: str
    keys: list[str]
    values: np.ndarray
    raw: pa.Array  # the cells as read (for messages)
    first_line: int
    unit: str = "line"

    def where(self, row: int) -> str:
        return f"{self.source}, {self.unit} {self.first_line + row}"


def _read_table(path: Path, columns: list[str], delimiter: str | None) -> tuple[pa.Table, int, str]:
    """The columns of the file, read as text where a CSV (so a bad cell is reported, not
    guessed); (table, line of row 0, "line"/"row")."""
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            _check_columns(path, schema.names, columns)
            return pq.read_table(path, columns=columns), 0, "row"
        if name.endswith((".jsonl", ".ndjson", ".json")):
            import pyarrow.json as pj

            table = pj.read_json(path)
            _check_columns(path, table.column_names, columns)
            return table.select(columns), 1, "line"
        import pyarrow.csv as pc

        sep = delimiter or ("\t" if name.endswith((".tsv", ".tsv.gz")) else ",")
        table = pc.read_csv(
            path,
            parse_options=pc.ParseOptions(delimiter=sep),
            convert_options=pc.ConvertOptions(
                include_columns=columns, column_types={c: pa.string() for c in columns},
                strings_can_be_null=True,
            ),
        )  # fmt: skip
        return table, 2, "line"
    except (pa.ArrowInvalid, pa.ArrowKeyError, KeyError) as exc:
        message = str(exc)
        if "No match for FieldRef" in message or "not found" in message.lower():
            raise DataFormatError(f"{path}: has no column among {columns} ({message}).") from exc
        raise DataFormatError(f"{path}: cannot be read as a table ({message}).") from exc


def _check_columns(path: Path, have: list[str], wanted: list[str]) -> None:
    for c in wanted:
        if c not in have:
            raise DataFormatError(
                f"{path}: no column {c!r}; the columns are {', '.join(have[:20])}."
            )


def read_number_column(
    path: str | os.PathLike[str],
    column: str,
    *,
    key_column: str | None = None,
    delimiter: str | None = None,
) -> NumberColumn:
    """The numbers of ``column`` in a CSV/TSV, Parquet or JSONL file, keyed by ``key_column``
    (default: the 0-based row index, as a table import keys its items). A cell that is not a
    number is a DataFormatError naming the file, the line and the cell; empty cells are nan
    (no label)."""
    import pyarrow.compute as pc

    p = Path(path).expanduser()
    if not p.is_file():
        raise DataFormatError(f"{p}: no such file.")
    wanted = [column] if key_column is None else [key_column, column]
    if key_column == column:
        raise InvalidParameter("The key column and the number column must differ.")
    table, first, unit = _read_table(p, wanted, delimiter)
    raw = table.column(column).combine_chunks()
    if pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type):
        stripped = pc.utf8_trim_whitespace(raw)
        empty = pc.equal(stripped, "")
        cleaned = pc.if_else(empty, pa.scalar(None, pa.string()), stripped)
        try:
            numbers = pc.cast(cleaned, pa.float64())
        except pa.ArrowInvalid:
            numbers = None
        if numbers is None:  # find the first cell that is not a number, for the message
            for k, cell in enumerate(cleaned.to_pylist()):
                if cell is None:
                    continue
                try:
                    float(cell)
                except ValueError:
                    raise DataFormatError(
                        f"{p}, {unit} {first + k}: {column} = {cell!r} is not a number. "
                        "Nothing was imported."
                    ) from None
            numbers = pc.cast(cleaned, pa.float64())
    elif (
        pa.types.is_integer(raw.type)
        or pa.types.is_floating(raw.type)
        or pa.types.is_null(raw.type)
    ):
        numbers = pc.cast(raw, pa.float64())
    else:
        bad = next((k for k, v in enumerate(raw.to_pylist()) if v is not None), 0)
        raise DataFormatError(
            f"{p}, {unit} {first + bad}: {column} = {raw[bad].as_py()!r} is not a number "
            f"(the column holds {raw.type}). Nothing was imported."
        )
    values = numbers.to_numpy(zero_copy_only=False).astype(np.float64)
    if key_column is None:
        keys = [str(k) for k in range(len(values))]
    else:
        key_cells = table.column(key_column).combine_chunks().cast(pa.string())
        keys = key_cells.to_pylist()
        missing = next((k for k, v in enumerate(keys) if v is None or v == ""), None)
        if missing is not None:
            raise DataFormatError(
                f"{p}, {unit} {first + missing}: the key ({key_column}) is empty. "
                "Nothing was imported."
            )
    return NumberColumn(str(p), column, keys, values, raw, first, unit)


def check_numbers(nc: NumberColumn, options: Mapping[str, Any]) -> None:
    """Refuse the column if a value breaks the layer's range (DataFormatError naming the
    file, the line and the value); repeated keys are refused too."""
    v = nc.values
    present = ~np.isnan(v)
    checks: list[tuple[np.ndarray, str]] = [(present & ~np.isfinite(v), "is not a finite number")]
    lo, hi = options.get("min"), options.get("max")
    if lo is not None or hi is not None:
        shown = f"[{'-inf' if lo is None else f'{lo:g}'}, {'inf' if hi is None else f'{hi:g}'}]"
        outside = present & (
            (v < (-np.inf if lo is None else lo)) | (v > (np.inf if hi is None else hi))
        )
        checks.append((outside, f"is outside [min, max] = {shown}, the layer's range"))
    if options.get("integer"):
        with np.errstate(invalid="ignore"):
            checks.append((present & (np.mod(v, 1) != 0), "is not a whole number (integer layer)"))
    for mask, what in checks:
        bad = np.flatnonzero(mask)
        if len(bad):
            k = int(bad[0])
            more = f" ({len(bad) - 1} more such values)" if len(bad) > 1 else ""
            raise DataFormatError(
                f"{nc.where(k)}: {nc.column} = {v[k]:g} {what}{more}. Nothing was imported."
            )
    if len(set(nc.keys)) < len(nc.keys):
        seen: set[str] = set()
        for k, key in enumerate(nc.keys):
            if key in seen:
                raise DataFormatError(
                    f"{nc.where(k)}: key {key!r} appears twice. Nothing was imported."
                )
            seen.add(key)


def number_layer(
    conn: Connection, dataset_id: int, name: str, kind: str, options: Mapping[str, Any] | None
) -> Any:
    """The number layer ``name`` (created with ``options`` when new); InvalidParameter when it
    holds another kind."""
    row = check_system_target(conn, dataset_id, name, kind)
    if row is None:
        create_layer(conn, dataset_id, name, kind=kind, value_kind="number",
                     options=dict(options or {}))  # fmt: skip
        return queries.get_layer(conn, dataset_id, name)
    if row.value_kind != "number":
        raise InvalidParameter(
            f"Layer {name!r} holds {row.value_kind} labels, not numbers; import the numbers "
            "into another layer (--layer NAME)."
        )
    return queries.get_layer(conn, dataset_id, name)


def _item_ids(conn: Connection, dataset_id: int, nc: NumberColumn) -> list[int]:
    """The item id of every key (DataFormatError naming the line of the first unknown one).
    Many keys: one pass over the dataset's keys (IN lists of a million keys cost more to
    compile than to run); a few: looked up in chunks."""
    found: dict[str, int] = {}
    i = t.items.c
    if len(nc.keys) > 10_000:
        wanted = set(nc.keys)
        rows = conn.execute(sa.select(i.external_key, i.id).where(i.dataset_id == dataset_id))
        for key, item_id in rows:
            if key in wanted:
                found[key] = item_id
    few = len(nc.keys) <= 10_000
    for start in range(0, len(nc.keys) if few else 0, queries.IN_CHUNK):
        chunk = nc.keys[start : start + queries.IN_CHUNK]
        rows = conn.execute(
            sa.select(i.external_key, i.id).where(
                i.dataset_id == dataset_id, i.external_key.in_(chunk)
            )
        )
        found.update({str(r[0]): int(r[1]) for r in rows})
    for k, key in enumerate(nc.keys):
        if key not in found:
            raise DataFormatError(
                f"{nc.where(k)}: key {key!r} is not an item of the dataset (items are matched by "
                "key: name the key column with --key-column). Nothing was imported."
            )
    return [found[k] for k in nc.keys]


def import_numbers_onto(
    store: Store,
    dataset_id: int,
    nc: NumberColumn,
    *,
    layer: str,
    options: Mapping[str, Any] | None = None,
    kind: str = "import",
    author: str = "import",
    progress: ProgressCallback = no_progress,
) -> int:
    """Write ``nc``'s numbers into number layer ``layer`` (created with ``options`` if new)
    on the items matched by key, in one transaction, checked against the layer's range
    first; empty cells write nothing. Returns the labels written."""
    with store.write() as conn:
        new = check_system_target(conn, dataset_id, layer, kind) is None
        row = number_layer(conn, dataset_id, layer, kind, options)
        check_numbers(nc, row.options or {})
        ids = _item_ids(conn, dataset_id, nc)
        layer_row = writable_layer(conn, dataset_id, layer)
        now = datetime.now(UTC)
        present = np.flatnonzero(~np.isnan(nc.values))
        total, written = len(present), 0
        for start in range(0, total, WRITE_CHUNK):
            rows_k = present[start : start + WRITE_CHUNK].tolist()
            chunk_ids = [ids[k] for k in rows_k]
            numbers = nc.values[present[start : start + WRITE_CHUNK]]
            # The values as JSON text, all at once (one orjson call, split at the commas).
            texts: list[str | None] = list(orjson.dumps(numbers.tolist()).decode()[1:-1].split(","))
            supersedes: list[int | None] | None = None
            if not new:
                heads = current_heads(conn, layer_row.id, chunk_ids)
                keep = [
                    k for k, (item_id, value) in enumerate(zip(chunk_ids, numbers.tolist(),
                                                               strict=True))
                    if (head := heads.get(item_id)) is None
                    or not (head[1] == Stored(value=value) and head[2] is None)
                ]  # fmt: skip
                chunk_ids = [chunk_ids[k] for k in keep]
                texts = [texts[k] for k in keep]
                supersedes = [(heads.get(i) or (None,))[0] for i in chunk_ids]
            append_labels(conn, layer_row.id, chunk_ids, texts, author=author, created_at=now,
                          supersedes=supersedes)  # fmt: skip
            written += len(chunk_ids)
            progress(min(start + WRITE_CHUNK, total), total, f"writing numbers of {nc.source}")
        return written


def _chunks(conn: Connection, layer_id: int, where: Any) -> Iterator[Sequence[Any]]:
    h, i, lb = t.label_heads.c, t.items.c, t.labels.c
    base = (
        sa.select(h.item_id, i.external_key, i.split, lb.value, lb.author, lb.created_at)
        .select_from(
            t.label_heads.join(t.items, i.id == h.item_id).join(t.labels, lb.id == h.label_id)
        )
        .where(h.layer_id == layer_id, lb.value.is_not(None))
        .order_by(h.item_id)
        .limit(50_000)
    )
    if where is not None:
        base = base.where(where)
    after = -1
    while True:
        rows = conn.execute(base.where(h.item_id > after)).all()
        if rows:
            yield rows
        if len(rows) < 50_000:
            return
        after = rows[-1].item_id


def export_numbers(
    store: Store,
    dataset_id: int,
    path: str | os.PathLike[str],
    *,
    layer: str,
    format: str,
    filter: str | None = None,
) -> int:
    """Write number layer ``layer``'s current values (``key, split, value, author,
    created_at``) to CSV, Parquet or JSONL (written beside and renamed: never half a file);
    the number column is named after the layer, so the file imports back with
    ``--number-column LAYER --key-column key``. Returns the rows written."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from assay.store import filters

    target = Path(path).expanduser()
    with store.read() as conn:
        row = queries.get_layer(conn, dataset_id, layer)
        where = filters.compile_filter(conn, dataset_id, filter)
        keys: list[str] = []
        splits: list[str | None] = []
        values: list[float] = []
        authors: list[str] = []
        created: list[Any] = []
        for rows in _chunks(conn, row.id, where):
            for r in rows:
                keys.append(str(r.external_key))
                splits.append(r.split)
                values.append(float(r.value))
                authors.append(r.author)
                created.append(r.created_at)
    table = pa.table({
        "key": pa.array(keys, pa.string()), "split": pa.array(splits, pa.string()),
        layer: pa.array(values, pa.float64()), "author": pa.array(authors, pa.string()),
        "created_at": pa.array([str(c) for c in created], pa.string()),
    })  # fmt: skip
    partial = target.with_name(f".{target.name}.partial")
    try:
        if format == "parquet":
            pq.write_table(table, partial)
        elif format == "csv":
            pcsv.write_csv(table, partial)
        elif format == "jsonl":
            import orjson

            with partial.open("wb") as f:
                for rec in table.to_pylist():
                    f.write(orjson.dumps(rec) + b"\n")
        else:
            raise InvalidParameter(
                f"A number layer exports as csv, parquet or jsonl, not {format!r}."
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return len(keys)
