"""Importing and exporting text spans: spaCy/Prodigy JSONL, CoNLL BIO/IOB2, Label Studio JSON.

A reader turns its file into a :class:`SpanFile`: the texts (key, text, meta), the span
classes in the order first seen, and the span sets per layer (``None``: the layer the import
is asked for; a Label Studio file with several annotators gives one per annotator). Every span
is checked against its text by the kind's own rule (:func:`assay.labels.kinds.spans.span_set`)
while reading, so an error names the file, the line (or task) and the span, and nothing is
written; then

* :func:`import_span_file` makes the texts items (staged batches, one publishing transaction,
  as every import) and writes the spans in that same transaction (a new dataset);
* :func:`import_spans_onto` puts the spans on texts already in a dataset, matched by key, else
  by the text itself, in one transaction.

Formats:

* ``spacy-jsonl``: one object per line with ``text`` and ``spans`` (``start``, ``end``,
  ``label``; character offsets, end exclusive), as spaCy's and Prodigy's ``ner`` output.
  Prodigy's ``tokens`` are ignored; records with ``answer`` ``reject`` or ``ignore`` are
  skipped. The key is ``key``, ``id`` or ``meta.id``, else the line number.
* ``conll``: a token per line (the tag in the last column, BIO/IOB2), a blank line between
  sentences, ``-DOCSTART-`` lines skipped; the text is the tokens joined by spaces. An ``I-X``
  that does not continue a ``B-X``/``I-X`` is an error naming the line.
* ``label-studio``: the JSON export (a list of tasks with ``data.text`` and
  ``annotations[].result[]`` of type ``labels``); each annotator (``completed_by``) becomes a
  layer named after them when ``per_annotator`` (the default when there are several), else the
  first completed annotation of each task goes to ``layer``.
"""

from __future__ import annotations

import os
import re
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import DataFormatError, InvalidParameter
from assay.ingest.boxes import ensure_classes
from assay.ingest.staging import ImportJob, ImportResult, content_hash
from assay.labels.kinds import Stored
from assay.labels.kinds.spans import span_set
from assay.labels.layers import check_system_target, create_layer
from assay.labels.writes import append_labels, current_heads, writable_layer
from assay.progress import ProgressCallback, no_progress
from assay.store import Store, bulk, queries
from assay.store import schema as t
from assay.store.naming import clean_name

__all__ = [
    "DEFAULT_SPAN_LAYER",
    "SPAN_FORMATS",
    "SpanFile",
    "export_spans",
    "import_span_file",
    "import_spans_onto",
    "read_spans",
]

DEFAULT_SPAN_LAYER = "spans"
SPAN_FORMATS = ("spacy-jsonl", "conll", "label-studio")
WRITE_CHUNK = 5_000


