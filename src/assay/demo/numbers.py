"""The number demo: scikit-learn's diabetes data (442 patients, 10 measurements each, shipped
with scikit-learn: no download), the target a real regression one: disease progression one
year after baseline (25 to 346).

Dataset ``diabetes``: tabular items (the ten features), the true values in number layer
``progression`` (options: the data's min and max, unit "points"), three SIMULATED annotators
with structured noise (``ann-rounder`` rounds to tens, ``ann-upbeat`` reads about 5 % high,
``ann-typo`` mistypes a digit now and then), their median ``consensus``, the review cases
where they disagree, out-of-fold predictions of the built-in regressor (run
``regressor-cv``) and the likely mistakes of ``ann-typo`` as that model sees them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from assay.progress import ProgressCallback, no_progress

__all__ = ["DATASET", "add_numbers", "diabetes_table", "simulate_number_annotators"]

DATASET = "diabetes"
LAYER = "progression"
RUN = "regressor-cv"
SEED = 23
ANNOTATORS = ("ann-rounder", "ann-upbeat", "ann-typo")
TYPO_RATE = 0.06


def diabetes_table(seed: int = SEED) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """The features (column -> values), the target and a seeded 80/20 split."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    columns = {
        name: bunch.data[:, j].astype(np.float64) for j, name in enumerate(bunch.feature_names)
    }
    n = len(bunch.target)
    order = np.random.default_rng(seed).permutation(n)
    splits = np.full(n, "train", dtype=object)
    splits[order[: round(n * 0.2)]] = "test"
    return columns, bunch.target.astype(np.float64), [str(s) for s in splits]


def _typo(value: float, rng: np.random.Generator) -> float:
    """``value`` with one digit mistyped (a neighbouring key) or two digits swapped."""
    digits = list(str(round(value)))
    k = int(rng.integers(len(digits)))
    if len(digits) > 1 and rng.random() < 0.5:
        j = min(k + 1, len(digits) - 1) if k + 1 < len(digits) else k - 1
        digits[k], digits[j] = digits[j], digits[k]
    else:
        digits[k] = str((int(digits[k]) + int(rng.choice([-1, 1]))) % 10)
    out = float("".join(digits).lstrip("0") or "0")
    return out if out != value else value + 10.0


def simulate_number_annotators(
    truth: np.ndarray, lo: float, hi: float, seed: int = SEED
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The three annotators' values (clipped to [lo, hi]) and which of ``ann-typo``'s are
    typos."""
    rng = np.random.default_rng(seed)
    noise = lambda s: rng.normal(0.0, s, len(truth))  # noqa: E731
    rounder = np.round((truth + noise(3.0)) / 10.0) * 10.0
    upbeat = np.round(truth * 1.05 + noise(3.0))
    typo = np.round(truth + noise(2.0))
    typos = rng.random(len(truth)) < TYPO_RATE
    typo[typos] = [_typo(v, rng) for v in typo[typos]]
    out = {"ann-rounder": rounder, "ann-upbeat": upbeat, "ann-typo": typo}
    return {k: np.clip(v, lo, hi) for k, v in out.items()}, typos


def add_numbers(project: object, *, progress: ProgressCallback = no_progress) -> None:
    """Build the ``diabetes`` dataset (once; see the module doc). A few seconds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from assay.labels.writes import LabelWrite

    proj: object = project
    names = [d["name"] for d in proj.datasets()]  # type: ignore[attr-defined]
    columns, target, splits = diabetes_table()
    lo, hi = float(target.min()), float(target.max())
    if DATASET not in names:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "diabetes.parquet"
            table = {"key": [str(i) for i in range(len(target))], "split": splits,
                     **columns, "progression": target}  # fmt: skip
            pq.write_table(pa.table(table), path)
            proj.import_path(  # type: ignore[attr-defined]
                path, dataset=DATASET, format="table", key_column="key", split_column="split",
                exclude_columns=["progression"], progress=progress,
            )  # fmt: skip
            ds = proj.dataset(DATASET)  # type: ignore[attr-defined]
            ds.import_numbers(
                path, column="progression", layer=LAYER, key_column="key",
                options={"min": lo, "max": hi, "unit": "points", "integer": True},
                author="sklearn.datasets.load_diabetes", progress=progress,
            )  # fmt: skip
        values, _ = simulate_number_annotators(target, lo, hi)
        rows = ds.items(limit=len(target))[0]
        by_key = {str(r["external_key"]): int(r["id"]) for r in rows}
        ids = [by_key[str(i)] for i in range(len(target))]
        for name in ANNOTATORS:
            ds.create_layer(
                name, value_kind="number", kind="human",
                options={"min": lo, "max": hi, "unit": "points"},
                description=f"SIMULATED annotator (not a person): {name[4:]}",
            )  # fmt: skip
            ds.set_labels([LabelWrite(int(i), float(v)) for i, v in zip(ids, values[name],
                                                                         strict=True)],
                          layer=name, author=f"simulated-{name}")  # fmt: skip
    ds = proj.dataset(DATASET)  # type: ignore[attr-defined]
    if any(run["name"] == RUN for run in ds.models.runs()):
        return
    ds.models.cross_validate(name=RUN, folds=5, model="auto", layer=LAYER, progress=progress)
    ds.consensus(method="median", layers=list(ANNOTATORS), into="consensus")
    ds.review_scan(layers=list(ANNOTATORS), consensus_layer=None, actor="assay demo")
    run = ds.quality.find(layer="ann-typo", model_layer=RUN, actor="assay demo")
    ds.quality.to_review(run.run_id, actor="assay demo")
