"""Importing boxes (object detection): what the COCO, YOLO and Pascal VOC readers share.

A reader turns its files into a :class:`BoxFile`: the images (item key, file, declared size,
meta), the class names, and the boxes as numpy columns (image index, class index, x, y, w, h
in pixels, optional score, and a per-format reference such as a COCO annotation id or a YOLO
line number for messages). Keeping boxes as columns, never as one Python object per box, is
what bounds an import's memory: about 60 bytes a box plus the images list.

:func:`import_box_file` then lands it whole or not at all:

* the images become items through :class:`~assay.ingest.staging.ImportJob` (staged batches,
  one publishing transaction, matched by key and content on re-import), and
* the boxes are checked (sizes, classes, NaN, inside the image) with errors naming the file,
  the image and the box, and written as one label per image (the whole set of boxes; ``[]``
  for a listed image with none) into a box layer that becomes visible *in the same publishing
  transaction*: into a new dataset with each batch of its images (by the job's writer, while
  the next images are read, on forked processes: ``ingest.pool``), into an existing one in
  the publishing transaction itself (compared with the labels it holds).

An image whose file is not the size the box file declares is refused, naming it: the boxes
were drawn on another image.

Importing the same files again writes nothing (labels equal to the current ones are skipped).
:func:`import_boxes_onto` adds the boxes of a file to images already in a dataset (a second
annotator's COCO file) as a new layer, in one transaction.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import DataFormatError, InvalidParameter
from assay.ingest.images import ImageFile, image_file_row, pool_workers
from assay.ingest.pool import OrderedPool
from assay.ingest.staging import ImportJob, ImportResult
from assay.ingest.writers import Batch, DirectWriter
from assay.labels.kinds import Stored
from assay.labels.kinds.boxes import MAX_BOXES, box_problem
from assay.labels.layers import check_system_target, create_layer
from assay.labels.writes import current_heads, insert_label_rows, move_heads, writable_layer
from assay.progress import ProgressCallback, no_progress
from assay.store import Store, queries
from assay.store import schema as t

__all__ = [
    "DEFAULT_BOX_LAYER",
    "BoxFile",
    "BoxImage",
    "import_box_file",
    "import_boxes_onto",
    "write_boxes",
]

DEFAULT_BOX_LAYER = "boxes"
# Images whose box labels are written per insert (bounds the box dicts alive at once to
# about this many images' boxes).
WRITE_CHUNK = 2_000
# Images per batch of a box import (see import_box_file).
BOX_BATCH = 2_000


@dataclass(frozen=True)
class BoxImage:
    """One image a box file lists: its item key, the file (None when only boxes are
    imported), the size the file declares (None: read from the image) and item meta."""

    key: str
    path: str | None
    width: int | None = None
    height: int | None = None
    meta: dict[str, Any] | None = None


@dataclass
class BoxFile:
    """What a reader found: images, classes and the boxes as columns.

    ``image`` and ``cls`` index ``images`` and ``classes``; ``xywh`` is (n, 4) pixels;
    ``ref`` locates each box in its file for messages (``where(i)``).
    """

    source: str
    format: str
    images: list[BoxImage]
    classes: list[str]
    image: np.ndarray
    cls: np.ndarray
    xywh: np.ndarray
    ref: np.ndarray
    where: Callable[[int], str]
    score: np.ndarray | None = None
    # Recorded on a layer the import creates (a COCO file's category ids, for its results).
    origin: dict[str, Any] | None = None
    _order: tuple[np.ndarray, list[int]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def n_boxes(self) -> int:
        return len(self.image)

    def by_image(self) -> tuple[np.ndarray, list[int]]:
        """The boxes sorted by image (stable: file order within an image) and where each
        image's run starts: image ``k``'s boxes are ``order[bounds[k]:bounds[k + 1]]``.
        Sorted once, for every batch of images that asks."""
        if self._order is None:
            order = np.argsort(self.image, kind="stable")
            bounds = np.searchsorted(
                self.image[order], np.arange(len(self.images) + 1), side="left"
            ).tolist()
            self._order = (order, bounds)
        return self._order


def columns(
    image: Sequence[int],
    cls: Sequence[int],
    coords: Sequence[float],
    ref: Sequence[int],
    score: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The box columns as numpy arrays (``coords`` flat x, y, w, h per box)."""
    xywh = np.asarray(coords, dtype=np.float64).reshape(-1, 4)
    return (
        np.asarray(image, dtype=np.int64),
        np.asarray(cls, dtype=np.int64),
        xywh,
        np.asarray(ref, dtype=np.int64),
        None if score is None else np.asarray(score, dtype=np.float64),
    )


