"""Active learning (issue 5): learning curves on digits and MNIST, labels to reach 95% of the
full-pool accuracy per strategy and their ratio to random sampling, and the time to rank a pool
of 1,000,000 items.

python benchmarks/bench_active.py              # everything (1.5-4 minutes on 2 cores)
python benchmarks/bench_active.py --only rank  # or: digits, mnist

The curves come from ``simulate_al`` on datasets imported into a fresh project, exactly as
``assay simulate-al`` runs them: the digits demo (1,797 images, 20% held out) and the real
MNIST test set (10,000 images: 8,000 pool, 2,000 held out), seeds 0-2, the loop's fast model
(logistic regression on 50 PCA components of the pixels). PNG plots are written beside this
script (active_curves_digits.png, active_curves_mnist.png).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from _common import MNIST, WORK, fresh_dir, machine

STRATEGIES = ["random", "least-confidence", "margin", "entropy", "diverse", "kcenter"]
DEFAULT = "diverse"  # what strategy="auto" uses once two classes are labeled
N_RANK = 1_000_000
DIM = 64
N_CLASSES = 10
BATCH_RANK = 1_000
N_LABELED = 1_000

CURVES = {
    # name: (seed_size, batch, rounds, holdout)
    "digits": (20, 10, 50, 0.2),
    "mnist": (20, 20, 60, 2000),
}


def curves(name: str) -> dict[str, Any]:
    """Simulate on ``name`` in a fresh project; print the table and write the plot."""
    import assay
    from assay.active import plot_curves, simulate_al

    root = fresh_dir(f"active_{name}")
    if name == "digits":
        from assay.demo import build_demo

        project = build_demo(root)
        ds = project.dataset("digits")
    else:
        if not MNIST.is_dir():
            raise SystemExit(f"MNIST test set not found at {MNIST}")
        project = assay.init(root)
        project.import_path(MNIST, dataset="mnist")
        ds = project.dataset("mnist")
    seed_size, batch, rounds, holdout = CURVES[name]
    start = time.perf_counter()
    result = simulate_al(
        ds,
        layer="ground_truth",
        strategies=STRATEGIES,
        seed_size=seed_size,
        batch=batch,
        rounds=rounds,
        holdout=holdout,
        seeds=[0, 1, 2],
    )
    elapsed = time.perf_counter() - start
    png = WORK.parent / f"active_curves_{name}.png"
    plot_curves(result, png, title=f"{name}: held-out accuracy vs labels (mean of 3 seeds)")
    project.close()
    _print_curves(name, result, elapsed, png.name)
    return {**result.to_dict(), "seconds": elapsed}


def _print_curves(name: str, result: Any, elapsed: float, png: str) -> None:
    full = [result.full_pool_accuracy[s] for s in result.seeds]
    budget = result.seed_size + result.batch * result.rounds
    print(
        f"\n### {name}: {result.n_pool:,} pool / {result.n_holdout:,} held out, seed set "
        f"{result.seed_size}, batch {result.batch}, {result.rounds} rounds (up to {budget} "
        f"labels), seeds 0-2, {elapsed:.0f} s\n"
    )
    print(
        f"Full-pool accuracy ({result.model}, {result.featurizer} features, 50 PCA "
        f"components): {', '.join(f'{a:.3f}' for a in full)}; target = 95% of it per seed. "
        f"Plot: `benchmarks/{png}`.\n"
    )
    print(
        "| strategy | labels to target, per seed | median | ratio vs random | "
        f"accuracy at {budget} labels |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    ratios = result.labels_ratio_vs_random()
    for strategy in result.strategies:
        per_seed = ", ".join(
            "—" if v is None else str(v) for v in result.labels_to_target(strategy)
        )
        median = result.median_labels_to_target(strategy)
        ratio = ratios[strategy]
        label = f"{strategy} (default)" if strategy == DEFAULT else strategy
        print(
            f"| {label} | {per_seed} | {'> ' + str(budget) if median is None else f'{median:g}'}"
            f" | {'—' if ratio is None else f'{ratio:.2f}'} | "
            f"{result.mean_curve(strategy)[1][-1]:.3f} |"
        )


def ranking() -> dict[str, float]:
    """Seconds to pick 1,000 of 1,000,000 synthetic items with each strategy."""
    from assay.active import strategies as st

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, size=(50, DIM)).astype(np.float32)
    X = (centres[rng.integers(0, 50, N_RANK)] + rng.normal(0, 0.5, (N_RANK, DIM))).astype(
        np.float32
    )
    logits = rng.normal(0, 2, size=(N_RANK, N_CLASSES))
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    labeled = centres[rng.integers(0, 50, N_LABELED)] + rng.normal(0, 0.5, (N_LABELED, DIM))
    out: dict[str, float] = {}
    for name in st.UNCERTAINTY:
        start = time.perf_counter()
        st.select(name, BATCH_RANK, pred_probs=probs)
        out[name] = time.perf_counter() - start
        start = time.perf_counter()
        st.rank(st.UNCERTAINTY_SCORES[name](probs))
        out[f"{name} (full ranking)"] = time.perf_counter() - start
    for name in ("diverse", "kcenter", "cold-start"):
        start = time.perf_counter()
        picked = st.select(
            name,
            BATCH_RANK,
            pred_probs=probs,
            X=X,
            X_labeled=labeled.astype(np.float32),
            random_state=0,
        )
        out[name] = time.perf_counter() - start
        assert len(picked) == BATCH_RANK
    print(
        f"\n### Ranking {N_RANK:,} items ({N_CLASSES}-class probabilities, {DIM}-d float32 "
        f"embeddings, {N_LABELED:,} labeled), batch of {BATCH_RANK:,}\n"
    )
    print("| strategy | seconds | target |")
    print("| --- | ---: | ---: |")
    for name, seconds in out.items():
        target = "< 10 s" if name.split(" ")[0] in st.UNCERTAINTY else "< 60 s"
        print(f"| {name} | {seconds:.2f} | {target} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["rank", "digits", "mnist"], default=None)
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    results: dict[str, Any] = {}
    start = time.perf_counter()
    if args.only in (None, "rank"):
        results["ranking_s"] = ranking()
    for name in ("digits", "mnist"):
        if args.only in (None, name):
            results[name] = curves(name)
    print(f"\nTotal {time.perf_counter() - start:.0f} s")
    WORK.mkdir(exist_ok=True)
    (WORK / "active.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
