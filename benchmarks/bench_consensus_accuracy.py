"""Accuracy of the consensus methods against known truth, under several kinds of annotator noise.

Five simulated annotators (``assay.labels.simulate``) label every item; majority vote,
Dawid-Skene and CROWDLAB each turn their labels into one label per item, scored against the
true class over all items (an item nobody labeled counts as wrong, for every method alike).

CROWDLAB also needs a model's class probabilities. As in practice, they come from a classifier
trained on the crowd's own (majority-vote) labels and predicted out of fold: a standardized
logistic regression with 5-fold ``cross_val_predict``, on sklearn's digits (1,797 8x8 images,
truth = ``digits.target``) and on a larger synthetic set (``make_classification``: 20,000
items, 10 classes, 20 features, class_sep 1.5). Prints a markdown table; writes nothing to disk.

    python benchmarks/bench_consensus_accuracy.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from _common import machine
from assay.labels.consensus import consensus
from assay.labels.matrix import MISSING, LabelMatrix
from assay.labels.simulate import Profile, noisy_annotators, simulate

K = 10
SEED = 0


def _uniform(accuracy: float) -> Profile:
    return Profile(f"uniform errors, accuracy {accuracy:.2f}", error_rate=1.0 - accuracy)


SPAMMER = Profile("picks a class uniformly at random", spam=True)
ADVERSARY = Profile(
    "always says the next class", confusions=tuple((c, (c + 1) % K, 1.0) for c in range(K))
)

# name -> function of (truth, seed) returning the (n_items, 5) label codes
SETTINGS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "5 x accuracy 0.90": lambda t, s: noisy_annotators(t, K, 5, (0.9, 0.9), s),
    "accuracies 0.95, 0.85, ..., 0.55": lambda t, s: noisy_annotators(t, K, 5, (0.55, 0.95), s),
    "3 x 0.70 + 2 spammers": lambda t, s: simulate(t, K, [_uniform(0.7)] * 3 + [SPAMMER] * 2, s),
    "3 x 0.70 + 2 adversaries (say next class)": lambda t, s: simulate(
        t, K, [_uniform(0.7)] * 3 + [ADVERSARY] * 2, s
    ),
    "careful, 2 confusers, hasty, spammer": lambda t, s: simulate(
        t, K, ["careful", "confuser", "confuser", "hasty", "spammer"], s
    ),
    "0.95..0.55, 30% of labels missing": lambda t, s: noisy_annotators(
        t, K, 5, (0.55, 0.95), s, missing=0.3
    ),
}


def _datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (features, truth)."""
    from sklearn.datasets import load_digits, make_classification

    digits = load_digits()
    x, y = make_classification(
        n_samples=20_000,
        n_features=20,
        n_informative=12,
        n_redundant=4,
        n_classes=K,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=SEED,
    )
    return {
        "digits": (digits.data, digits.target),
        "synthetic 20k": (x, y),
    }


def _out_of_fold_probs(features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Class probabilities from a classifier trained on ``labels``, each item predicted out of
    fold; items without a label get a uniform row (no consensus method uses it)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probs = np.full((len(labels), K), 1.0 / K)
    known = labels != MISSING
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
    probs[known] = cross_val_predict(
        model, features[known], labels[known], cv=folds, method="predict_proba"
    )
    return probs


def main() -> None:
    import crowdkit.aggregation  # noqa: F401  (imported once up front, not inside a timing)

    print(f"Machine: {machine()}\n")
    print(
        "| data | annotators | MV | Dawid-Skene | CROWDLAB | DS − MV | CROWDLAB − MV "
        "| model (on MV labels) | seconds MV / DS / CL |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for data_name, (features, truth) in _datasets().items():
        item_ids = np.arange(len(truth))
        for setting, annotate in SETTINGS.items():
            codes = annotate(truth, SEED)
            names = [f"a{j}" for j in range(codes.shape[1])]
            matrix = LabelMatrix(item_ids, names, [str(c) for c in range(K)], codes)

            seconds = []
            start = time.perf_counter()
            mv = consensus(matrix, "majority-vote")
            seconds.append(time.perf_counter() - start)
            start = time.perf_counter()
            ds = consensus(matrix, "dawid-skene")
            seconds.append(time.perf_counter() - start)
            pred_probs = _out_of_fold_probs(features, mv.label)
            start = time.perf_counter()
            cl = consensus(matrix, "crowdlab", pred_probs=pred_probs)
            seconds.append(time.perf_counter() - start)

            acc_mv, acc_ds, acc_cl = (float(np.mean(r.label == truth)) for r in (mv, ds, cl))
            acc_model = float(np.mean(pred_probs.argmax(axis=1) == truth))
            print(
                f"| {data_name} | {setting} | {acc_mv:.4f} | {acc_ds:.4f} | {acc_cl:.4f} "
                f"| {acc_ds - acc_mv:+.4f} | {acc_cl - acc_mv:+.4f} | {acc_model:.4f} "
                f"| {' / '.join(f'{s:.2f}' for s in seconds)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
