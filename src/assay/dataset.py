"""A handle on one dataset of a project: its labeled items, and one sub-API per capability.

A dataset *is* its labeled items, so the item, label, layer and snapshot verbs are methods of
:class:`Dataset` (each a thin call into :mod:`assay.labels`). Every other capability is one
typed noun: ``ds.models``, ``ds.quality``, ``ds.review``, ``ds.suggestions``, ``ds.maps``.
Those packages sit below this module and see a dataset as :class:`assay.handle.DatasetHandle`;
their sub-API classes are imported when first used, so ``import assay`` loads none of them
(nor scikit-learn, which most of them need).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.handle import ItemRef, ProjectHandle
from assay.labels.hotkeys import RESERVED as RESERVED_KEYS
from assay.labels.hotkeys import class_keys
from assay.labels.kinds import DEFAULT_KIND, get_kind
from assay.labels.layers import (
    copy_layer,
    create_layer,
    freeze_layer,
    layer_info,
    rename_layer,
    set_hotkeys,
)
from assay.labels.load import default_layers, load_matrix
from assay.labels.matrix import LabelMatrix
from assay.labels.reference import layer_agreement
from assay.labels.snapshots import create_snapshot, diff, list_snapshots
from assay.labels.writes import (
    LabelWrite,
    WriteResult,
    current_labels,
    current_labels_of,
    default_author,
    history,
    resolve_item,
    resolve_items,
    shown_labels,
    write_labels,
)
from assay.progress import ProgressCallback, no_progress
from assay.store import filters, queries, reads
from assay.store import schema as t
from assay.store.engine import Store
from assay.store.selections import create_selection

if TYPE_CHECKING:
    from assay.access import Viewer
    from assay.active.api import Suggestions
    from assay.labels.agreement import AgreementReport
    from assay.labels.combine import ConsensusSpec
    from assay.labels.kinds import Combined
    from assay.labels.snapshots import Diff
    from assay.maps.api import DatasetMaps
    from assay.models.api import DatasetModels
    from assay.quality.api import LabelQuality
    from assay.review import ReviewQueue
    from assay.review.scan import ReviewScanSpec, ScanResult
    from assay.stats.inventory import Comparison, Inventory


class Dataset:
    """One dataset. Get it with ``project.dataset(name)``.

    Its items and their labels are its own methods (``items``, ``item``, ``set_label``,
    ``set_labels``, ``label_where``, ``history``, ``layers``, ``snapshot``, ``diff``...): a
    dataset is its labeled items. Each capability is a typed sub-API: ``models``,
    ``quality``, ``review``, ``suggestions`` and ``maps``.
    """

    def __init__(self, project: ProjectHandle, id: int, name: str) -> None:
        self.project = project
        self.id = id
        self.name = name

    def __repr__(self) -> str:
        return f"<Dataset {self.name!r} id={self.id}>"

    @property
    def store(self) -> Store:
        """The project's store."""
        return self.project.store

    def __len__(self) -> int:
        with self.store.read() as conn:
            return queries.count_items(conn, self.id)

    def classes(self) -> list[str]:
        """Class names in schema order."""
        with self.store.read() as conn:
            return [c.name for c in queries.list_classes(conn, self.id)]

    def layers(self) -> list[dict[str, Any]]:
        """Annotation layers in creation order, each as :meth:`layer` gives it (name, kind,
        value_kind, frozen, owner, description, origin, created_at)."""
        with self.store.read() as conn:
            return [layer_info(r) for r in queries.list_layers(conn, self.id)]

    def items(
        self,
        filter: str | None = None,
        *,
        after: int | str | None = None,
        limit: int = 50,
        layer: str = filters.DEFAULT_LAYER,
        sort: str = "added",
        model: str | None = None,
    ) -> tuple[list[dict[str, Any]], int | str | None]:
        """One page of items matching ``filter``, with their current label in ``layer``.

        ``sort`` is one of :data:`SORTS` (see :func:`item_order`); a score sort lists only
        the items that have the score, and gives each its ``score``. With ``model`` (a layer,
        usually a model's) each item also gets that layer's ``prediction`` and its
        ``confidence``, and ``correct``: whether the prediction is the label (None unless both
        exist).

        Returns the rows and the cursor to pass as ``after`` for the next page (None at the
        end): the last item id in the id orders, else a string.
        """
        with self.store.read() as conn:
            order = item_order(conn, self.id, sort, model)
            where = filters.compile_filter(conn, self.id, filter)
            rows, cursor = queries.page_items(
                conn, self.id, where, after=after, limit=limit, order=order
            )
            ids = [r.id for r in rows]
            labels = shown_labels(conn, self.id, layer, ids)
        items = []
        for r in rows:
            item = {**r._asdict(), "label": labels.get(r.id)}
            del item["numbers"]  # the packed copy of ``fields`` kept for statistics
            score = item.pop("sort_value")
            if order.value is not None and order.numeric:
                item["score"] = float(score)
            items.append(item)
        if model:
            self._add_predictions(items, model)
        return items, cursor

    def _add_predictions(self, items: list[dict[str, Any]], model: str) -> None:
        """Each item's prediction in layer ``model``, its confidence, and whether it is right."""
        with self.store.read() as conn:
            layer_id = queries.get_layer(conn, self.id, model).id
        heads = current_labels_of(self.store, self.id, [i["id"] for i in items], [layer_id])
        for item in items:
            head = heads.get(item["id"], {}).get(layer_id, {})
            item["prediction"] = head.get("label")
            item["confidence"] = head.get("confidence")
            known = item["prediction"] is not None and item["label"] is not None
            item["correct"] = item["prediction"] == item["label"] if known else None

    def neighbours(
        self,
        item_id: int,
        filter: str | None = None,
        *,
        sort: str = "added",
        model: str | None = None,
    ) -> tuple[int | None, int | None]:
        """The ids of the items before and after ``item_id`` in the grid of these arguments
        (as :meth:`items` pages it): what an item page steps to."""
        with self.store.read() as conn:
            order = item_order(conn, self.id, sort, model)
        return reads.neighbours(self.store, self.id, item_id, filter, order)

    def count(
        self,
        filter: str | None = None,
        *,
        sort: str = "added",
        model: str | None = None,
        cap: int | None = None,
    ) -> int:
        """How many items :meth:`items` pages through for these arguments; with ``cap`` the
        count stops past it (a result above ``cap`` means "more than ``cap``")."""
        with self.store.read() as conn:
            order = item_order(conn, self.id, sort, model)
            if order.source is None:  # an order of items: count from a condition's index
                among, rest = filters.count_driver(conn, self.id, filter)
                return queries.count_items(conn, self.id, rest, cap=cap, among=among)
            where = filters.compile_filter(conn, self.id, filter)
            return queries.count_items(conn, self.id, where, order=order, cap=cap)

    def select(
        self, items: Iterable[ItemRef], *, source: str = "api", author: str | None = None
    ) -> dict[str, Any]:
        """Save these items (ids or keys) as a selection: ``{"id", "n_items", "source"}``.

        Use it as the filter ``selection=ID`` in ``items``, bulk labeling and the web grid.
        """
        refs = list(items)
        keys = [r for r in refs if isinstance(r, str)]
        ids = [int(r) for r in refs if not isinstance(r, str)]
        if keys:
            with self.store.read() as conn:
                ids += list(resolve_items(conn, self.id, keys).values())
        return create_selection(
            self.store, self.id, ids, source=source, created_by=author or default_author()
        )

    def stats(
        self,
        filter: str | None = None,
        *,
        dask: Any = None,
        progress: ProgressCallback = no_progress,
    ) -> Inventory:
        """The inventory of the dataset or of the slice ``filter`` selects.

        Parameters
        ----------
        filter : str, optional
            A filter such as ``"split=train"`` (see :mod:`assay.store.filters`).
        dask : str or distributed.Client, optional
            Run the aggregation on a Dask cluster (an address such as ``tcp://host:8786``).
        """
        from assay.stats.inventory import build_inventory

        return build_inventory(self, filter, dask=dask, progress=progress)

    def compare(
        self,
        filter_a: str | None = None,
        filter_b: str | None = None,
        *,
        other: Dataset | str | None = None,
        dask: Any = None,
    ) -> Comparison:
        """Two slices side by side: class-balance shift and per-feature drift (PSI).

        Slice A is ``filter_a`` of this dataset; slice B is ``filter_b`` of ``other`` (another
        dataset, such as a new batch of data) or, by default, of this dataset.
        """
        from assay.stats.inventory import compare

        b = self.project.dataset(other) if isinstance(other, str) else other or self
        return compare(self, filter_a, b, filter_b, dask=dask)

    def export(
        self,
        path: str | os.PathLike[str],
        *,
        layer: str = filters.DEFAULT_LAYER,
        format: str | None = None,
        filter: str | None = None,
        progress: ProgressCallback = no_progress,
    ) -> int:
        """Write the current labels of ``layer`` to CSV, Parquet or JSONL; returns the row count.

        A box layer can also go out as ``format="coco"`` (a .json file) or ``"yolo"`` (a new
        folder of images, labels and classes.txt); the count is then of images.
        """
        if format in ("spacy-jsonl", "conll", "label-studio"):  # a span layer
            from assay.ingest.spans import export_spans

            return export_spans(
                self.store, self.id, path, layer=layer, format=format, filter=filter
            )
        if format in ("coco", "yolo"):
            from assay.ingest.export_boxes import export_boxes

            return export_boxes(
                self.store, self.id, path, layer=layer, format=format, progress=progress
            )
        from assay.ingest.export import export_format, export_layer

        with self.store.read() as conn:
            kind = queries.get_layer(conn, self.id, layer).value_kind
        if kind == "number":  # key, split, the value (a column named after the layer)
            from pathlib import Path

            from assay.ingest.numbers import export_numbers

            fmt = export_format(Path(path), format)
            return export_numbers(self.store, self.id, path, layer=layer, format=fmt,
                                  filter=filter)  # fmt: skip
        return export_layer(
            self, path, layer=layer, format=format, filter=filter, progress=progress
        )

    def import_tags(
        self,
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
        """Add the tags of a CSV/JSONL/Parquet file (a list column, or one 0/1 column per
        tag) to this dataset's items (matched by key) as the tag layer ``layer``, all or
        nothing (:func:`assay.ingest.tags.import_tags`)."""
        from assay.ingest.tags import import_tags

        return import_tags(
            self.store, self.id, path, layer=layer, key_column=key_column,
            tags_column=tags_column, tag_columns=tag_columns, sep=sep, add_classes=add_classes,
            kind=kind, author=author, progress=progress,
        )  # fmt: skip

    def export_tags(
        self, path: str | os.PathLike[str], *, layer: str, columns: bool = False,
        sep: str = "|", filter: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Write tag layer ``layer`` as CSV/JSONL/Parquet, a list column or one 0/1 column per
        tag (:func:`assay.ingest.tags.export_tags`)."""
        from assay.ingest.tags import export_tags

        return export_tags(self.store, self.id, layer, path, columns=columns, sep=sep,
                           filter=filter)  # fmt: skip

    def import_boxes(
        self,
        path: str | os.PathLike[str],
        *,
        layer: str,
        format: str | None = None,
        author: str = "import",
        progress: ProgressCallback = no_progress,
    ) -> dict[str, Any]:
        """Add the boxes of a COCO file, YOLO folder or VOC folder to this dataset's images
        (matched by file name = item key) as the new box layer ``layer`` (kind import), all
        or nothing: a second annotator's boxes. Re-importing the same file writes nothing."""
        from assay.ingest.box_io import import_boxes

        n, added = import_boxes(
            self.store, self.id, path, layer=layer, format=format, author=author,
            progress=progress,
        )  # fmt: skip
        return {"layer": layer, "n_new_labels": n, "n_classes_added": added}

    def import_spans(
        self,
        path: str | os.PathLike[str],
        *,
        layer: str = "spans",
        format: str,
        add_classes: bool = False,
        author: str = "import",
        progress: ProgressCallback = no_progress,
    ) -> dict[str, Any]:
        """Put the spans of a spaCy JSONL, CoNLL or Label Studio file on this dataset's texts
        (matched by key and text) in span layer ``layer`` (a Label Studio file with several
        annotators: a layer per annotator), all or nothing (see :mod:`assay.ingest.spans`)."""
        from assay.ingest.spans import import_spans_onto

        n, added = import_spans_onto(
            self.store, self.id, path, layer=layer, format=format, add_classes=add_classes,
            author=author, progress=progress,
        )  # fmt: skip
        return {"layer": layer, "n_new_labels": n, "n_classes_added": added}

    def import_numbers(
        self,
        path: str | os.PathLike[str],
        *,
        column: str,
        layer: str,
        key_column: str | None = None,
        options: dict[str, Any] | None = None,
        author: str = "import",
        progress: ProgressCallback = no_progress,
    ) -> dict[str, Any]:
        """Add the numbers of ``column`` of a CSV, Parquet or JSONL table to this dataset's
        items (matched by ``key_column``, default the row index) as number layer ``layer``
        (created with ``options``: min, max, unit, integer, tolerance), all or nothing; values
        are checked against the layer's range (errors name the file, line and value)."""
        from assay.ingest.numbers import import_numbers_onto, read_number_column

        nc = read_number_column(path, column, key_column=key_column)
        n = import_numbers_onto(self.store, self.id, nc, layer=layer, options=options,
                                author=author, progress=progress)  # fmt: skip
        return {"layer": layer, "n_new_labels": n, "n_rows": len(nc.keys)}

    def import_box_predictions(
        self,
        path: str | os.PathLike[str],
        *,
        layer: str,
        instances: str | os.PathLike[str] | None = None,
        author: str = "import",
        progress: ProgressCallback = no_progress,
        source_name: str | None = None,
    ) -> dict[str, Any]:
        """Import predicted boxes in the COCO results format (``[{image_id, category_id, bbox,
        score}]``) into the model box layer ``layer``, all or nothing, with a model run record
        of the same name (source file, format, who, when, how many boxes). Image ids are the
        items' COCO ids (a COCO import keeps them); ``instances``, the COCO file the
        predictions were made on, maps them to file names otherwise. ``source_name``: the
        file's name as its user knows it, for the record (an upload's; default: its own)."""
        from assay.ingest.coco import import_coco_results
        from assay.models.runs import record_import

        source = Path(source_name or Path(path).name)
        run: dict[str, str] = {}

        def record(conn: Any, bf: Any, written: int) -> None:
            # In the import's transaction: the boxes and their run record land together.
            params = {
                "source": source.name,
                "format": bf.format,
                "n_boxes": bf.n_boxes,
                "n_images": len(bf.images),
                "instances": Path(instances).name if instances is not None else None,
            }
            run["state"] = record_import(
                conn, self.id, layer=layer, model=f"import:{source.name}", params=params,
                author=author, changed=written > 0,
            )  # fmt: skip

        n, added = import_coco_results(
            self.store, self.id, path, layer=layer, instances=instances, author=author,
            progress=progress, on_written=record,
        )  # fmt: skip
        return {
            "layer": layer,
            "n_new_labels": n,
            "n_classes_added": added,
            "run": layer,
            "run_record": run.get("state"),
        }

    def import_coco_json(
        self,
        path: str | os.PathLike[str],
        *,
        layer: str,
        author: str = "import",
        progress: ProgressCallback = no_progress,
        source_name: str | None = None,
    ) -> dict[str, Any]:
        """A lone COCO ``.json`` onto this dataset's images, all or nothing: an instances file
        (a JSON object) adds its boxes as box layer ``layer`` (:meth:`import_boxes`), a list
        in the COCO results format adds predictions as model box layer ``layer`` with its
        model run record (:meth:`import_box_predictions`). The web upload of a .json file."""
        from assay.ingest.coco import coco_json_kind

        if coco_json_kind(path) == "results":
            done = self.import_box_predictions(
                path, layer=layer, author=author, progress=progress, source_name=source_name
            )
            return {**done, "kind": "predictions"}
        done = self.import_boxes(path, layer=layer, format="coco", author=author, progress=progress)
        return {**done, "kind": "boxes"}

    # ----------------------------------------------------------------------------------------
    # Items, labels and layers
    # ----------------------------------------------------------------------------------------
    def item(self, item: ItemRef) -> dict[str, Any]:
        """One item by id (int) or external key (str), with its current label in every layer."""
        with self.store.read() as conn:
            item_id = resolve_item(conn, self.id, item)
            row = conn.execute(sa.select(t.items).where(t.items.c.id == item_id)).one()
            labels = current_labels(conn, self.id, item_id)
        out = dict(row._mapping)
        del out["numbers"]
        out["labels"] = labels
        return out

    def set_label(
        self,
        item: ItemRef,
        label: Any,
        *,
        layer: str,
        author: str | None = None,
        note: str | None = None,
        probs: Sequence[float] | None = None,
        confidence: float | None = None,
        idempotency_key: str | None = None,
        viewer: Viewer | None = None,
        base: int | None = None,
    ) -> dict[str, Any]:
        """Label (or, with ``label=None``, unlabel) one item in ``layer``; returns the new label.

        ``label`` is a value of the layer's annotation kind (a class name; a list of boxes).
        The previous label stays in the history; nothing is overwritten. ``idempotency_key``
        makes a retried request write once; ``base`` (the label id the writer edited, 0 for
        none) refuses the write with a Conflict if someone changed the label since. ``viewer``:
        the person writing (the CLI and the web pass theirs), whose access rules the layer must
        pass (a model layer refuses people); programs and jobs that write predictions leave it out.
        """
        with self.store.write() as conn:
            item_id = resolve_item(conn, self.id, item)
            result = write_labels(
                conn,
                self.id,
                layer,
                [LabelWrite(item_id, label, note, probs, confidence, base)],
                author=author or default_author(),
                idempotency_key=idempotency_key,
                check=_check_of(viewer),
            )
        return {"item_id": item_id, "layer": layer, "label": label, **result.__dict__}

    def parse_label(self, layer: str, text: str) -> Any:
        """A label of ``layer`` from the text a person typed, as the layer's kind reads it (a
        class name as it is; boxes as JSON)."""
        with self.store.read() as conn:
            return get_kind(queries.get_layer(conn, self.id, layer).value_kind).parse(text)

    def set_labels(
        self,
        labels: Iterable[tuple[ItemRef, str | None] | LabelWrite],
        *,
        layer: str,
        author: str | None = None,
        note: str | None = None,
        skip_unchanged: bool = False,
        viewer: Viewer | None = None,
    ) -> WriteResult:
        """Label many items in one transaction: all land, or (on any bad one) none do.

        ``labels`` holds (item id or key, class) pairs or ``LabelWrite`` records; ``viewer``
        as in :meth:`set_label`.
        """
        pairs = list(labels)
        with self.store.write() as conn:
            keys = [p[0] for p in pairs if isinstance(p, tuple) and isinstance(p[0], str)]
            key_ids = resolve_items(conn, self.id, keys) if keys else {}
            writes = [
                p
                if isinstance(p, LabelWrite)
                else LabelWrite(key_ids[p[0]] if isinstance(p[0], str) else int(p[0]), p[1], note)
                for p in pairs
            ]
            return write_labels(
                conn,
                self.id,
                layer,
                writes,
                author=author or default_author(),
                skip_unchanged=skip_unchanged,
                check=_check_of(viewer),
            )

    def label_where(
        self,
        filter: str | None,
        label: str | None,
        *,
        layer: str,
        author: str | None = None,
        note: str | None = None,
        viewer: Viewer | None = None,
    ) -> WriteResult:
        """Label every item the filter selects (bulk labeling by filter), in one transaction;
        ``viewer`` as in :meth:`set_label`."""
        with self.store.write() as conn:
            where = filters.compile_filter(conn, self.id, filter)
            query = sa.select(t.items.c.id).where(t.items.c.dataset_id == self.id)
            if where is not None:
                query = query.where(where)
            ids = list(conn.execute(query.order_by(t.items.c.id)).scalars())
            return write_labels(
                conn,
                self.id,
                layer,
                [LabelWrite(i, label, note) for i in ids],
                author=author or default_author(),
                check=_check_of(viewer),
            )

    def history(self, item: ItemRef, layer: str | None = None) -> list[dict[str, Any]]:
        """Every label the item ever had in every layer (or one), oldest first per layer."""
        with self.store.read() as conn:
            return history(conn, self.id, resolve_item(conn, self.id, item), layer)

    def layer(self, name: str) -> dict[str, Any]:
        """One layer's details."""
        with self.store.read() as conn:
            return layer_info(queries.get_layer(conn, self.id, name))

    def create_layer(
        self,
        name: str,
        *,
        kind: str = "human",
        value_kind: str = DEFAULT_KIND,
        owner: str | None = None,
        description: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add an empty annotation layer holding labels of the annotation kind ``value_kind``,
        with the kind's ``options`` for it (a number's ``min``/``max``/``unit``, spans'
        ``overlap``)."""
        with self.store.write() as conn:
            return create_layer(
                conn, self.id, name, kind=kind, value_kind=value_kind, owner=owner,
                description=description, options=options,
            )  # fmt: skip

    def copy_layer(
        self, source: str, target: str, *, author: str | None = None, owner: str | None = None
    ) -> dict[str, Any]:
        """A new layer starting from the current labels of ``source``."""
        with self.store.write() as conn:
            return copy_layer(
                conn, self.id, source, target, author=author or default_author(), owner=owner
            )

    def rename_layer(self, old: str, new: str) -> dict[str, Any]:
        """Rename a layer (labels, history and snapshots follow it)."""
        with self.store.write() as conn:
            return rename_layer(conn, self.id, old, new)

    def freeze_layer(self, name: str, frozen: bool = True) -> dict[str, Any]:
        """Make a layer read-only (``frozen=False`` makes it writable again)."""
        with self.store.write() as conn:
            return freeze_layer(conn, self.id, name, frozen)

    def set_layer_keys(self, name: str, keys: Mapping[str, str]) -> dict[str, Any]:
        """Set the keys that pick classes when labeling in a layer, {class: key}, replacing
        those set before (empty: back to the default rule of :mod:`assay.labels.hotkeys`)."""
        with self.store.write() as conn:
            return set_hotkeys(conn, self.id, name, keys)

    def class_keys(
        self, layer: str | None = None, reserved: frozenset[str] = RESERVED_KEYS
    ) -> list[tuple[str | None, str]]:
        """(key or None, class) for each class when labeling in ``layer`` (its own keys, else
        the default rule: :func:`assay.labels.hotkeys.class_keys`), leaving out the keys the
        page keeps for itself (``reserved``: the labeling queue's by default)."""
        with self.store.read() as conn:
            classes = [c.name for c in queries.list_classes(conn, self.id)]
            custom = queries.get_layer(conn, self.id, layer).hotkeys if layer else None
        return class_keys(classes, custom, reserved)

    # ----------------------------------------------------------------------------------------
    # Agreement and consensus
    # ----------------------------------------------------------------------------------------
    def default_layers(self) -> list[str]:
        """The layers agreement, consensus and review scans compare when none are named: one
        human layer per person (see :func:`assay.labels.load.default_layers`)."""
        with self.store.read() as conn:
            return default_layers(conn, self.id)

    def label_matrix(
        self, layers: Sequence[str] | None = None, filter: str | None = None
    ) -> LabelMatrix:
        """The current labels of ``layers`` (default: one human layer per person) as a
        LabelMatrix."""
        with self.store.read() as conn:
            return load_matrix(conn, self.id, list(layers or default_layers(conn, self.id)), filter)

    def agreement(
        self,
        layers: Sequence[str] | None = None,
        *,
        filter: str | None = None,
        reference: str | None = None,
    ) -> AgreementReport:
        """Agreement among ``layers`` (default: the human layers) over the slice ``filter``.

        Per-annotator quality is measured against ``reference``: a layer name, or a consensus
        method computed on the fly (default: the ``consensus`` layer if there is one, else
        majority vote).
        """
        return layer_agreement(self.store, self.id, layers, filter=filter, reference=reference)

    def consensus(
        self,
        spec: ConsensusSpec | None = None,
        /,
        *,
        author: str | None = None,
        **options: Any,
    ) -> Combined:
        """A consensus label and confidence per item, written into the consensus layer ``into``.

        The layers' annotation kind combines them (classification: a
        :class:`assay.labels.consensus.ConsensusResult`). ``spec``
        (:class:`assay.labels.combine.ConsensusSpec`) or its fields as keywords: ``method``
        (one of the kind's: ``majority-vote``, ``dawid-skene`` or ``crowdlab``, which needs
        ``model_layer``, for classification), ``layers`` (default: one human layer per
        person; the result's ``layers`` says which were combined), ``filter``, ``into``
        (None: write nothing; a consensus layer of the layers' kind or a new name, never a
        person's, an import or a model layer: InvalidParameter before anything is computed)
        and ``seed``. See
        :func:`assay.labels.combine.combine_layers`.
        """
        from assay.labels.combine import ConsensusSpec, combine_layers

        return combine_layers(self.store, self.id, ConsensusSpec.of(spec, **options), author=author)

    # ----------------------------------------------------------------------------------------
    # Models, predictions and label quality
    # ----------------------------------------------------------------------------------------
    @property
    def models(self) -> DatasetModels:
        """Features, training, cross-validation and predictions (see :mod:`assay.models`)."""
        from assay.models.api import DatasetModels

        return DatasetModels(self)

    @property
    def suggestions(self) -> Suggestions:
        """What to label next: active-learning suggestion lists (see :mod:`assay.active`)."""
        from assay.active.api import Suggestions

        return Suggestions(self)

    @property
    def quality(self) -> LabelQuality:
        """Likely mislabeled items, outliers and near-duplicates (see :mod:`assay.quality`)."""
        from assay.quality.api import LabelQuality

        return LabelQuality(self)

    @property
    def maps(self) -> DatasetMaps:
        """Embedding maps: every item as a point in 2-D (see :mod:`assay.maps`)."""
        from assay.maps.api import DatasetMaps

        return DatasetMaps(self)

    # ----------------------------------------------------------------------------------------
    # Review queue
    # ----------------------------------------------------------------------------------------
    @property
    def review(self) -> ReviewQueue:
        """The dataset's review queue (see :class:`assay.review.ReviewQueue`)."""
        from assay.review import ReviewQueue

        return ReviewQueue(self)

    def review_scan(
        self,
        spec: ReviewScanSpec | None = None,
        /,
        *,
        actor: str | None = None,
        **options: Any,
    ) -> ScanResult:
        """Open review cases where layers disagree or consensus confidence is low: ``spec``
        (:class:`assay.review.scan.ReviewScanSpec`) or its fields as keywords (``layers``,
        ``consensus_layer``, ``threshold``, ``filter``)."""
        from assay.labels.writes import default_author
        from assay.review.scan import ReviewScanSpec, scan

        checked = ReviewScanSpec.of(spec, **options)
        with self.store.write() as conn:
            return scan(conn, self.id, checked, actor=actor or default_author())

    # ----------------------------------------------------------------------------------------
    # Snapshots and diffs
    # ----------------------------------------------------------------------------------------
    def snapshot(
        self,
        name: str,
        *,
        layers: Sequence[str] | None = None,
        author: str | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        """Record the current labels of ``layers`` (default: all) under ``name``, immutably."""
        with self.store.write() as conn:
            return create_snapshot(
                conn,
                self.id,
                name,
                layers=layers,
                author=author or default_author(),
                description=description,
            )

    def snapshots(self) -> list[dict[str, Any]]:
        """The dataset's snapshots, oldest first."""
        with self.store.read() as conn:
            return list_snapshots(conn, self.id)

    def diff(self, a: str, b: str = "now", *, limit: int = 1000) -> Diff:
        """What changed between snapshot ``a`` and snapshot ``b`` (or now)."""
        with self.store.read() as conn:
            return diff(conn, self.id, a, b, limit=limit)


# How a page of items may be sorted (``Dataset.items``): by when they were added (oldest or
# newest first), by key, and worst first by a score: the label quality or the loss of the
# latest label-issue search, or the confidence of a model's prediction.
SORTS = ("added", "newest", "key", "quality", "loss", "confidence")
# ``value:LAYER``: by the values of a number layer, highest first.
VALUE_SORT = "value:"


def item_order(conn: sa.Connection, dataset_id: int, sort: str, model: str | None) -> queries.Order:
    """The order ``sort`` (one of :data:`SORTS`) stands for; refuses one that cannot be
    applied, saying what to choose (a model for ``confidence``, a label-issue search for
    ``quality`` and ``loss``)."""
    if sort.startswith(VALUE_SORT):  # "value:LAYER": a number layer's values, highest first
        layer = queries.get_layer(conn, dataset_id, sort[len(VALUE_SORT) :])
        if layer.value_kind != "number":
            raise InvalidParameter(
                f"Sorting by value needs a number layer; {layer.name!r} holds "
                f"{layer.value_kind} labels."
            )
        return queries.order_by_value(int(layer.id))
    if sort not in SORTS:
        raise InvalidParameter(
            f"Unknown sort {sort!r}: use one of {', '.join(SORTS)} or {VALUE_SORT}LAYER."
        )
    if sort in ("added", "newest", "key"):
        return {"added": queries.ADDED, "newest": queries.NEWEST, "key": queries.BY_KEY}[sort]
    if sort == "confidence":
        if not model:
            models = [r.name for r in queries.list_layers(conn, dataset_id) if r.kind == "model"]
            raise InvalidParameter(
                "Sorting by confidence needs a model: choose one"
                + (f" ({', '.join(models)})." if models else "; this dataset has no model yet.")
            )
        return queries.order_by_confidence(queries.get_layer(conn, dataset_id, model).id)
    from assay.quality import runs  # the label-issue search's package, loaded when asked

    run = runs.latest_run(conn, dataset_id)
    order = queries.order_by_quality(int(run.id), sort)
    if sort == "loss" and not queries.count_items(conn, dataset_id, order=order, cap=0):
        raise InvalidParameter(
            f"The latest label-issue search ({run.name}) has no losses (it ran before Assay "
            "kept them): search again (`assay issues --scan`) to sort by loss."
        )
    return order


def _check_of(viewer: Viewer | None) -> Callable[[Any], None] | None:
    """The check a person's write makes on the layer it goes to (none for programs)."""
    return None if viewer is None else viewer.check_write
