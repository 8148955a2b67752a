"""Import CSV/TSV and Parquet tables, streamed in Arrow record batches (flat memory).

Each row becomes a ``tabular`` item (a ``text`` item when a text column is named) whose
``fields`` are the columns not used as label, key, split or text. A CSV is read twice: a
first pass settles every column's type over the whole file (and finds parse errors before
anything is staged), the second stages the rows. Both passes stream.

Column types: a CSV column whose values all read as integers is stored as integers, else as
floats if they all read as numbers, else as booleans if they are all true/false, else as
strings. Empty cells and ``NA``, ``N/A``, ``NaN``, ``null``, ``None`` read as missing.

Labels, keys and splits are text. A CSV keeps them exactly as written (``3.0`` stays
``"3.0"``); typed Parquet values are written out: integers as ``"3"``, floats that are whole
numbers as ``"3"`` (as pandas stores integer labels with gaps), booleans as ``"true"``.

Line numbers in messages are 1-based lines of the file: the header is line 1 and row ``i``
(0-based) is line ``i + 2``, exact unless the file has blank lines or line breaks inside
quoted cells. Parquet rows are named by their 0-based index.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from assay.errors import DataFormatError, InvalidParameter
from assay.ingest.staging import ImportJob, ImportResult, content_hash
from assay.progress import ProgressCallback, no_progress
from assay.store import Store

# Arrow reads dozens of blocks ahead of the consumer, so the block size bounds memory: 1 MiB
# blocks keep it near 50 MB whatever the file size (8 MiB blocks held about 250 MB). Rows
# longer than a block make the block grow, up to MAX_BLOCK_SIZE.
BLOCK_SIZE = 1 << 20
MAX_BLOCK_SIZE = 64 << 20
PARQUET_BATCH = 65_536
NULL_VALUES = ["", "NA", "N/A", "#N/A", "NaN", "nan", "null", "NULL", "None"]
PARQUET_SUFFIXES = (".parquet", ".pq")
# Tried in order on each CSV column; the first that reads every value wins, else string.
_CANDIDATE_TYPES = (pa.int64(), pa.float64(), pa.bool_())
_SORT = orjson.OPT_SORT_KEYS
_UNPARSED = re.compile(r"(?:Failed to parse string|Failed to parse value): '?(.*?)'?(?: as a|$)")


@dataclass(frozen=True)
class Roles:
    """The columns that are not fields: label, key, split and text (None when not used)."""

    label: str | None = None
    key: str | None = None
    split: str | None = None
    text: str | None = None

    def names(self) -> list[str]:
        return [c for c in (self.label, self.key, self.split, self.text) if c is not None]


def import_table(
    store: Store,
    path: str | os.PathLike[str],
    *,
    dataset: str,
    label_column: str | None = None,
    key_column: str | None = None,
    split_column: str | None = None,
    text_column: str | None = None,
    delimiter: str | None = None,
    exclude_columns: Sequence[str] = (),
    progress: ProgressCallback = no_progress,
    **job_options: Any,
) -> ImportResult:
    """Import a CSV, TSV or Parquet table, one item per row, atomically.

    Parameters
    ----------
    store : Store
    path : path
        A ``.csv``/``.tsv`` file (``.gz`` too) or a ``.parquet`` file.
    dataset : str
        Dataset to import into (created if new).
    label_column : str, optional
        Column holding each row's class (empty cells: no label). Without it, no labels.
    key_column : str, optional
        Column holding each row's external key; by default the 0-based row index.
    split_column : str, optional
        Column holding each row's split (train, test ...).
    text_column : str, optional
        Makes the rows ``text`` items with this column as their text.
    delimiter : str, optional
        CSV delimiter; by default a tab for ``.tsv`` files and a comma otherwise.
    exclude_columns : sequence of str
        Columns that are not features (a number target imported into a layer after).
    **job_options
        Passed to :class:`~assay.ingest.staging.ImportJob` (``classes``, ``add_classes``,
        ``layer``, ``batch_size`` ...).

    Returns
    -------
    ImportResult

    Raises
    ------
    DataFormatError
        A named column is missing (the message suggests the closest one), the file cannot be
        parsed (naming the line), is not UTF-8, is empty, or a key is empty or repeated.

    Examples
    --------
    >>> import_table(store, "iris.csv", dataset="iris", label_column="species")  # doctest: +SKIP
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file.")
    source = _open_source(path, delimiter)
    roles = _roles(path, source.columns, label_column, key_column, split_column, text_column)
    source.prepare(roles)
    if source.n_rows == 0:
        raise DataFormatError(f"{path}: has a header but no rows. Nothing to import.")
    features = [c for c in source.columns if c not in roles.names() and c not in exclude_columns]
    with ImportJob(
        store,
        dataset,
        source=str(path),
        format="table",
        table_schema=[{"name": c, "dtype": source.dtype(c)} for c in features],
        total=source.n_rows,
        progress=progress,
        **job_options,
    ) as job:
        for start, columns in source.batches(roles):
            _stage(job, source, start, columns, features, roles)
        return job.publish()


