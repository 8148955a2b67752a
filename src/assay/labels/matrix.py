"""The item x annotator label matrix that agreement and consensus work on.

Agreement and consensus are computed in memory over the slice a user asks for: the store
streams the current labels of the chosen layers into a compact integer matrix (one int16 per
item and layer, 1 MB per 100,000 items x 5 layers), and the maintained libraries
(scikit-learn, statsmodels, krippendorff, crowd-kit, cleanlab) take it from there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MISSING = -1
# A reference code (never a label): the reference is a tie on this item, so it says no class.
TIE = -2


@dataclass(frozen=True)
class LabelMatrix:
    """Current labels of several layers over a set of items.

    ``codes[i, j]`` is the class index (into ``classes``) that layer ``annotators[j]`` gives item
    ``item_ids[i]``, or ``MISSING`` (-1) where that layer has no label for the item.
    """

    item_ids: np.ndarray  # int64, shape (n_items,), ascending
    annotators: list[str]  # layer names, shape (n_annotators,)
    classes: list[str]  # class names, in the dataset's order
    codes: np.ndarray  # int16, shape (n_items, n_annotators)

    def __post_init__(self) -> None:
        if self.codes.shape != (len(self.item_ids), len(self.annotators)):
            raise ValueError(
                f"codes has shape {self.codes.shape}, expected "
                f"({len(self.item_ids)}, {len(self.annotators)})"
            )

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def labeled_counts(self) -> np.ndarray:
        """How many layers label each item."""
        return (self.codes != MISSING).sum(axis=1)

    def select(self, annotators: list[str]) -> LabelMatrix:
        """The same items restricted to some of the layers (in the order given)."""
        idx = [self.annotators.index(a) for a in annotators]
        return LabelMatrix(self.item_ids, list(annotators), self.classes, self.codes[:, idx])

    def rows(self, mask: np.ndarray) -> LabelMatrix:
        """The items where ``mask`` is true."""
        return LabelMatrix(self.item_ids[mask], self.annotators, self.classes, self.codes[mask])

    def to_long(self) -> pd.DataFrame:
        """crowd-kit's long format: one row per label with columns task, worker, label.

        ``task`` is the item id, ``worker`` the layer name and ``label`` the class index.
        """
        rows, cols = np.nonzero(self.codes != MISSING)
        return pd.DataFrame(
            {
                "task": self.item_ids[rows],
                "worker": np.asarray(self.annotators, dtype=object)[cols],
                "label": self.codes[rows, cols].astype(np.int64),
            }
        )

    @classmethod
    def from_long(
        cls,
        frame: pd.DataFrame,
        classes: list[str],
        annotators: list[str] | None = None,
    ) -> LabelMatrix:
        """Build a matrix from a long frame with columns task, worker, label (a class index)."""
        workers = annotators or sorted(frame["worker"].unique().tolist())
        item_ids, rows = np.unique(frame["task"].to_numpy(np.int64), return_inverse=True)
        col_of = {w: j for j, w in enumerate(workers)}
        cols = frame["worker"].map(col_of).to_numpy()
        codes = np.full((len(item_ids), len(workers)), MISSING, dtype=np.int16)
        codes[rows, cols] = frame["label"].to_numpy(np.int16)
        return cls(item_ids, list(workers), list(classes), codes)