# -- checking --------------------------------------------------------------------------------


def _first(mask: np.ndarray) -> int | None:
    found = np.flatnonzero(mask)
    return int(found[0]) if len(found) else None


def _box_text(xywh: np.ndarray) -> str:
    x, y, w, h = (float(v) for v in xywh)
    return f"[{x:g}, {y:g}, {w:g}, {h:g}]"


def check_boxes(
    bf: BoxFile,
    sizes: Sequence[tuple[int | None, int | None]] | None = None,
    images: tuple[int, int] | None = None,
) -> None:
    """Refuse the first bad box, naming the file, the image and the box: a NaN or infinite
    coordinate, zero or negative size, a box outside its image (``sizes`` per image, else the
    sizes the file declares), a score outside [0, 1], too many boxes on one image.

    ``images=(start, stop)`` checks only the boxes of those images (``sizes`` then holds
    theirs): an import checks each batch against the sizes of its real images.

    The rules are the kind's (:func:`assay.labels.kinds.boxes.box_problem`, which
    :meth:`Boxes.validate` asks too), run column-wise over the whole file so a message can
    say where in the file it is.
    """
    if not len(bf.xywh):
        return

    def fail(i: int, what: str) -> DataFormatError:
        image = bf.images[int(bf.image[i])].key
        return DataFormatError(
            f"{bf.where(i)} (image {image!r}): the box {_box_text(bf.xywh[i])} {what}. "
            "Nothing was imported."
        )

    start, stop = images or (0, len(bf.images))
    if sizes is None:
        sizes = [(im.width, im.height) for im in bf.images[start:stop]]
    per_image = np.array(
        [[np.nan if v is None else v for v in size] for size in sizes], dtype=np.float64
    ).reshape(-1, 2)
    if images is None:
        rows = np.arange(len(bf.xywh))
    else:  # this range's boxes, in file order (the first bad one in the file is named)
        order, bounds = bf.by_image()
        rows = np.sort(order[bounds[start] : bounds[stop]])
    score = None if bf.score is None else bf.score[rows]
    box_sizes = per_image[bf.image[rows] - start] if len(per_image) else None
    problem = box_problem(bf.xywh[rows], box_sizes, score)
    if problem is not None:
        raise fail(int(rows[problem[0]]), problem[1])
    if images is not None:
        return
    counts = np.bincount(bf.image, minlength=len(bf.images))
    crowded = _first(counts > MAX_BOXES)
    if crowded is not None:
        raise DataFormatError(
            f"{bf.source}: image {bf.images[crowded].key!r} has {int(counts[crowded])} boxes; "
            f"at most {MAX_BOXES} per image. Nothing was imported."
        )


