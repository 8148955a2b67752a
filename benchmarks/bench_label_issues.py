"""Label-issue detection: Assay's default pipeline against two plain cleanlab baselines.

scikit-learn's digits (1,797 8x8 images) with 0%, 10% and 25% of the labels flipped to another
class at random (5 fixed seeds each). Every method flags a set of items; precision, recall and
F1 are measured against the flipped items and averaged over the seeds (on clean digits, the
share of items flagged). The methods, in one run:

* **cleanlab + LR**: 5-fold out-of-fold probabilities (``cross_val_predict``, stratified,
  shuffled with the seed) of ``LogisticRegression`` on the raw pixels, then
  ``cleanlab.filter.find_label_issues`` with its defaults;
* **cleanlab + HGB**: the same with ``HistGradientBoostingClassifier``;
* **Assay default**: the product path - the noisy labels imported into a fresh project, then
  ``ds.quality.find()`` with its defaults (what ``assay issues`` runs): cross-validation of the
  label-quality ensemble through ``ds.models.cross_validate``, label quality and issues
  (``assay.quality.issues``), outliers and near-duplicates. Its wall time includes the import.

Then the real MNIST test set (``../shared/data/mnist-test``): ``ds.models.cross_validate()``
with the default model (the CNN when torch is installed: what ``assay predict --cv 5`` runs)
and ``ds.quality.find()``, which reuses that cross-validation; the 30 top-ranked items
(lowest label quality first) are drawn as a picture grid, given vs suggested label, in
``benchmarks/mnist_top_issues.png``.

    python benchmarks/bench_label_issues.py            # digits and MNIST
    python benchmarks/bench_label_issues.py --no-mnist

BLAS and OpenMP run single-threaded (set before numpy loads, unless already set): on a small,
shared 2-core machine their thread pools oversubscribe the cores and made logistic regression
70x slower here. PyTorch keeps its own setting (the CNN uses up to 2 threads).
"""

from __future__ import annotations

import argparse
import gzip
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

from _common import MNIST, ROOT, fresh_dir, machine  # noqa: E402

SEEDS = (0, 1, 2, 3, 4)
NOISE = (0.0, 0.1, 0.25)
N_CLASSES = 10
GRID_PATH = ROOT / "mnist_top_issues.png"

Flagger = Callable[[np.ndarray, int, Path], np.ndarray]


def flip(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``fraction`` of the labels moved to another class, uniformly; (noisy labels, rows)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(y), round(fraction * len(y)), replace=False))
    noisy = y.copy()
    noisy[rows] = (y[rows] + rng.integers(1, N_CLASSES, len(rows))) % N_CLASSES
    return noisy, rows


def cleanlab_baseline(make_model: Callable[[int], object]) -> Flagger:
    """Plain cleanlab: 5-fold OOF probabilities on raw pixels, ``find_label_issues`` defaults."""

    def flag(noisy: np.ndarray, seed: int, work: Path) -> np.ndarray:
        from cleanlab.filter import find_label_issues
        from sklearn.datasets import load_digits
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        X = load_digits().data
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        probs = cross_val_predict(make_model(seed), X, noisy, cv=folds, method="predict_proba")  # type: ignore[arg-type]
        return np.flatnonzero(find_label_issues(noisy, probs))

    return flag


def assay_default(noisy: np.ndarray, seed: int, work: Path) -> np.ndarray:
    """The product: import the noisy labels, ``ds.quality.find()``, the flagged keys."""
    import assay
    from assay.demo import digits_arrays
    from assay.ingest.arrays import import_arrays

    images, _, _ = digits_arrays()
    project = assay.init(work / f"digits-{seed}-{int(noisy.sum())}")
    labels = [str(int(c)) for c in noisy]
    import_arrays(project.store, [(images, labels)], dataset="digits", source="bench", format="x")
    ds = project.dataset("digits")
    run = ds.quality.find(seed=seed)
    rows = ds.quality.issues(limit=max(run.n_issues, 1))
    project.store.close()
    return np.array(sorted(int(r["key"]) for r in rows), dtype=np.int64)


def _lr(seed: int) -> object:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, random_state=seed)


def _hgb(seed: int) -> object:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed)