def _stage(
    job: ImportJob,
    source: _Source,
    start: int,
    columns: dict[str, list[Any]],
    features: list[str],
    roles: Roles,
) -> None:
    """Stage one batch of rows: the hot loop of a table import.

    The content hash is that of the fields serialized with sorted keys (``json_hash``), so it
    does not depend on the order of the columns.
    """
    n = len(next(iter(columns.values()))) if columns else 0
    keys = columns[roles.key] if roles.key else [str(i) for i in range(start, start + n)]
    if roles.key and None in keys:
        raise DataFormatError(
            f"{source.locate(start + keys.index(None))}: the key column {roles.key!r} is empty. "
            "Every row needs a key."
        )
    labels = columns[roles.label] if roles.label else repeat(None)
    splits = columns[roles.split] if roles.split else repeat(None)
    texts = columns[roles.text] if roles.text else repeat(None)
    rows = zip(*(columns[c] for c in features), strict=True) if features else repeat((), n)
    numbers = _packed_numbers(columns, job.numeric_columns, n)
    dumps, add, where, kind = orjson.dumps, job.add, source.where, "text" if roles.text else None
    parts = zip(keys, labels, splits, texts, rows, numbers, strict=False)
    for i, (key, label, split, text, values, packed) in enumerate(parts):
        # Serialized once, with sorted keys: the stored JSON and the hash's input.
        fields = dumps(dict(zip(features, values, strict=True)), option=_SORT).decode()
        if kind is None:
            item = {
                "external_key": key,
                "kind": "tabular",
                "split": split,
                "fields": fields,
                "numbers": packed,
                "content_hash": content_hash(fields),
                "label": label,
            }
        else:
            text = text or ""
            item = {
                "external_key": key,
                "kind": kind,
                "split": split,
                "text": text,
                "text_length": len(text),
                "fields": fields if features else None,
                "numbers": packed,
                "content_hash": content_hash(text, fields),
                "label": label,
            }
        add(item, where(start + i))


def _packed_numbers(columns: dict[str, list[Any]], numeric: list[str], n: int) -> Iterator[Any]:
    """Each row's numeric columns as float64 bytes (``items.numbers``), built column-wise."""
    if not numeric:
        return repeat(None, n)
    matrix = np.column_stack([np.array(columns[c], dtype="<f8") for c in numeric])
    return (row.tobytes() for row in matrix)


# -- columns ---------------------------------------------------------------------------------


def _roles(
    path: Path,
    columns: list[str],
    label: str | None,
    key: str | None,
    split: str | None,
    text: str | None,
) -> Roles:
    named = {"label_column": label, "key_column": key, "split_column": split, "text_column": text}
    used = [v for v in named.values() if v is not None]
    for value in used:
        find_column(path, columns, value)
    if len(set(used)) < len(used):
        options = ", ".join(f"{k}={v!r}" for k, v in named.items() if v is not None)
        raise InvalidParameter(f"Each column can play one part only; got {options}.")
    return Roles(label, key, split, text)


