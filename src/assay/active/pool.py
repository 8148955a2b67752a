"""What the loop works on: the slice's feature vectors and each item's label in the target layer.

The *pool* is every featurized item of the slice with no label in the target layer; the
labeled ones train the model. Features come from the store's cache
(:func:`assay.models.features.featurize`), labels from ``label_heads`` in one streamed read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.load import default_layers, load_matrix
from assay.labels.matrix import MISSING, LabelMatrix
from assay.progress import ProgressCallback
from assay.store import queries

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset


class EmptyPool(InvalidParameter):
    """Every item of the slice is already labeled in the target layer."""


@dataclass(frozen=True)
class PoolData:
    """Features and target-layer labels of a slice; row ``i`` is item ``item_ids[i]``."""

    item_ids: np.ndarray  # int64, ascending
    X: np.ndarray  # float32 (n_items, n_features)
    codes: np.ndarray  # int64 class code in the target layer, MISSING (-1) = in the pool
    classes: list[str]
    featurizer: str
    kind: str | None = None
    image_shape: tuple[int, int] | None = None

    @property
    def pool(self) -> np.ndarray:
        """Positions of the unlabeled items."""
        return np.flatnonzero(self.codes == MISSING)

    @property
    def labeled(self) -> np.ndarray:
        """Positions of the items labeled in the target layer."""
        return np.flatnonzero(self.codes != MISSING)

    def n_label_classes(self) -> int:
        """How many distinct classes the target layer's labels use."""
        return len(np.unique(self.codes[self.codes != MISSING]))


def check_classes(ds: Dataset) -> list[str]:
    """The dataset's classes, or a clear error when it has none to learn."""
    classes = ds.classes()
    if not classes:
        raise InvalidParameter(
            f"Dataset {ds.name!r} has no classes, so there is nothing to suggest labels for. "
            "Classes come with an import that has labels (or `assay import ... --add-classes`)."
        )
    return classes


def load_pool(
    ds: Dataset,
    layer: str,
    *,
    filter: str | None = None,
    featurizer: str | Any = "auto",
    progress: ProgressCallback | None = None,
) -> PoolData:
    """Features and target-layer labels of the slice ``filter`` selects.

    Raises
    ------
    LayerNotFound
        No layer ``layer`` in the dataset.
    InvalidParameter
        The dataset has no classes; the slice has no items to featurize.
    """
    from assay.models.features import featurize

    classes = check_classes(ds)
    check_layer(ds, layer)  # before any work
    feats = featurize(ds, filter, featurizer=featurizer, progress=progress)
    if len(feats.item_ids) == 0:
        raise InvalidParameter(
            f"No items to suggest from{' in the slice ' + repr(filter) if filter else ''}: "
            f"the {feats.name!r} featurizer found none."
        )
    codes = align(label_matrix(ds, [layer], filter), feats.item_ids)[:, 0]
    return PoolData(
        feats.item_ids, feats.X, codes, classes, feats.name, feats.kind, feats.image_shape
    )


def check_layer(ds: Dataset, layer: str) -> None:
    """LayerNotFound, naming the layers there are, unless the dataset has ``layer``."""
    with ds.store.read() as conn:
        queries.get_layer(conn, ds.id, layer)


def label_matrix(ds: Dataset, layers: Sequence[str], filter: str | None) -> LabelMatrix:
    """The current labels of ``layers`` over the slice ``filter`` selects."""
    with ds.store.read() as conn:
        return load_matrix(conn, ds.id, layers, filter)


def align(matrix: LabelMatrix, item_ids: np.ndarray) -> np.ndarray:
    """The matrix's codes for ``item_ids`` (ascending), MISSING where it has no row: int64."""
    out = np.full((len(item_ids), len(matrix.annotators)), MISSING, dtype=np.int64)
    if matrix.n_items == 0 or len(item_ids) == 0:
        return out
    pos = np.clip(np.searchsorted(matrix.item_ids, item_ids), 0, matrix.n_items - 1)
    hit = matrix.item_ids[pos] == item_ids
    out[hit] = matrix.codes[pos[hit]]
    return out


def annotator_codes(
    ds: Dataset, layers: Sequence[str] | None, filter: str | None, item_ids: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """The annotator layers ActiveLab weighs (default: the human layers) and their codes for
    ``item_ids``: (layer names, int64 (n_items, n_layers) with MISSING where unlabeled)."""
    if layers is None:
        with ds.store.read() as conn:
            layers = [name for name in default_layers(conn, ds.id)]
    names = list(layers)
    if not names:
        raise InvalidParameter(
            "ActiveLab weighs the labels of several annotator layers; this dataset has none. "
            "Name them with annotators=[...] (--annotators)."
        )
    return names, align(label_matrix(ds, names, filter), item_ids)
