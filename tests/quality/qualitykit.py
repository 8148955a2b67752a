"""Helpers of the label-quality tests: digits in a store, flipped labels, a probability layer."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier

import assay
from assay.demo import digits_arrays
from assay.ingest.arrays import import_arrays
from assay.labels.writes import LabelWrite

N_CLASSES = 10


def import_digits(project: assay.Project, n: int, name: str = "digits") -> assay.Dataset:
    """The first ``n`` scikit-learn digits as dataset ``name``; item key = row index."""
    images, labels, splits = digits_arrays()
    import_arrays(
        project.store,
        [(images[:n], labels[:n])],
        dataset=name,
        source="test",
        format="test",
        splits=iter(splits[:n]),
    )
    return project.dataset(name)


def flip_labels(ds: assay.Dataset, fraction: float, seed: int) -> np.ndarray:
    """Give ``fraction`` of the items another (random) class in ground_truth; their rows."""
    truth = np.array([int(c) for c in digits_arrays()[1][: len(ds)]])
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(truth), round(fraction * len(truth)), replace=False))
    flipped = (truth[rows] + rng.integers(1, N_CLASSES, len(rows))) % N_CLASSES
    ds.set_labels(
        [(str(r), str(int(c))) for r, c in zip(rows, flipped, strict=True)],
        layer="ground_truth",
        author="test-flipper",
    )
    return rows


def noisy_labels(ds: assay.Dataset) -> np.ndarray:
    """The current ground_truth codes of items 0..n-1 (the class name is the digit)."""
    matrix = ds.label_matrix(["ground_truth"])
    return np.array([int(matrix.classes[c]) for c in matrix.codes[:, 0]])


def oof_knn_probs(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """5-fold out-of-fold k-NN probabilities on the digits pixels (fast and good enough)."""
    images, _, _ = digits_arrays()
    X = images[: len(labels)].reshape(len(labels), -1) / 255.0
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    model = KNeighborsClassifier(n_neighbors=10, weights="distance")
    return cross_val_predict(model, X, labels, cv=folds, method="predict_proba")


def item_ids(ds: assay.Dataset) -> np.ndarray:
    """Item ids in key order (keys 0..n-1 were imported in order, every one labeled)."""
    return np.asarray(ds.label_matrix(["ground_truth"]).item_ids)


def write_probs_layer(ds: assay.Dataset, layer: str, probs: np.ndarray | list[list[float]]) -> None:
    """A model layer whose label for item key ``i`` is argmax(probs[i]), with that row."""
    ds.create_layer(layer, kind="model")
    ds.set_labels(
        [
            LabelWrite(int(item_id), str(int(np.argmax(p))), probs=[float(v) for v in p])
            for item_id, p in zip(item_ids(ds), probs, strict=False)
        ],
        layer=layer,
        author="test-model",
    )


def noisy_digits(project: assay.Project, n: int, seed: int) -> tuple[assay.Dataset, np.ndarray]:
    """``n`` digits, 5% of them relabeled wrongly (their rows are returned), with a k-NN
    out-of-fold probability layer ``knn-cv``."""
    ds = import_digits(project, n)
    flipped = flip_labels(ds, 0.05, seed=seed)
    write_probs_layer(ds, "knn-cv", oof_knn_probs(noisy_labels(ds), seed=seed))
    return ds, flipped