def find_column(path: Path | str, columns: Sequence[str], name: str) -> str:
    """``name`` if it is a column, else DataFormatError suggesting the closest column."""
    if name in columns:
        return name
    folded = {c.casefold(): c for c in columns}
    close = folded.get(name.casefold()) or next(
        iter(difflib.get_close_matches(name, columns, n=1)), None
    )
    hint = f"; did you mean {close!r}?" if close else "."
    more = f" and {len(columns) - 30} more" if len(columns) > 30 else ""
    shown = ", ".join(columns[:30]) + more
    raise DataFormatError(f"{path}: no column {name!r}{hint} Columns: {shown or 'none'}.")


def _check_names(path: Path, names: list[str], rename: bool = True) -> list[str]:
    """Refuse duplicate column names; with ``rename``, trim names and call unnamed columns
    ``column_N`` (1-based), as a CSV header may leave them."""
    if rename:
        names = [n.strip() or f"column_{i + 1}" for i, n in enumerate(names)]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DataFormatError(
                f"{path}: the header names column {name!r} twice (columns {seen[name] + 1} and "
                f"{i + 1}). Give every column its own name."
            )
        seen[name] = i
    return names


def label_text(value: Any) -> str | None:
    """A label, key or split value as text: ``3`` and ``3.0`` give ``"3"``, missing gives None."""
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    raise TypeError(f"expected text or a number, got {type(value).__name__}")


def _dtype(type_: pa.DataType) -> str:
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "number"
    if pa.types.is_boolean(type_):
        return "bool"
    return "string"


# -- sources ---------------------------------------------------------------------------------


class _Source:
    """A table read in batches: its columns, row count, types and how to name a row."""

    path: Path
    columns: list[str]
    n_rows: int

    def prepare(self, roles: Roles) -> None:
        """Settle column types and the row count before anything is staged."""

    def dtype(self, column: str) -> str:
        raise NotImplementedError

    def where(self, index: int) -> int | str:
        """How ``ImportJob.add`` locates row ``index``: a line number, or a text."""
        raise NotImplementedError

    def locate(self, index: int) -> str:
        """Row ``index`` for a message: ``file, line N`` or ``file, row N``."""
        where = self.where(index)
        return f"{self.path}, line {where}" if isinstance(where, int) else where

    def batches(self, roles: Roles) -> Iterator[tuple[int, dict[str, list[Any]]]]:
        """(index of the first row, column name -> Python values) for each batch."""
        raise NotImplementedError


def _open_source(path: Path, delimiter: str | None) -> _Source:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES) or (delimiter is None and _starts_with(path, b"PAR1")):
        return _ParquetSource(path)
    if delimiter is None:
        delimiter = "\t" if name.endswith((".tsv", ".tsv.gz", ".tab")) else ","
    return _CsvSource(path, delimiter)


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as f:
        return f.read(len(magic)) == magic


class _ParquetSource(_Source):
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise DataFormatError(
                f"{path}: not a readable Parquet file ({exc}). Check that the file is complete."
            ) from exc
        schema = self.file.schema_arrow
        # pandas writes its index as "__index_level_0__": not a column of the data.
        fields = [f for f in schema if not f.name.startswith("__index_level_")]
        self.columns = _check_names(path, [f.name for f in fields], rename=False)
        self.types = {f.name: f.type for f in fields}
        self.n_rows = self.file.metadata.num_rows
        for name, type_ in self.types.items():
            if pa.types.is_binary(type_) or pa.types.is_large_binary(type_):
                raise DataFormatError(
                    f"{path}: column {name!r} holds binary data, which cannot be a field. "
                    "Drop the column or convert it to text."
                )

    def dtype(self, column: str) -> str:
        return _dtype(self.types[column])

    def where(self, index: int) -> str:
        return f"{self.path}, row {index}"

    def batches(self, roles: Roles) -> Iterator[tuple[int, dict[str, list[Any]]]]:
        start = 0
        text_roles = set(roles.names()) - {roles.text}
        try:
            for batch in self.file.iter_batches(batch_size=PARQUET_BATCH, columns=self.columns):
                columns = {
                    name: (
                        self._texts(name, start, column)
                        if name in text_roles or name == roles.text
                        else _python_values(column)
                    )
                    for name, column in zip(batch.schema.names, batch.columns, strict=True)
                }
                yield start, columns
                start += batch.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise DataFormatError(
                f"{self.path}: cannot be read past row {start} ({exc}). Check that the file is "
                "complete."
            ) from exc

    def _texts(self, name: str, start: int, column: pa.Array) -> list[str | None]:
        values = _python_values(column)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            return values
        for i, value in enumerate(values):
            try:
                values[i] = label_text(value)
            except TypeError as exc:
                raise DataFormatError(
                    f"{self.where(start + i)}: column {name!r} must hold text or numbers ({exc})."
                ) from exc
        return values


