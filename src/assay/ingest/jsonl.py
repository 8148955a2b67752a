"""Import JSONL text (one JSON object per line, ``.gz`` too), streamed line by line.

Each record becomes a ``text`` item: its text field is the text, the fields named as label,
key and split play those parts, and every other field is kept as the item's ``meta``. The
content hash covers the text only, so two records with the same text are duplicates.
"""

from __future__ import annotations

import difflib
import gzip
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

from assay.errors import DataFormatError, InvalidParameter
from assay.ingest.staging import ImportJob, ImportResult, content_hash
from assay.ingest.tables import label_text
from assay.progress import ProgressCallback, no_progress
from assay.store import Store

_BOM = b"\xef\xbb\xbf"


def import_jsonl(
    store: Store,
    path: str | os.PathLike[str],
    *,
    dataset: str,
    text_field: str = "text",
    label_field: str | None = None,
    key_field: str | None = None,
    split_field: str | None = None,
    progress: ProgressCallback = no_progress,
    **job_options: Any,
) -> ImportResult:
    """Import a JSONL file of text records, atomically.

    Parameters
    ----------
    store : Store
    path : path
        A ``.jsonl`` file (or ``.jsonl.gz``): one JSON object per line; blank lines are skipped.
    dataset : str
        Dataset to import into (created if new).
    text_field : str
        Field holding the text (required in every record).
    label_field : str, optional
        Field holding the class (a record without it, or with null, has no label). Without
        it, nothing is labeled. Numbers become text: ``3`` and ``3.0`` give ``"3"``.
    key_field : str, optional
        Field holding each record's external key (required in every record when given); by
        default the 0-based index of the record among the file's records.
    split_field : str, optional
        Field holding the split.
    **job_options
        Passed to :class:`~assay.ingest.staging.ImportJob` (``classes``, ``add_classes``,
        ``layer``, ``batch_size`` ...).

    Returns
    -------
    ImportResult

    Raises
    ------
    DataFormatError
        A line is not UTF-8 or not a JSON object, a record lacks the text or key field, a
        named label or split field is in no record, or the file holds no record.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file.")
    reader = _RecordReader(path, text_field, label_field, key_field, split_field)
    with ImportJob(
        store,
        dataset,
        source=str(path),
        format="jsonl",
        total=_count_lines(path),
        progress=progress,
        **job_options,
    ) as job:
        for line, row in reader.rows():
            job.add(row, where=line)
        reader.check_fields_seen()
        if job.n_rows == 0:
            raise DataFormatError(
                f"{path}: no records (the file is empty or has only blank lines)."
            )
        return job.publish()


class _RecordReader:
    """Parses the lines of one file into staged rows, naming the line of every problem."""

    def __init__(
        self,
        path: Path,
        text_field: str,
        label_field: str | None,
        key_field: str | None,
        split_field: str | None,
    ) -> None:
        named = [f for f in (text_field, label_field, key_field, split_field) if f is not None]
        if len(set(named)) < len(named):
            raise InvalidParameter(
                f"Each field can play one part only; got text_field={text_field!r}, "
                f"label_field={label_field!r}, key_field={key_field!r}, "
                f"split_field={split_field!r}."
            )
        self.path = path
        self.text_field = text_field
        self.label_field = label_field
        self.key_field = key_field
        self.split_field = split_field
        self.used = set(named)
        self.first_fields: list[str] | None = None
        self.seen: set[str] = set()

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, staged row) of every record in the file."""
        for index, (line, record) in enumerate(self.records()):
            yield line, self.row(line, index, record)

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, object) of every non-blank line."""
        number = 0
        try:
            with _open(self.path) as f:
                for number, raw in enumerate(f, 1):
                    if number == 1 and raw.startswith(_BOM):
                        raw = raw[len(_BOM) :]
                    if not raw.strip():
                        continue
                    yield number, self.parse(number, raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFormatError(
                f"{self.path}: cannot be read past line {number} ({exc}). Check that the file "
                "is complete."
            ) from exc

    def parse(self, line: int, raw: bytes) -> dict[str, Any]:
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise self._json_error(line, raw, exc) from exc
        if not isinstance(record, dict):
            raise DataFormatError(
                f"{self.path}, line {line}: expected a JSON object ({{...}}), got "
                f"{_kind(record)}. Each line must hold one object."
            )
        return record

    def row(self, line: int, index: int, record: dict[str, Any]) -> dict[str, Any]:
        """The staged row of one record."""
        if self.first_fields is None:
            self.first_fields = list(record)
        text = self._text(line, record)
        key = self._value(line, record, self.key_field) if self.key_field else str(index)
        if key is None:
            raise DataFormatError(
                f"{self.path}, line {line}: no key in field {self.key_field!r}"
                f"{_present(record)}. Every record needs a key."
            )
        meta = {k: v for k, v in record.items() if k not in self.used}
        return {
            "external_key": key,
            "kind": "text",
            "split": self._value(line, record, self.split_field),
            "text": text,
            "text_length": len(text),
            "meta": meta or None,
            "content_hash": content_hash(text),
            "label": self._value(line, record, self.label_field),
        }

    def check_fields_seen(self) -> None:
        """A label or split field that no record has is most likely misspelled: say so."""
        for option, name in (("label_field", self.label_field), ("split_field", self.split_field)):
            if name is None or name in self.seen or self.first_fields is None:
                continue
            close = difflib.get_close_matches(name, self.first_fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise DataFormatError(
                f"{self.path}: no record has the field {name!r} ({option}){hint} Fields of "
                f"the first record: {', '.join(self.first_fields) or 'none'}."
            )

    def _text(self, line: int, record: dict[str, Any]) -> str:
        if self.text_field not in record:
            close = difflib.get_close_matches(self.text_field, list(record), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise DataFormatError(
                f"{self.path}, line {line}: no field {self.text_field!r}{hint} Fields "
                f"present: {', '.join(record) or 'none'}. Name the text field with text_field."
            )
        text = record[self.text_field]
        if not isinstance(text, str):
            raise DataFormatError(
                f"{self.path}, line {line}: field {self.text_field!r} must be a string, got "
                f"{_kind(text)}."
            )
        return text

    def _value(self, line: int, record: dict[str, Any], field: str | None) -> str | None:
        if field is None or field not in record:
            return None
        self.seen.add(field)
        try:
            return label_text(record[field])
        except TypeError as exc:
            raise DataFormatError(
                f"{self.path}, line {line}: field {field!r} must be text or a number, got "
                f"{_kind(record[field])}."
            ) from exc

    def _json_error(self, line: int, raw: bytes, exc: orjson.JSONDecodeError) -> DataFormatError:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return DataFormatError(
                f"{self.path}, line {line}: not valid UTF-8 (byte {bad.start + 1} of the line). "
                "Save the file as UTF-8."
            )
        return DataFormatError(
            f"{self.path}, line {line}: not valid JSON ({exc.msg} at column {exc.colno}). "
            "Each line must hold one JSON object."
        )


def _open(path: Path) -> IO[bytes]:
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return cast(IO[bytes], gzip.open(path, "rb")) if gz else open(path, "rb")


def _count_lines(path: Path) -> int | None:
    """Lines in a plain file (cheap: counts newlines in 1 MB reads); None for gzip files."""
    with open(path, "rb") as f:
        if f.read(2) == b"\x1f\x8b":
            return None
        f.seek(0)
        n, last = 0, b""
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk
    return n + (1 if last and not last.endswith(b"\n") else 0)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


def _present(record: dict[str, Any]) -> str:
    return f" (fields present: {', '.join(record) or 'none'})"
