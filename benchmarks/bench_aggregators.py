"""Accuracy of the mergeable aggregators on data where the naive formula fails.

1,000,000 values with mean 1e9 and standard deviation 1, in 20 chunks: the merged Moments
(parallel Welford), one pass over everything, numpy, and the naive sum-of-squares formula.

    python benchmarks/bench_aggregators.py
"""

from __future__ import annotations

import numpy as np

from _common import machine
from assay.stats.aggregators import Moments


def main(n: int = 1_000_000, chunks: int = 20, seed: int = 0) -> None:
    x = np.random.default_rng(seed).normal(1e9, 1.0, n)
    parts = [Moments().add(c) for c in np.array_split(x, chunks)]
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    single = Moments().add(x)
    mean_np, var_np = float(np.mean(x)), float(np.var(x))
    naive = float(np.sum(x * x) / n - (np.sum(x) / n) ** 2)

    def rel(a: float, b: float) -> float:
        return abs(a - b) / abs(b)

    print(f"Machine: {machine()}\n")
    print("| method | mean rel. error vs numpy | variance | var rel. error vs numpy |")
    print("| --- | ---: | ---: | ---: |")
    rows = [
        ("Moments, 20 chunks merged", merged.result()["mean"], merged.var),
        ("Moments, one pass", single.result()["mean"], single.var),
        ("naive sum of squares", float(np.sum(x) / n), naive),
    ]
    for name, mean, var in rows:
        print(f"| {name} | {rel(mean, mean_np):.1e} | {var:.6f} | {rel(var, var_np):.1e} |")
    print(f"| numpy (reference) | 0 | {var_np:.6f} | 0 |")


if __name__ == "__main__":
    main()