def _python_values(column: pa.Array) -> list[Any]:
    """Column values as JSON-able Python values (decimals as floats, times as ISO text)."""
    type_ = column.type
    if pa.types.is_dictionary(type_):
        column = column.dictionary_decode()
        type_ = column.type
    if pa.types.is_decimal(type_):
        return pc.cast(column, pa.float64()).to_pylist()
    if pa.types.is_temporal(type_):
        return [
            None if v is None else v.isoformat() if hasattr(v, "isoformat") else str(v)
            for v in column.to_pylist()
        ]
    return column.to_pylist()


class _CsvSource(_Source):
    def __init__(self, path: Path, delimiter: str) -> None:
        self.path = path
        self.delimiter = delimiter
        self.block_size = BLOCK_SIZE
        self.columns = _check_names(path, self._header())
        self.types: dict[str, pa.DataType] = {}
        self.n_rows = 0

    def dtype(self, column: str) -> str:
        return _dtype(self.types[column])

    def where(self, index: int) -> int:
        return index + 2

    def _header(self) -> list[str]:
        while True:
            try:
                reader = pacsv.open_csv(
                    self._stream(),
                    read_options=pacsv.ReadOptions(block_size=self.block_size),
                    parse_options=pacsv.ParseOptions(delimiter=self.delimiter),
                )
                names = list(reader.schema.names)
            except UnicodeDecodeError as exc:
                raise DataFormatError(
                    f"{self.path}, line 1: the header is not valid UTF-8. Save the file as UTF-8."
                ) from exc
            except pa.ArrowInvalid as exc:
                if self._grow_blocks(exc):
                    continue
                raise self._error(exc, 0) from exc
            reader.close()
            return names

    def _grow_blocks(self, exc: pa.ArrowInvalid) -> bool:
        """After Arrow found a row longer than a block: use bigger blocks, if allowed."""
        if "straddl" not in str(exc) or self.block_size >= MAX_BLOCK_SIZE:
            return False
        self.block_size *= 4
        return True

    def _stream(self) -> pa.NativeFile:
        return pa.input_stream(str(self.path), compression="detect")

    def _reader(self) -> pacsv.CSVStreamingReader:
        return pacsv.open_csv(
            self._stream(),
            read_options=pacsv.ReadOptions(
                block_size=self.block_size, column_names=self.columns, skip_rows=1
            ),
            parse_options=pacsv.ParseOptions(delimiter=self.delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(self.columns, pa.string()),
                null_values=NULL_VALUES,
                strings_can_be_null=True,
            ),
        )

    def _string_batches(self) -> Iterator[tuple[int, pa.RecordBatch]]:
        start = 0
        try:
            for batch in self._reader():
                yield start, batch
                start += batch.num_rows
        except pa.ArrowInvalid as exc:
            if self._grow_blocks(exc):
                raise _BlocksTooSmall from exc
            raise self._error(exc, start) from exc

    def prepare(self, roles: Roles) -> None:
        """Read the file once: count rows, find parse errors and settle column types."""
        while True:
            try:
                return self._scan(roles)
            except _BlocksTooSmall:
                continue  # read it again in bigger blocks

    def _scan(self, roles: Roles) -> None:
        skip = set(roles.names())
        candidates = {c: list(_CANDIDATE_TYPES) for c in self.columns if c not in skip}
        seen: set[str] = set()
        n = 0
        for _start, batch in self._string_batches():
            n += batch.num_rows
            for name, types in candidates.items():
                column = batch.column(name)
                if column.null_count == len(column):
                    continue
                seen.add(name)
                while types and not _castable(column, types[0]):
                    types.pop(0)
        self.n_rows = n
        self.types = {c: pa.string() for c in self.columns}
        for name, types in candidates.items():
            if name in seen and types:
                self.types[name] = types[0]

    def batches(self, roles: Roles) -> Iterator[tuple[int, dict[str, list[Any]]]]:
        for start, batch in self._string_batches():
            yield (
                start,
                {
                    name: _cast(batch.column(name), self.types[name]).to_pylist()
                    for name in self.columns
                },
            )

    # -- errors ----------------------------------------------------------------------------

    def _error(self, exc: pa.ArrowInvalid, start: int) -> DataFormatError:
        """Turn an Arrow CSV error into a message that names the line."""
        message = str(exc)
        if "Empty CSV file" in message:
            return DataFormatError(
                f"{self.path}: the file is empty. A table needs a header line and at least one row."
            )
        if "UTF8" in message or "UTF-8" in message:
            found = _first_bad_utf8(self._binary())
            at = f", line {found[0]}" if found else f", after line {start + 1}"
            byte = f" (byte {found[1]} of the line)" if found else ""
            return DataFormatError(
                f"{self.path}{at}: not valid UTF-8{byte}. Save the file as UTF-8."
            )
        ragged = _first_ragged_row(self._binary(), self.delimiter)
        if ragged is not None:
            line, problem = ragged
            return DataFormatError(
                f"{self.path}, line {line}: {problem}. Check the quoting and the delimiter "
                f"({self.delimiter!r}) on that line."
            )
        return DataFormatError(
            f"{self.path}, near line {start + 2}: cannot parse the CSV ({message})."
        )

    def _binary(self) -> IO[bytes]:
        if _starts_with(self.path, b"\x1f\x8b"):
            return cast(IO[bytes], gzip.open(self.path, "rb"))
        return open(self.path, "rb")