class SpanColumns:
    """One layer's span sets as flat columns (start, end, class code; a text's spans one run
    of them): about 10 bytes a span where a dict per span costs about 300, which is what
    keeps an import of a million spans in bounded memory."""

    def __init__(self) -> None:
        self.texts = array("i")  # text index of each run
        self.firsts = array("q")  # first span of each run
        self.starts = array("i")
        self.ends = array("i")
        self.codes = array("H")

    def add(self, index: int, spans: Sequence[Mapping[str, Any]], codes: Mapping[str, int]) -> None:
        self.texts.append(index)
        self.firsts.append(len(self.starts))
        for sp in spans:
            self.starts.append(sp["start"])
            self.ends.append(sp["end"])
            self.codes.append(codes[sp["class"]])

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def n_spans(self) -> int:
        return len(self.starts)

    def json_sets(self, names: Sequence[str]) -> Iterator[tuple[int, str]]:
        """(text index, its spans as JSON text, the same text orjson makes of :meth:`sets`)
        for each run, in order: no dict per span."""
        bounds = [*self.firsts, len(self.starts)]
        starts, ends, codes = self.starts, self.ends, self.codes
        tails = [f',"class":{orjson.dumps(n).decode()}}}' for n in names]
        for k, index in enumerate(self.texts):
            parts = [
                f'{{"start":{starts[j]},"end":{ends[j]}{tails[codes[j]]}'
                for j in range(bounds[k], bounds[k + 1])
            ]
            yield index, f"[{','.join(parts)}]"

    def sets(self, names: Sequence[str]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
        """(text index, its spans as the kind keeps them) for each run, in order."""
        bounds = [*self.firsts, len(self.starts)]
        for k, index in enumerate(self.texts):
            yield (
                index,
                [
                    {"start": self.starts[j], "end": self.ends[j], "class": names[self.codes[j]]}
                    for j in range(bounds[k], bounds[k + 1])
                ],
            )


@dataclass
class SpanFile:
    """What a reader found: texts, classes and span sets per layer (``None``: the default)."""

    source: str
    format: str
    keys: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metas: list[dict[str, Any] | None] = field(default_factory=list)
    classes: dict[str, int] = field(default_factory=dict)
    layers: dict[str | None, SpanColumns] = field(default_factory=dict)
    _codes: dict[str, int] = field(default_factory=dict)

    @property
    def n_spans(self) -> int:
        return sum(c.n_spans for c in self.layers.values())

    def add_text(self, key: str, text: str, meta: dict[str, Any] | None = None) -> int:
        self.keys.append(key)
        self.texts.append(text)
        self.metas.append(meta)
        return len(self.texts) - 1

    def add_spans(
        self, layer: str | None, index: int, spans: Sequence[Mapping[str, Any]], where: str,
        classes: Mapping[str, int] | None = None,
    ) -> None:  # fmt: skip
        """Check ``spans`` against text ``index`` (the kind's rule) and keep them; new
        classes are added unless ``classes`` (a fixed class list) is given."""
        if classes is None:
            for sp in spans:
                name = sp.get("class")
                if isinstance(name, str) and name not in self.classes:
                    self.classes[name] = len(self.classes)
        try:
            kept = span_set(spans, classes or self.classes, self.texts[index], where,
                            overlap=True)  # fmt: skip
        except InvalidParameter as exc:
            raise DataFormatError(f"{exc} Nothing was imported.") from None
        for sp in kept:
            if sp["class"] not in self._codes:
                self._codes[sp["class"]] = len(self._codes)
        self.layers.setdefault(layer, SpanColumns()).add(index, kept, self._codes)

    @property
    def code_names(self) -> list[str]:
        """Class name of each code the columns hold."""
        return list(self._codes)


def _key(record: Mapping[str, Any], line: int) -> str:
    for value in (record.get("key"), record.get("id"), (record.get("meta") or {}).get("id")):
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return str(line)


def read_spacy_jsonl(path: Path, classes: Mapping[str, int] | None = None) -> SpanFile:
    """Read spaCy/Prodigy-style JSONL (see the module doc)."""
    sf = SpanFile(str(path), "spacy-jsonl")
    seen: dict[str, int] = {}
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{path}, line {line_no}"
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise DataFormatError(f"{where}: not JSON ({exc}). Nothing was imported.") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise DataFormatError(
                    f'{where}: a record is an object with "text" (a string) and "spans". '
                    "Nothing was imported."
                )
            if record.get("answer") in ("reject", "ignore"):
                continue
            spans = record.get("spans") or []
            if not isinstance(spans, list):
                raise DataFormatError(f'{where}: "spans" is a list. Nothing was imported.')
            converted = []
            for n, s in enumerate(spans, 1):
                if not isinstance(s, dict) or not {"start", "end", "label"} <= set(s):
                    raise DataFormatError(
                        f'{where}, span {n}: a span has "start", "end" and "label". '
                        "Nothing was imported."
                    )
                converted.append({"start": s["start"], "end": s["end"], "class": s["label"]})
            key = _key(record, line_no)
            if key in seen:
                raise DataFormatError(
                    f"{where}: the key {key!r} appears twice (first on line {seen[key]}). "
                    "Nothing was imported."
                )
            seen[key] = line_no
            meta = record.get("meta") if isinstance(record.get("meta"), dict) else None
            index = sf.add_text(key, record["text"], meta)
            sf.add_spans(None, index, converted, where, classes)
    return sf


_DOCSTART = "-DOCSTART-"


def read_conll(path: Path, classes: Mapping[str, int] | None = None) -> SpanFile:
    """Read a CoNLL BIO/IOB2 file (see the module doc)."""
    sf = SpanFile(str(path), "conll")
    tokens: list[str] = []
    spans: list[dict[str, Any]] = []
    first_line = 0
    offset = 0

    def flush() -> None:
        nonlocal tokens, spans, offset
        if tokens:
            index = sf.add_text(str(len(sf.texts)), " ".join(tokens))
            sf.add_spans(None, index, spans, f"{path}, sentence at line {first_line}", classes)
        tokens, spans, offset = [], [], 0

    current: dict[str, Any] | None = None
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            parts = line.split()
            if not parts or parts[0] == _DOCSTART:
                flush()
                current = None
                continue
            if len(parts) < 2:
                raise DataFormatError(
                    f"{path}, line {line_no}: a token line is 'TOKEN ... TAG' (BIO), got "
                    f"{line.strip()!r}. Nothing was imported."
                )
            if not tokens:
                first_line = line_no
            token, tag = parts[0], parts[-1]
            start = offset + (1 if tokens else 0)
            end = start + len(token)
            tokens.append(token)
            offset = end
            if tag == "O":
                current = None
                continue
            prefix, _, name = tag.partition("-")
            if prefix not in ("B", "I") or not name:
                raise DataFormatError(
                    f"{path}, line {line_no}: tag {tag!r} is not O, B-CLASS or I-CLASS. "
                    "Nothing was imported."
                )
            if prefix == "I":
                if current is None or current["class"] != name:
                    after = "O" if current is None else f"a {current['class']} span"
                    raise DataFormatError(
                        f"{path}, line {line_no}: {tag} after {after} (token {token!r}): an "
                        f"I- tag continues a span begun by B-{name}. Nothing was imported."
                    )
                current["end"] = end
            else:
                current = {"start": start, "end": end, "class": name}
                spans.append(current)
    flush()
    return sf


def _annotator(annotation: Mapping[str, Any]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    if isinstance(who, str) and "@" in who:
        who = who.split("@", 1)[0]
    return clean_name(re.sub(r"[^A-Za-z0-9_-]+", "_", f"annotator_{who}" if isinstance(
        who, int) else str(who or "annotator")), "layer name")  # fmt: skip


def read_label_studio(
    path: Path, classes: Mapping[str, int] | None = None, *, per_annotator: bool | None = None
) -> SpanFile:
    """Read Label Studio's JSON export (see the module doc)."""
    sf = SpanFile(str(path), "label-studio")
    try:
        tasks = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not JSON ({exc}). Nothing was imported.") from None
    if not isinstance(tasks, list):
        raise DataFormatError(
            f"{path}: a Label Studio export is a JSON list of tasks. Nothing was imported."
        )
    annotators = {
        _annotator(a)
        for task in tasks if isinstance(task, dict)
        for a in task.get("annotations") or [] if isinstance(a, dict)
    }  # fmt: skip
    split = len(annotators) > 1 if per_annotator is None else per_annotator
    for n, task in enumerate(tasks, 1):
        where = f"{path}, task {n}"
        data = task.get("data") if isinstance(task, dict) else None
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise DataFormatError(f'{where}: no "data.text" string. Nothing was imported.')
        index = sf.add_text(str(task.get("id", n)), text)
        done = False
        for annotation in task.get("annotations") or []:
            if not isinstance(annotation, dict) or annotation.get("was_cancelled"):
                continue
            if done and not split:
                break
            who = _annotator(annotation)
            spans = []
            for r in annotation.get("result") or []:
                if not isinstance(r, dict) or r.get("type") != "labels":
                    continue
                value = r.get("value") or {}
                labels = value.get("labels") or []
                for label in labels:
                    spans.append({"start": value.get("start"), "end": value.get("end"),
                                  "class": label})  # fmt: skip
            sf.add_spans(who if split else None, index, spans,
                         f"{where} ({who}, annotation {annotation.get('id', '?')})",
                         classes)  # fmt: skip
            done = True
    return sf


def read_spans(
    path: str | os.PathLike[str], format: str, classes: Mapping[str, int] | None = None,
    **options: Any,
) -> SpanFile:  # fmt: skip
    """Read a span file of ``format`` (one of :data:`SPAN_FORMATS`)."""
    source = Path(path)
    if not source.is_file():
        raise DataFormatError(f"{source}: no such file.")
    if format == "spacy-jsonl":
        return read_spacy_jsonl(source, classes)
    if format == "conll":
        return read_conll(source, classes)
    if format == "label-studio":
        return read_label_studio(source, classes, per_annotator=options.get("per_annotator"))
    raise InvalidParameter(f"Unknown span format {format!r}; use {', '.join(SPAN_FORMATS)}.")


# -- writing ------------------------------------------------------------------------------------
def _layer_name(layer: str, annotator: str | None) -> str:
    return layer if annotator is None else annotator


def span_layer(conn: Connection, dataset_id: int, name: str, kind: str = "import") -> None:
    """Create the span layer ``name`` unless it exists as one."""
    row = check_system_target(conn, dataset_id, name, kind)
    if row is None:
        create_layer(conn, dataset_id, name, kind=kind, value_kind="spans",
                     options={"overlap": True})  # fmt: skip
    elif row.value_kind != "spans":
        raise InvalidParameter(
            f"Layer {name!r} holds {row.value_kind} labels, not spans; import the spans into "
            "another layer (--layer NAME)."
        )


def write_spans(
    conn: Connection, dataset_id: int, sf: SpanFile, item_ids: Sequence[int], *,
    layer: str, author: str = "import", progress: ProgressCallback = no_progress,
) -> tuple[int, int]:  # fmt: skip
    """Write ``sf``'s span sets into their layers inside the caller's transaction (one label
    per text, skipped where equal to the current one); returns (labels, classes added)."""
    n_classes = ensure_classes(conn, dataset_id, list(sf.classes))
    written = 0
    now = datetime.now(UTC)
    names = sf.code_names
    for annotator, columns in sf.layers.items():
        name = _layer_name(layer, annotator)
        span_layer(conn, dataset_id, name)
        row = writable_layer(conn, dataset_id, name)
        # A layer with no labels yet (a new dataset's) has no current label to compare with.
        fresh = (
            conn.execute(
                sa.select(t.label_heads.c.item_id)
                .where(t.label_heads.c.layer_id == row.id)
                .limit(1)
            ).first()
            is None
        )
        runs = columns.sets(names)
        texts = columns.json_sets(names)
        total = len(columns)
        for start in range(0, total, WRITE_CHUNK):
            size = min(WRITE_CHUNK, total - start)
            chunk_ids: list[int] = []
            values: list[str | None] = []
            supersedes: list[int | None] | None = None
            if fresh:
                for k, text in (next(texts) for _ in range(size)):
                    chunk_ids.append(item_ids[k])
                    values.append(text)
            else:
                chunk = [next(runs) for _ in range(size)]
                heads = current_heads(conn, row.id, [item_ids[k] for k, _ in chunk])
                supersedes = []
                for k, spans in chunk:
                    head = heads.get(item_ids[k])
                    if head is not None and head[1] == Stored(value=spans) and head[2] is None:
                        continue
                    chunk_ids.append(item_ids[k])
                    values.append(orjson.dumps(spans).decode())
                    supersedes.append(None if head is None else head[0])
            # Checked by span_set while reading: straight to the label store's append.
            append_labels(conn, row.id, chunk_ids, values, author=author, created_at=now,
                          supersedes=supersedes)  # fmt: skip
            written += len(chunk_ids)
            progress(start + size, total, f"writing spans into {name}")
    return written, n_classes


class _SpanImportJob(ImportJob):
    """A text import that also writes the spans in its publishing transaction."""

    def __init__(self, *args: Any, spans: SpanFile, span_layer: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.spans = spans
        self.span_layer = span_layer

    def before_publish_commit(
        self, conn: Connection, counts: tuple[int, int, int]
    ) -> tuple[int, int, int]:
        assert self._writer is not None
        ds = self._writer.ds
        ids = _ids_by_key(conn, ds, self.spans)
        n_labels, n_classes = write_spans(
            conn, ds, self.spans, ids, layer=self.span_layer, author=self.author
        )
        return counts[0], counts[1] + n_labels, counts[2] + n_classes


def _ids_by_key(conn: Connection, dataset_id: int, sf: SpanFile) -> list[int]:
    found: dict[str, int] = {}
    for start in range(0, len(sf.keys), 20_000):
        found.update(bulk.ids_by_key(conn, dataset_id, sf.keys[start : start + 20_000]))
    return [found[k] for k in sf.keys]


def import_span_file(
    store: Store, path: str | os.PathLike[str], *, dataset: str, format: str,
    layer: str = DEFAULT_SPAN_LAYER, split: str | None = None,
    progress: ProgressCallback = no_progress, per_annotator: bool | None = None,
    **job_options: Any,
) -> ImportResult:  # fmt: skip
    """Import the texts of a span file as text items and its spans into span layers,
    atomically (see the module doc)."""
    sf = read_spans(path, format, per_annotator=per_annotator)
    if not sf.texts:
        raise DataFormatError(f"{sf.source}: no texts; nothing to import.")
    for k in ("label_column", "key_column", "text_column", "split_column", "classes"):
        job_options.pop(k, None)
    with _SpanImportJob(
        store, dataset, source=sf.source, format=format, classes=list(sf.classes),
        spans=sf, span_layer=layer, total=len(sf.texts), progress=progress, **job_options,
    ) as job:  # fmt: skip
        for n, (key, text, meta) in enumerate(zip(sf.keys, sf.texts, sf.metas, strict=True)):
            job.add({
                "external_key": key, "kind": "text", "split": split, "text": text,
                "text_length": len(text), "meta": meta, "content_hash": content_hash(text),
            }, where=n + 1)  # fmt: skip
        result = job.publish()
    return replace(result, n_rows=len(sf.texts))


def import_spans_onto(
    store: Store, dataset_id: int, path: str | os.PathLike[str], *, format: str,
    layer: str = DEFAULT_SPAN_LAYER, add_classes: bool = False, author: str = "import",
    per_annotator: bool | None = None, progress: ProgressCallback = no_progress,
) -> tuple[int, int]:  # fmt: skip
    """Put the spans of a file on texts already in the dataset (matched by key, else by the
    text), in one transaction; an unknown class is an error unless ``add_classes`` (or the
    dataset has no classes yet). Returns (labels written, classes added)."""
    with store.read() as conn:
        known = {c.name: n for n, c in enumerate(queries.list_classes(conn, dataset_id))}
    fixed = known if known and not add_classes else None
    sf = read_spans(path, format, fixed, per_annotator=per_annotator)
    with store.write() as conn:
        i = t.items.c
        by_key: dict[str, tuple[int, str | None]] = {}
        by_text: dict[str, int] = {}
        for key, item_id, text in conn.execute(
            sa.select(i.external_key, i.id, i.text).where(i.dataset_id == dataset_id)
        ):
            by_key[str(key)] = (int(item_id), text)
            if text is not None:
                by_text.setdefault(str(text), int(item_id))
        ids: list[int] = []
        for n, (key, text) in enumerate(zip(sf.keys, sf.texts, strict=True), 1):
            # The spans were checked against the file's text: the item must hold that text.
            same_key = by_key.get(key)
            found = same_key[0] if same_key and same_key[1] == text else by_text.get(text)
            if found is None:
                raise DataFormatError(
                    f"{sf.source}: text {n} (key {key!r}, {text[:40]!r}) is not an item of the "
                    "dataset (matched by key and text). Nothing was imported."
                )
            ids.append(found)
        return write_spans(conn, dataset_id, sf, ids, layer=layer, author=author,
                           progress=progress)  # fmt: skip


# -- export -------------------------------------------------------------------------------------
def _layer_rows(
    store: Store, dataset_id: int, layer: str, filter: str | None = None
) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    from assay.store import filters

    h, lab, i = t.label_heads.c, t.labels.c, t.items.c
    with store.read() as conn:
        row = queries.get_layer(conn, dataset_id, layer)
        if row.value_kind != "spans":
            raise InvalidParameter(
                f"Layer {layer!r} holds {row.value_kind} labels, not spans: the span formats "
                "export span layers."
            )
        query = (
            sa.select(i.external_key, i.text, lab.value)
            .select_from(
                t.label_heads.join(t.labels, t.labels.c.id == h.label_id).join(
                    t.items, t.items.c.id == h.item_id
                )
            )
            .where(h.layer_id == row.id, lab.value.is_not(None))
            .order_by(i.id)
        )
        where = filters.compile_filter(conn, dataset_id, filter)
        if where is not None:
            query = query.where(where)
        for key, text, value in conn.execute(query):
            spans = orjson.loads(value) if isinstance(value, str | bytes) else value
            yield str(key), str(text or ""), list(spans)


def export_spans(
    store: Store, dataset_id: int, path: str | os.PathLike[str], *, layer: str, format: str,
    filter: str | None = None,
) -> int:  # fmt: skip
    """Write span layer ``layer`` to ``path`` as ``format`` (:data:`SPAN_FORMATS`); returns
    the texts written. CoNLL keeps the spans that fall on token edges (BIO cannot say the
    rest) and the first of overlapping spans."""
    from assay.labels.span_tokens import bio_classes, bio_tags, tokenize

    out = Path(path)
    rows = _layer_rows(store, dataset_id, layer, filter)
    n = 0
    if format == "spacy-jsonl":
        with out.open("wb") as fh:
            for key, text, spans in rows:
                spans_out = [{"start": s["start"], "end": s["end"], "label": s["class"]}
                             for s in spans]  # fmt: skip
                fh.write(orjson.dumps({"key": key, "text": text, "spans": spans_out}) + b"\n")
                n += 1
    elif format == "conll":
        with out.open("w", encoding="utf-8") as fh:
            for _key, text, spans in rows:
                classes = sorted({s["class"] for s in spans})
                names = bio_classes(classes)
                tokens = tokenize(text)
                for (s, e), tag in zip(tokens, bio_tags(tokens, spans, classes), strict=True):
                    fh.write(f"{text[s:e]} {names[tag]}\n")
                fh.write("\n")
                n += 1
    elif format == "label-studio":
        tasks = []
        for key, text, spans in rows:
            result = [
                {"id": f"s{k}", "from_name": "label", "to_name": "text", "type": "labels",
                 "value": {"start": s["start"], "end": s["end"], "text": text[s["start"]:s["end"]],
                           "labels": [s["class"]]}}
                for k, s in enumerate(spans)
            ]  # fmt: skip
            tasks.append({"id": n + 1, "data": {"text": text, "key": key},
                          "annotations": [{"completed_by": layer, "result": result}]})  # fmt: skip
            n += 1
        out.write_bytes(orjson.dumps(tasks))
    else:
        raise InvalidParameter(f"Unknown span format {format!r}; use {', '.join(SPAN_FORMATS)}.")
    return n


def import_spacy_jsonl(store: Store, path: str | os.PathLike[str], **options: Any) -> ImportResult:
    """``assay import FILE --format spacy-jsonl``."""
    return import_span_file(store, path, format="spacy-jsonl", **options)


def import_conll(store: Store, path: str | os.PathLike[str], **options: Any) -> ImportResult:
    """``assay import FILE --format conll``."""
    return import_span_file(store, path, format="conll", **options)


def import_label_studio(store: Store, path: str | os.PathLike[str], **options: Any) -> ImportResult:
    """``assay import FILE --format label-studio``."""
    return import_span_file(store, path, format="label-studio", **options)
