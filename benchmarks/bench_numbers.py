"""Numbers: import throughput of a numeric column, and likely-mislabeled values against
cleanlab's regression check on the same predictions, side by side in one run.

1. **Import**: a table of ``--rows`` items (key + one feature) is imported first (not timed);
   then its numeric column goes into a number layer with ``ds.import_numbers`` (read with
   pyarrow, checked against the layer's range column-wise, written in one transaction):
   labels/s, and the peak of Python allocations (tracemalloc, in a second import into another
   layer: tracing slows Python) per row, at ``--rows`` and a tenth of it.
2. **Label issues** on the diabetes demo data (442 patients, sklearn) with injected errors
   (``--error-rate``: half digit typos as in the demo's ``ann-typo``, half values off by 20
   to 60 % of the range): out-of-fold predictions of the built-in regressor (Ridge, 5 folds),
   then precision / recall (and recall of the "large" errors, beyond two standard deviations
   of the model's error on clean labels: what any check on these predictions can see) of

   * ``assay``: our default (1.5x the reach of the 90 % cross-conformal interval, crepes);
   * ``cleanlab`` (our method): cleanlab's ranking, count: values beyond 2.5 robust SDs;
   * cleanlab ``get_label_quality_scores`` called directly on the same predictions, flagging
     the lowest-scored ``k`` with ``k`` = the true number of errors (an oracle count: cleanlab
     has no threshold for given predictions), and its ranking's average precision;
   * cleanlab ``CleanLearning(Ridge).find_label_issues(X, y)`` end to end (its own
     cross-validation and count search).

    PYTHONPATH=src python benchmarks/bench_numbers.py --rows 100000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np


def bench_import(rows: int, tmp: Path) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    import assay

    rng = np.random.default_rng(0)
    path = tmp / f"t{rows}.parquet"
    pq.write_table(
        pa.table({
            "key": [f"k{i}" for i in range(rows)],
            "f": rng.normal(size=rows),
            "price": np.round(rng.uniform(0, 1000, rows), 2),
        }),
        path,
    )  # fmt: skip
    project = assay.init(tmp / f"p{rows}")
    project.import_path(path, dataset="t", format="table", key_column="key",
                        exclude_columns=["price"])  # fmt: skip
    ds = project.dataset("t")
    started, cpu0 = time.perf_counter(), time.process_time()
    done = ds.import_numbers(path, column="price", layer="price", key_column="key",
                             options={"min": 0, "max": 1000, "unit": "EUR"})  # fmt: skip
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu0
    assert done["n_new_labels"] == rows
    # Memory in a second import into another layer (tracemalloc slows Python 2-3x).
    tracemalloc.start()
    ds.import_numbers(path, column="price", layer="price2", key_column="key")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"rows": rows, "seconds": seconds, "labels_per_s": rows / seconds,
            "labels_per_cpu_s": rows / cpu_s, "peak_mb": peak / 1e6,
            "bytes_per_row": peak / rows}  # fmt: skip


def _typo(value: float, rng: np.random.Generator) -> float:
    from assay.demo.numbers import _typo as demo_typo

    return demo_typo(value, rng)


def bench_issues(error_rate: float, seed: int) -> list[dict[str, Any]]:
    from cleanlab.regression.learn import CleanLearning
    from cleanlab.regression.rank import get_label_quality_scores
    from sklearn.linear_model import Ridge
    from sklearn.metrics import average_precision_score

    from assay.demo.numbers import diabetes_table
    from assay.models.number_models import make_regressor, oof_predict
    from assay.quality.numbers import find_number_issues

    columns, y, _ = diabetes_table()
    X = np.column_stack(list(columns.values()))
    rng = np.random.default_rng(seed)
    n = len(y)
    wrong = rng.choice(n, round(error_rate * n), replace=False)
    given = y.copy()
    span = y.max() - y.min()
    for j, k in enumerate(wrong.tolist()):
        if j % 2 == 0:
            given[k] = _typo(y[k], rng)
        else:
            given[k] = y[k] + rng.choice([-1, 1]) * rng.uniform(0.2, 0.6) * span
    truth = np.zeros(n, dtype=bool)
    truth[wrong] = True
    truth &= given != y
    pred = oof_predict(X, given, make_regressor("logreg", n, seed), 5, seed)
    # Errors beyond two standard deviations of the model's error on clean labels: what any
    # check on this model's predictions can hope to see (a typo of 1 in 150 is invisible).
    large = truth & (np.abs(given - y) > 2 * np.std((pred - y)[~truth]))

    def score(name: str, flags: np.ndarray, ranking: np.ndarray | None, secs: float) -> dict:
        tp = int((flags & truth).sum())
        return {
            "method": name,
            "flagged": int(flags.sum()),
            "precision": tp / flags.sum() if flags.sum() else 0.0,
            "recall": tp / truth.sum(),
            "recall_large": int((flags & large).sum()) / max(1, int(large.sum())),
            "avg_precision": None if ranking is None else average_precision_score(truth, ranking),
            "seconds": secs,
        }

    out = []
    for method in ("assay", "cleanlab"):
        t0 = time.perf_counter()
        found = find_number_issues(given, pred, None, method, seed=seed)
        out.append(score(f"ours: {method}", found.is_issue, 1 - found.quality,
                         time.perf_counter() - t0))  # fmt: skip
    t0 = time.perf_counter()
    q = np.asarray(get_label_quality_scores(given, pred))
    k = int(truth.sum())
    flags = np.zeros(n, dtype=bool)
    flags[np.argsort(q, kind="stable")[:k]] = True
    out.append(score("cleanlab rank, oracle k", flags, 1 - q, time.perf_counter() - t0))
    t0 = time.perf_counter()
    cl = CleanLearning(Ridge(), seed=seed, verbose=False)
    issues = cl.find_label_issues(X, given)
    out.append(score("cleanlab CleanLearning", issues["is_label_issue"].to_numpy(),
                     1 - issues["label_quality"].to_numpy(), time.perf_counter() - t0))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--error-rate", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"load average {os.getloadavg()[0]:.2f}")
        print("rows        seconds   labels/s  labels/CPU-s   peak MB   bytes/row")
        for rows in sorted({max(1_000, args.rows // 10), args.rows}):
            r = bench_import(rows, Path(tmp))
            print(f"{r['rows']:<10,} {r['seconds']:8.2f} {r['labels_per_s']:10,.0f} "
                  f"{r['labels_per_cpu_s']:13,.0f} "
                  f"{r['peak_mb']:9.1f} {r['bytes_per_row']:10.0f}")  # fmt: skip
    print(f"\nLabel issues, diabetes, {100 * args.error_rate:.0f}% injected errors, "
          f"{args.seeds} seeds (mean):")  # fmt: skip
    runs = [bench_issues(args.error_rate, seed) for seed in range(args.seeds)]
    print(f"{'method':<26} {'flagged':>8} {'precision':>10} {'recall':>8} {'large':>6} {'AP':>6} "
          f"{'s':>6}")  # fmt: skip
    for i, first in enumerate(runs[0]):
        rows = [r[i] for r in runs]
        ap = [r["avg_precision"] for r in rows if r["avg_precision"] is not None]
        print(f"{first['method']:<26} {np.mean([r['flagged'] for r in rows]):8.1f} "
              f"{np.mean([r['precision'] for r in rows]):10.3f} "
              f"{np.mean([r['recall'] for r in rows]):8.3f} "
              f"{np.mean([r['recall_large'] for r in rows]):6.3f} "
              f"{np.mean(ap) if ap else float('nan'):6.3f} "
              f"{np.mean([r['seconds'] for r in rows]):6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