class _BlocksTooSmall(Exception):
    """A row did not fit in a block; the blocks were made bigger and reading starts again."""


def _cast(column: pa.Array, type_: pa.DataType) -> pa.Array:
    """Cast CSV text to ``type_``, allowing spaces around values (``1, 2``)."""
    if type_ == pa.string():
        return column
    try:
        return pc.cast(column, type_)
    except pa.ArrowInvalid as exc:
        # Arrow names the first value it could not read: trimming helps only if it is padded.
        bad = _UNPARSED.search(str(exc))
        if bad is not None and bad.group(1) == bad.group(1).strip():
            raise
        return pc.cast(pc.utf8_trim_whitespace(column), type_)


def _castable(column: pa.Array, type_: pa.DataType) -> bool:
    try:
        _cast(column, type_)
    except pa.ArrowInvalid:
        return False
    return True


def _first_bad_utf8(f: IO[bytes]) -> tuple[int, int] | None:
    """(line, 1-based byte in the line) of the first bytes that are not UTF-8."""
    with f:
        for number, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, exc.start + 1
    return None


def _first_ragged_row(f: IO[bytes], delimiter: str) -> tuple[int, str] | None:
    """(line, what is wrong) of the first row the csv module cannot read as header-wide."""
    with f:
        text = io.TextIOWrapper(f, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.reader(text, delimiter=delimiter)
        expected: int | None = None
        line = 1
        try:
            for row in reader:
                if expected is None:
                    expected = len(row)
                elif row and len(row) != expected:
                    return line, f"expected {expected} fields (like the header), got {len(row)}"
                line = reader.line_num + 1
        except csv.Error as exc:
            return line, f"cannot be parsed ({exc})"
    return None
