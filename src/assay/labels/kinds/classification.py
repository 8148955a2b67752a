"""Classification: a label is one of the dataset's classes.

Stored as ``labels.class_id`` (and ``label_heads.class_id``, which filters and statistics
read); loaded into a :class:`~assay.labels.matrix.LabelMatrix` of class codes; agreement from
:mod:`assay.labels.agreement`, consensus from :mod:`assay.labels.consensus`, label-quality
checks from the ``classification`` family of :mod:`assay.quality.methods` (cleanlab on class
probabilities).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import ClassNotFound, InvalidParameter
from assay.labels.agreement import AgreementReport, agreement
from assay.labels.consensus import METHODS, ConsensusResult, consensus, consensus_of_others
from assay.labels.kinds import AnnotationKind, Disagreement, KindSchema, Stored
from assay.labels.matrix import MISSING, LabelMatrix
from assay.store import filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.labels.writes import LabelWrite

__all__ = ["Classification", "class_ids", "resolve_class"]

CHUNK = 50_000


def class_ids(conn: Connection, dataset_id: int) -> dict[str, int]:
    """Class name -> id for the dataset."""
    return {c.name: c.id for c in queries.list_classes(conn, dataset_id)}


def resolve_class(names: dict[str, int], name: str) -> int:
    """The id of class ``name``, or ClassNotFound naming the valid ones."""
    try:
        return names[name]
    except KeyError:
        raise ClassNotFound(
            f"No class {name!r} in this dataset.{queries.hint(name, list(names), 'classes')}"
            " Labels must be one of the dataset's classes."
        ) from None


class Classification(AnnotationKind):
    """One class per item per layer."""

    name: ClassVar[str] = "classification"
    agreement_measure: ClassVar[tuple[str, str] | None] = ("percent_agreement", "percent agreement")
    noun: ClassVar[str] = "class"
    quality_check: ClassVar[str | None] = "classification"
    stores_class: ClassVar[bool] = True
    consensus_methods: ClassVar[tuple[str, ...]] = METHODS

    def store(self, value: Any, schema: KindSchema, item_id: int) -> Stored:
        """The class id of the class name ``value``; ClassNotFound if it is not a class."""
        if not isinstance(value, str):
            raise InvalidParameter(
                f"Item {item_id}: a class label is a class name, not {type(value).__name__}."
            )
        return Stored(class_id=resolve_class(schema.classes, value))

    def parse(self, text: str) -> Any:
        """A class name is typed as it is."""
        return text

    def read(self, class_name: str | None, value: Any) -> Any:
        """The class name."""
        del value
        return class_name

    def load(
        self, conn: Connection, dataset_id: int, layers: Sequence[Any], filter: str | None
    ) -> LabelMatrix:
        """Current classes of ``layers`` for the items ``filter`` selects that have one.

        Streams (item, layer, class) triples in chunks from ``label_heads``: the only thing
        held in memory is the int16 matrix itself.
        """
        names = [r.name for r in layers]
        column_of = {r.id: j for j, r in enumerate(layers)}
        classes = queries.list_classes(conn, dataset_id)
        class_names = [c.name for c in classes]
        code_of = {c.id: i for i, c in enumerate(classes)}
        h = t.label_heads
        query = sa.select(h.c.item_id, h.c.layer_id, h.c.class_id).where(
            h.c.layer_id.in_(list(column_of)), h.c.class_id.is_not(None)
        )
        where = filters.compile_filter(conn, dataset_id, filter)
        if where is not None:
            query = query.join(t.items, t.items.c.id == h.c.item_id).where(where)
        items: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        codes: list[np.ndarray] = []
        for part in queries.iter_tuples(conn, query, CHUNK):
            arr = np.array(part, dtype=np.int64).reshape(-1, 3)
            items.append(arr[:, 0])
            cols.append(_lookup(column_of, arr[:, 1]))
            codes.append(_lookup(code_of, arr[:, 2]))
        if not items:
            empty = np.zeros((0, len(names)), dtype=np.int16)
            return LabelMatrix(np.zeros(0, np.int64), names, class_names, empty)
        item_ids, rows = np.unique(np.concatenate(items), return_inverse=True)
        matrix = np.full((len(item_ids), len(names)), MISSING, dtype=np.int16)
        matrix[rows, np.concatenate(cols)] = np.concatenate(codes)
        return LabelMatrix(item_ids, names, class_names, matrix)

    def disagreements(self, table: Any) -> Iterator[Disagreement]:
        """Items with two or more classes, the most common one (the lowest class index on
        ties) as the majority."""
        codes = table.codes.astype(np.int64)
        labeled = codes != MISSING
        n_labels = labeled.sum(axis=1)
        counts = np.zeros((table.n_items, max(table.n_classes, 1)), dtype=np.int64)
        rows, cols = np.nonzero(labeled)
        np.add.at(counts, (rows, codes[rows, cols]), 1)
        top = counts.argmax(axis=1)
        share = counts.max(axis=1) / np.maximum(n_labels, 1)
        for i in np.nonzero((n_labels >= 2) & (share < 1.0))[0].tolist():
            labels = {
                name: table.classes[codes[i, j]]
                for j, name in enumerate(table.annotators)
                if codes[i, j] != MISSING
            }
            yield Disagreement(
                int(table.item_ids[i]), float(share[i]), table.classes[int(top[i])], labels
            )

    def agreement(self, table: Any, *, reference: Any = None) -> AgreementReport:
        """:func:`assay.labels.agreement.agreement` of the matrix; ``reference`` is a one-layer
        matrix (aligned on item ids) or a consensus method.

        A consensus method is computed leave-one-out: each layer is rated against the
        consensus of the OTHER layers (:func:`~assay.labels.consensus.consensus_of_others`),
        never a vote its own label takes part in (with two layers, each against the other).
        Items where the other layers tie are left out of that layer's rating and counted as
        its ``n_ties``. The report's ``reference_rule`` says this in words.
        """
        ref_codes, rule = None, None
        if isinstance(reference, str):
            ref_codes = consensus_of_others(table, reference)
            rule = (
                f"Each layer against the {reference} of the other layers (leave-one-out: a "
                "layer's own label never counts in its reference; with two layers, each "
                "against the other). Items where the other layers tie are left out and "
                "counted as ties."
            )
        elif isinstance(reference, LabelMatrix):
            ref_codes = _aligned(reference, table.item_ids)
            rule = f"Each layer against the layer {reference.annotators[0]}."
        return agreement(table, reference=ref_codes, reference_rule=rule)

    def combine(
        self, table: Any, method: str, *, pred_probs: Any = None, seed: int = 0
    ) -> ConsensusResult:
        """:func:`assay.labels.consensus.consensus` of the matrix."""
        return consensus(table, method, pred_probs=pred_probs, seed=seed)

    def consensus_writes(self, table: Any, result: Any) -> list[LabelWrite]:
        """The consensus class of each item that got one, with its confidence and its class
        probabilities (normalized) where the method gives them."""
        from assay.labels.writes import LabelWrite  # writes imports this package

        return [
            LabelWrite(
                int(item_id),
                table.classes[int(code)],
                probs=None if result.probs is None else _normalized(result.probs[k]),
                confidence=float(np.clip(result.confidence[k], 0.0, 1.0)),
            )
            for k, (item_id, code) in enumerate(zip(table.item_ids, result.label, strict=True))
            if code >= 0
        ]


def _normalized(row: Any) -> list[float]:
    """A probability row clipped to [0, 1] and scaled to sum to 1 (all zeros stay zeros)."""
    values = np.clip(np.asarray(row, dtype=np.float64), 0.0, 1.0)
    total = values.sum()
    return (values / total).tolist() if total > 0 else values.tolist()


def _aligned(reference: LabelMatrix, item_ids: np.ndarray) -> np.ndarray:
    """The reference's class codes at ``item_ids`` (MISSING where it has no label)."""
    codes = np.full(len(item_ids), MISSING, dtype=np.int64)
    if not len(reference.item_ids):
        return codes
    pos = np.clip(np.searchsorted(reference.item_ids, item_ids), 0, len(reference.item_ids) - 1)
    hit = reference.item_ids[pos] == item_ids
    codes[hit] = reference.codes[pos[hit], 0]
    return codes


def _lookup(mapping: dict[int, int], keys: np.ndarray) -> np.ndarray:
    """``mapping[k]`` for every k of ``keys``, vectorized (every key is in the mapping)."""
    known = np.array(sorted(mapping), dtype=np.int64)
    values = np.array([mapping[k] for k in known.tolist()], dtype=np.int64)
    return values[np.searchsorted(known, keys)]