METHODS: dict[str, Flagger] = {
    "cleanlab + LR (baseline)": cleanlab_baseline(_lr),
    "cleanlab + HGB (baseline)": cleanlab_baseline(_hgb),
    "Assay default": assay_default,
}


def scores(flagged: np.ndarray, flipped: np.ndarray) -> tuple[float, float, float]:
    hits = len(np.intersect1d(flagged, flipped))
    precision = hits / len(flagged) if len(flagged) else 1.0
    recall = hits / len(flipped) if len(flipped) else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def digits_table(work: Path) -> list[str]:
    from sklearn.datasets import load_digits

    y = load_digits().target
    results: dict[tuple[str, float], list[tuple[float, ...]]] = {}
    for fraction in NOISE:
        for seed in SEEDS:
            noisy, flipped = flip(y, fraction, seed)
            for name, method in METHODS.items():
                start = time.perf_counter()
                flagged = method(noisy, seed, work)
                wall = time.perf_counter() - start
                p, r, f = scores(flagged, flipped)
                results.setdefault((name, fraction), []).append((p, r, f, len(flagged), wall))
                print(f"  {fraction:.0%} seed {seed} {name}: P={p:.3f} R={r:.3f} F1={f:.3f} "
                      f"flagged={len(flagged)} {wall:.1f}s", flush=True)  # fmt: skip
    lines = [
        "| method | noise | precision | recall | F1 | flagged (of 1,797) | wall s per run |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for fraction in NOISE:
        for name in METHODS:
            p, r, f, n, wall = np.mean(results[(name, fraction)], axis=0)
            if fraction == 0:
                lines.append(f"| {name} | clean | - | - | - | {n:.1f} ({n / len(y):.2%}) | "
                             f"{wall:.1f} |")  # fmt: skip
            else:
                lines.append(f"| {name} | {fraction:.0%} | {p:.3f} | {r:.3f} | **{f:.3f}** | "
                             f"{n:.1f} | {wall:.1f} |")  # fmt: skip
    return lines


def mnist_images() -> np.ndarray:
    with gzip.open(MNIST / "t10k-images-idx3-ubyte.gz", "rb") as fh:
        data = np.frombuffer(fh.read(), dtype=np.uint8, offset=16)
    return data.reshape(-1, 28, 28)


def mnist_grid(work: Path) -> list[str]:
    """Cross-validate MNIST with the default model, search, and draw the 30 top issues."""
    import assay

    project = assay.init(work / "mnist")
    project.import_path(MNIST, dataset="mnist")
    ds = project.dataset("mnist")
    start = time.perf_counter()
    cv = ds.models.cross_validate(folds=5)
    cv_s = time.perf_counter() - start
    start = time.perf_counter()
    run = ds.quality.find()
    find_s = time.perf_counter() - start
    top = ds.quality.issues(limit=30, only_issues=False)  # the 30 lowest label quality
    draw_grid(top, mnist_images(), GRID_PATH)
    metrics = cv["metrics"] if isinstance(cv["metrics"], dict) else {}
    return [
        "| data | model (OOF accuracy) | cross-validation s | issue search s | flagged | "
        "outliers | near-duplicates |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        f"| MNIST test, 10,000 | {metrics.get('model', cv['model'])} "
        f"({metrics.get('oof_accuracy', float('nan')):.4f}) | {cv_s:.0f} | {find_s:.1f} | "
        f"{run.n_issues} | {run.n_outliers} | {run.n_duplicates} |",
        "",
        f"The 30 lowest-quality labels: `{GRID_PATH.relative_to(ROOT.parent)}` (key: given -> "
        "suggested, quality; * = flagged as an issue).",
    ]


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
    parser.add_argument("--no-mnist", action="store_true", help="Skip the MNIST grid.")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    work = fresh_dir("label_issues")
    start = time.perf_counter()
    lines = digits_table(work)
    digits_s = time.perf_counter() - start
    if not args.no_mnist:
        if not MNIST.is_dir():
            raise SystemExit(f"MNIST test set not found at {MNIST}")
        lines += ["", *mnist_grid(work)]
    print(f"\nMachine: {machine()}\n")
    print("\n".join(lines))
    print(f"\nDigits part: {digits_s:.0f} s wall for all methods, noise levels and seeds.")


if __name__ == "__main__":
    main()