def box_sets(
    bf: BoxFile, block: int = 2_000, start: int = 0, stop: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The boxes of every listed image (of images ``start`` to ``stop``) in order, as label
    JSON (``[]`` when it has none); box ids 1, 2 ... in file order. Python objects are made
    for a ``block`` of images at a time (memory stays bounded by the columns)."""
    order, bounds = bf.by_image()
    stop = len(bf.images) if stop is None else stop
    class_names = np.array(bf.classes, dtype=object)
    for first in range(start, stop, block):
        last = min(first + block, stop)
        rows = order[bounds[first] : bounds[last]]
        names = class_names[bf.cls[rows]].tolist()
        xywh = bf.xywh[rows].tolist()
        score = None if bf.score is None else bf.score[rows].tolist()
        base = bounds[first]
        for k in range(first, last):
            a, b = bounds[k] - base, bounds[k + 1] - base
            ids = range(1, b - a + 1)
            if score is None:
                yield [
                    {"id": n, "class": c, "x": x, "y": y, "w": w, "h": h}
                    for n, c, (x, y, w, h) in zip(ids, names[a:b], xywh[a:b], strict=True)
                ]
            else:
                yield [
                    {"id": n, "class": c, "x": x, "y": y, "w": w, "h": h, "score": p}
                    for n, c, (x, y, w, h), p in zip(
                        ids, names[a:b], xywh[a:b], score[a:b], strict=True
                    )
                ]


def box_json(
    bf: BoxFile, block: int = 2_000, start: int = 0, stop: int | None = None
) -> Iterator[str]:
    """:func:`box_sets` as JSON text (what ``labels.value`` stores), made without a Python
    object per box or per number: a ``block`` of images' numbers is serialized by one
    ``orjson.dumps`` of the column (C; the same digits it writes for Python floats) and cut
    into strings, and each image's text is one ``%`` format of a template cached by its
    number of boxes. About a third of the time of building the dicts and serializing them,
    a good part of an import's writer. The numbers are finite (:func:`check_boxes` comes
    first), so the text is valid JSON that reads back as :func:`box_sets`."""
    order, bounds = bf.by_image()
    stop = len(bf.images) if stop is None else stop
    names = np.array([orjson.dumps(c).decode() for c in bf.classes], dtype=object)
    width = 5 if bf.score is None else 6  # values a box takes: class, x, y, w, h (, score)
    for first in range(start, stop, block):
        last = min(first + block, stop)
        rows = order[bounds[first] : bounds[last]]
        values = np.empty((len(rows), width), dtype=object)
        values[:, 0] = names[bf.cls[rows]]
        values[:, 1:5] = _number_texts(bf.xywh[rows]).reshape(-1, 4)
        if bf.score is not None:
            values[:, 5] = _number_texts(bf.score[rows])
        flat = values.reshape(-1).tolist()
        base = bounds[first]
        for k in range(first, last):
            a, b = bounds[k] - base, bounds[k + 1] - base
            yield _image_json(b - a, bf.score is not None, flat[a * width : b * width])


def _number_texts(values: np.ndarray) -> np.ndarray:
    """The JSON text of each number of ``values`` (flattened), as an object array."""
    if not values.size:
        return np.empty(0, dtype=object)
    text = orjson.dumps(values.reshape(-1), option=orjson.OPT_SERIALIZE_NUMPY)
    return np.array(text[1:-1].decode().split(","), dtype=object)


#: Images with up to this many boxes are written from a template of their box count
#: (cached: at most twice this many templates, of a few KB each); bigger ones box by box.
TEMPLATE_BOXES = 100
_BOX = '{"id":%d,"class":%s,"x":%s,"y":%s,"w":%s,"h":%s}'
_SCORED_BOX = '{"id":%d,"class":%s,"x":%s,"y":%s,"w":%s,"h":%s,"score":%s}'


def _image_json(n: int, scored: bool, values: list[str]) -> str:
    """The JSON of an image's ``n`` boxes from their values' texts (class, x, y, w, h, and
    score when ``scored``, box after box)."""
    if n <= TEMPLATE_BOXES:
        return _template(n, scored) % tuple(values)
    box, width = (_SCORED_BOX, 6) if scored else (_BOX, 5)
    return (
        "[" + ",".join(box % (i + 1, *values[i * width : (i + 1) * width]) for i in range(n)) + "]"
    )


@functools.cache
def _template(n: int, scored: bool) -> str:
    """The JSON of ``n`` boxes with ``%s`` slots for the values :func:`box_json` fills in."""
    box = _SCORED_BOX if scored else _BOX
    return "[" + ",".join(box.replace("%d", str(i), 1) for i in range(1, n + 1)) + "]"


# -- writing ---------------------------------------------------------------------------------


def ensure_classes(conn: Connection, dataset_id: int, names: Sequence[str]) -> int:
    """Add the class names the dataset lacks (after its own, in the order given); returns how
    many were added."""
    existing = dict(
        conn.execute(
            sa.select(t.classes.c.name, t.classes.c.position).where(
                t.classes.c.dataset_id == dataset_id
            )
        ).all()
    )
    new = [n for n in dict.fromkeys(names) if n not in existing]
    start = max(existing.values(), default=-1) + 1
    if new:
        conn.execute(
            t.classes.insert(),
            [
                {"dataset_id": dataset_id, "name": n, "position": start + i}
                for i, n in enumerate(new)
            ],
        )
    return len(new)


def box_layer(
    conn: Connection, dataset_id: int, name: str, kind: str, origin: dict[str, Any] | None = None
) -> None:
    """Create the box layer ``name`` of ``kind`` (import or model) unless it exists as one."""
    row = check_system_target(conn, dataset_id, name, kind)
    if row is None:
        create_layer(conn, dataset_id, name, kind=kind, value_kind="boxes", origin=origin)
    elif row.value_kind != "boxes":
        raise InvalidParameter(
            f"Layer {name!r} holds {row.value_kind} labels, not boxes; import the boxes into "
            "another layer (--layer NAME)."
        )


def item_ids_by_key(
    conn: Connection, dataset_id: int, bf: BoxFile
) -> tuple[list[int], list[tuple[int | None, int | None]]]:
    """The item id and stored size of every image of ``bf``, or DataFormatError naming the
    first image the dataset does not have."""
    found: dict[str, tuple[int, int | None, int | None]] = {}
    keys = [im.key for im in bf.images]
    i = t.items.c
    for start in range(0, len(keys), queries.IN_CHUNK):
        chunk = keys[start : start + queries.IN_CHUNK]
        rows = conn.execute(
            sa.select(i.external_key, i.id, i.width, i.height).where(
                i.dataset_id == dataset_id, i.external_key.in_(chunk)
            )
        )
        found.update({r[0]: (int(r[1]), r[2], r[3]) for r in rows})
    missing = [k for k in keys if k not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DataFormatError(
            f"{bf.source}: image {missing[0]!r}{more} is not an item of the dataset (items are "
            "matched by file name relative to the images folder). Nothing was imported."
        )
    return [found[k][0] for k in keys], [found[k][1:] for k in keys]


def write_boxes(
    conn: Connection,
    dataset_id: int,
    bf: BoxFile,
    *,
    layer: str,
    kind: str = "import",
    author: str = "import",
    progress: ProgressCallback = no_progress,
) -> tuple[int, int]:
    """Write ``bf``'s boxes into ``layer`` inside the caller's transaction: one label per
    listed image, skipped where it equals the current one (re-imports write nothing).
    Returns (labels written, classes added)."""
    n_classes = ensure_classes(conn, dataset_id, bf.classes)
    box_layer(conn, dataset_id, layer, kind, bf.origin)
    ids, sizes = item_ids_by_key(conn, dataset_id, bf)
    # The stored sizes are the real images' (read at import): check against those too.
    check_boxes(bf, sizes)
    layer_id = writable_layer(conn, dataset_id, layer).id
    written = write_box_labels(conn, layer_id, bf, ids, author=author, progress=progress)
    return written, n_classes


def write_box_labels(
    conn: Connection,
    layer_id: int,
    bf: BoxFile,
    ids: Sequence[int],
    *,
    start: int = 0,
    author: str = "import",
    fresh: bool = False,
    progress: ProgressCallback = no_progress,
) -> int:
    """Write the labels of images ``start`` to ``start + len(ids)`` of ``bf`` (``ids``: their
    items), checked already, into the box layer ``layer_id``: skipped where equal to the
    current label, unless the layer is ``fresh`` (made by this import: it has none).
    Returns how many were written."""
    now = datetime.now(UTC)
    written = 0
    stop = start + len(ids)
    texts = box_json(bf, start=start, stop=stop)
    for first in range(start, stop, WRITE_CHUNK):
        last = min(first + WRITE_CHUNK, stop)
        chunk = ids[first - start : last - start]
        heads = {} if fresh else current_heads(conn, layer_id, chunk)
        rows: list[dict[str, Any]] = []
        for item_id, text in zip(chunk, texts, strict=False):
            head = heads.get(item_id)
            if head is not None and head[2] is None and head[1] == Stored(value=orjson.loads(text)):
                continue  # the same boxes as now: a re-import writes nothing
            rows.append(
                {
                    "layer_id": layer_id,
                    "item_id": item_id,
                    "class_id": None,
                    # The label store serializes values with orjson: the text goes as is.
                    "value": orjson.Fragment(text),
                    "author": author,
                    "created_at": now,
                    "reason": None,
                    "probs": None,
                    "confidence": None,
                    "supersedes": None if head is None else head[0],
                    "idempotency_key": None,
                }
            )
        # Checked column-wise by check_boxes (the rules of Boxes.validate, which costs
        # about 15 us a box, most of an import's time), so the rows go to the label store's
        # own insert and head move without a second check.
        label_ids = insert_label_rows(conn, rows)
        move_heads(conn, rows, label_ids)
        written += len(rows)
        progress(last, len(bf.images), f"writing boxes of {bf.source}")
    return written


class _BoxImportJob(ImportJob):
    """An image import that also writes the boxes: into a new dataset with each batch of
    its images (in the writer process, while the next images are read; the dataset stays
    hidden until published), into an existing one in the publishing transaction (compared
    with the labels it holds)."""

    def __init__(self, *args: Any, boxes: BoxFile, box_layer: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.boxes = boxes
        self.box_layer = box_layer
        self._box_layer_id: int | None = None
        self._box_counts = (0, 0)  # labels written, classes added (with the batches)

    def after_batch(self, conn: Connection, batch: Batch) -> None:
        writer = self._writer
        if not isinstance(writer, DirectWriter):
            return
        bf, ds = self.boxes, writer.ds
        if self._box_layer_id is None:
            n_classes = ensure_classes(conn, ds, bf.classes)
            box_layer(conn, ds, self.box_layer, "import", bf.origin)
            self._box_layer_id = writable_layer(conn, ds, self.box_layer).id
            self._box_counts = (0, n_classes)
        # Rows are added in the file's image order: this batch is images start, start + 1 ...
        start = batch.first_seq - 1
        w, h = batch.columns.index("width"), batch.columns.index("height")
        sizes = [(row[w], row[h]) for row in batch.data]
        check_boxes(bf, sizes, images=(start, start + len(sizes)))
        n = write_box_labels(
            conn, self._box_layer_id, bf, writer.last_ids, start=start, author=self.author,
            fresh=True,
        )  # fmt: skip
        self._box_counts = (self._box_counts[0] + n, self._box_counts[1])

    def before_publish_commit(
        self, conn: Connection, counts: tuple[int, int, int]
    ) -> tuple[int, int, int]:
        assert self._writer is not None  # set on entering the job
        if isinstance(self._writer, DirectWriter):
            n_labels, n_classes = self._box_counts
        else:
            n_labels, n_classes = write_boxes(
                conn, self._writer.ds, self.boxes, layer=self.box_layer, author=self.author
            )
        return counts[0], counts[1] + n_labels, counts[2] + n_classes


def import_box_file(
    store: Store,
    bf: BoxFile,
    *,
    dataset: str,
    layer: str = DEFAULT_BOX_LAYER,
    split: str | None = None,
    progress: ProgressCallback = no_progress,
    use_process: bool = True,
    workers: int | None = None,
    **job_options: Any,
) -> ImportResult:
    """Import the images of ``bf`` as items and its boxes into the box layer ``layer``,
    atomically (see the module's docstring). The images are read on ``workers`` forked
    processes (default: one per core from 1,000 images on; see ``ingest.pool``)."""
    if not bf.images:
        raise DataFormatError(f"{bf.source}: no images listed; nothing to import.")
    check_boxes(bf)  # early, with the sizes the file declares; again at publish
    job_options.pop("classes", None)
    # Smaller batches than other imports: the writer writes each batch's boxes while the
    # next images are read (see _BoxImportJob), so the last batch is all that waits.
    job_options.setdefault("batch_size", BOX_BATCH)
    read = functools.partial(_image_row, source=bf.source, split=split)
    listed = ((im.key, im.path, im.width, im.height) for im in bf.images)
    processes = pool_workers(len(bf.images), workers)
    with _BoxImportJob(
        store,
        dataset,
        source=bf.source,
        format=bf.format,
        classes=list(bf.classes),
        boxes=bf,
        box_layer=layer,
        total=len(bf.images),
        progress=progress,
        use_process=use_process,
        **job_options,
    ) as job:
        # The readers are forked before the job's writer (at its first batch), so the
        # writer is not a child holding the readers' pipes open past the import.
        with OrderedPool(read, processes) if processes > 1 else contextlib.nullcontext() as pool:
            rows = pool.map(listed) if pool is not None else map(read, listed)
            for im, row in zip(bf.images, rows, strict=True):
                if im.meta:
                    row["meta"] = im.meta
                job.add(row, where=im.path)  # type: ignore[arg-type]
        result = job.publish()
    return replace(result, n_rows=len(bf.images))


def _image_row(
    image: tuple[str, str | None, int | None, int | None], *, source: str, split: str | None
) -> dict[str, Any]:
    """The item row of one listed image (key, file, declared width and height), read and
    measured; DataFormatError naming the image when its file is missing or unreadable, or
    is not the size the box file declares (the boxes were drawn on another image)."""
    key, path, width, height = image
    try:
        if path is None:
            raise DataFormatError("no file")
        row = image_file_row(ImageFile(key, path, None, split))
    except DataFormatError:
        if path is not None and os.path.isfile(path):
            raise  # there, but not a readable image: that error names it
        # (Checked after a failure only: a stat of every image costs a tenth of its reading.)
        raise DataFormatError(
            f"{source}: image {key!r}: no file {path!r}. Give the folder that holds the images "
            "(--images DIR), or remove the image from the file. Nothing was imported."
        ) from None
    declared = (width or row["width"], height or row["height"])
    if declared != (row["width"], row["height"]):
        raise DataFormatError(
            f"{source}: image {key!r} is listed as {width or '?'} x {height or '?'} pixels "
            f"but its file {path} is {row['width']} x {row['height']}. Fix the size in the "
            "box file, or give the image the boxes were drawn on. Nothing was imported."
        )
    return row


def import_boxes_onto(
    store: Store,
    dataset_id: int,
    bf: BoxFile,
    *,
    layer: str,
    kind: str = "import",
    author: str = "import",
    progress: ProgressCallback = no_progress,
    on_written: Callable[[Connection, BoxFile, int], None] | None = None,
) -> tuple[int, int]:
    """Add ``bf``'s boxes to images already in the dataset (matched by key) as layer
    ``layer``, in one transaction; returns (labels written, classes added). ``on_written(conn,
    bf, labels written)`` runs in that transaction (a caller's record of the import, e.g.
    the model run of imported predictions): its failure leaves nothing written."""
    check_boxes(bf)
    # No progress report inside the write transaction: a job's report writes its progress to
    # the store, and on SQLite it would wait for the lock this transaction holds (as the
    # archive import's write_boxes, in its publishing transaction, reports none either).
    progress(0, None, "writing the boxes")
    with store.write() as conn:
        done = write_boxes(conn, dataset_id, bf, layer=layer, kind=kind, author=author)
        if on_written is not None:
            on_written(conn, bf, done[0])
    progress(len(bf.images), len(bf.images), "wrote the boxes")
    return done
