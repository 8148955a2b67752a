"""Read a CSV of labels for bulk labeling, checking every line before anything is written."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from assay.errors import DataFormatError, where
from assay.store.naming import clean_name

KEY_COLUMNS = ("key", "item_id")
MAX_ERRORS = 5


@dataclass(frozen=True)
class CsvLabel:
    """One line of a labels CSV: the item (key or id), the class ('' clears) and a note."""

    line: int
    item: str | int
    label: str | None
    note: str | None


def read_label_csv(path: str | os.PathLike[str], classes: list[str]) -> list[CsvLabel]:
    """The labels in ``path``: a header with ``key`` (or ``item_id``) and ``label`` columns and
    an optional ``note`` column. Errors name the file, the line and what to do."""
    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot open it ({exc.strerror}).") from exc
    known = set(classes)
    out: list[CsvLabel] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    with handle:
        try:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            key_column = next((c for c in KEY_COLUMNS if c in header), None)
            if key_column is None or "label" not in header:
                raise DataFormatError(
                    f"{where(path, 1)}: the header must name a 'key' (or 'item_id') column and "
                    f"a 'label' column; it has {', '.join(map(repr, header)) or 'nothing'}."
                )
            for row in reader:
                line = reader.line_num
                raw = (row.get(key_column) or "").strip()
                text = (row.get("label") or "").strip()
                label = clean_name(text) if text else None
                if not raw:
                    errors.append(f"{where(path, line, key_column)}: empty")
                    continue
                if key_column == "item_id" and not raw.isdigit():
                    errors.append(f"{where(path, line, key_column)}: {raw!r} is not an item id")
                    continue
                if raw in seen:
                    errors.append(
                        f"{where(path, line, key_column)}: {raw!r} is also on line {seen[raw]}"
                    )
                    continue
                seen[raw] = line
                if label is not None and label not in known:
                    errors.append(
                        f"{where(path, line, 'label')}: {label!r} is not a class of the dataset"
                    )
                    continue
                note = (row.get("note") or "").strip() or None
                item: str | int = int(raw) if key_column == "item_id" else raw
                out.append(CsvLabel(line, item, label, note))
        except UnicodeDecodeError as exc:
            raise DataFormatError(
                f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8."
            ) from exc
        except csv.Error as exc:
            raise DataFormatError(f"{where(path, reader.line_num)}: {exc}") from exc
    if errors:
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        raise DataFormatError(
            "Nothing was written; fix these lines and run again:\n  "
            + "\n  ".join(errors[:MAX_ERRORS])
            + more
            + f"\nThe classes are: {', '.join(classes)}."
        )
    if not out:
        raise DataFormatError(f"{path}: no labels in it (only a header?).")
    return out
