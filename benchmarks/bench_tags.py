"""Tags (multi-label): import speed and memory, and label issues against cleanlab, in one run.

1. **Import**: N items (a CSV of keys and one number, imported as a table first, not timed
   here), then their tags (20 tags, 0 to 5 per row, ~2.5 on average) imported onto them
   with ``Dataset.import_tags`` from a CSV list column (``a|b|c``) and from Parquet (a list
   column), each in a fresh subprocess: wall seconds, labels/s (a label is one row's tag
   set), labels per CPU-second and the peak RSS, so flat memory shows as a flat column.
2. **Label issues**: the demo's tags (``assay.demo.tags``: even, prime, big, loop of each of
   scikit-learn's 1,797 digits) with errors injected into 10 % of the items (a tag dropped,
   or, one time in three, a wrong tag added: forgetting is the common error), out-of-fold
   probabilities from the built-in one-vs-rest logistic regression on the pixels
   (``assay.quality.tags.out_of_fold_tags``), then precision and recall of the flagged items
   against the injected ones: ours (``find_tag_issues``, each method) and cleanlab's
   ``multilabel_classification.filter.find_label_issues`` called directly on the same
   probabilities, side by side.

    PYTHONPATH=src python benchmarks/bench_tags.py                 # 100,000 and 1,000,000
    PYTHONPATH=src python benchmarks/bench_tags.py 20000 100000    # other sizes
    PYTHONPATH=src python benchmarks/bench_tags.py --issues-only
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from _common import fresh_dir, machine, run_measured

N_TAGS = 20
SRC = str(Path(__file__).resolve().parent.parent / "src")

SETUP = """
import sys, time, resource
sys.path.insert(0, {src!r})
import assay
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
"""

ITEMS = (
    SETUP
    + """
project = assay.init({path!r})
start = time.perf_counter()
r = project.import_path({items!r}, dataset="bench", key_column="key")
result = {{"seconds": time.perf_counter() - start, "n": r.n_new_items}}
"""
)

TAGS = (
    SETUP
    + """
project = assay.open({path!r})
ds = project.dataset("bench")
start, c0 = time.perf_counter(), cpu()
done = ds.import_tags({file!r}, layer={layer!r}, key_column="key", tags_column="tags",
                      add_classes=True)
elapsed = time.perf_counter() - start
assert done["n_new_labels"] == {n}, done
result = {{"seconds": elapsed, "labels_per_s": {n} / elapsed, "cpu_s": cpu() - c0}}
"""
)


def write_files(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path, Path]:
    """The items CSV, and the tags as CSV (``a|b``) and Parquet (a list column)."""
    rng = np.random.default_rng(seed)
    names = [f"tag{k:02d}" for k in range(N_TAGS)]
    items, csv_path, pq_path = folder / "items.csv", folder / "tags.csv", folder / "tags.parquet"
    writer = None
    with items.open("w") as fi, csv_path.open("w") as ft:
        fi.write("key,x\n")
        ft.write("key,tags\n")
        for start in range(0, n, 100_000):
            stop = min(n, start + 100_000)
            keys = [f"item{i:07d}" for i in range(start, stop)]
            xs = rng.normal(size=stop - start)
            counts = rng.integers(0, 6, size=stop - start)
            sets = [
                [names[k] for k in sorted(rng.choice(N_TAGS, c, replace=False))] for c in counts
            ]
            fi.write("".join(f"{k},{x:.4f}\n" for k, x in zip(keys, xs, strict=True)))
            ft.write("".join(f"{k},{'|'.join(s)}\n" for k, s in zip(keys, sets, strict=True)))
            table = pa.table({"key": keys, "tags": pa.array(sets, pa.list_(pa.string()))})
            if writer is None:
                writer = pq.ParquetWriter(pq_path, table.schema)
            writer.write_table(table)
    assert writer is not None
    writer.close()
    return items, csv_path, pq_path


def bench_import(n: int) -> None:
    folder = fresh_dir(f"tags-{n}")
    items, csv_path, pq_path = write_files(folder, n)
    path = str(folder / "project")
    made = run_measured(ITEMS.format(src=SRC, path=path, items=str(items)), timeout_s=3600)
    print(f"\n{n:,} rows: items imported first in {made['seconds']:.1f} s (not counted)")
    print(
        f"{'source':<22}{'wall s':>9}{'labels/s':>12}{'labels/CPU-s':>14}{'peak RSS MiB':>14}"
        f"{'load':>6}"
    )
    for name, file, layer in (("CSV list column", csv_path, "csv"),
                              ("Parquet list column", pq_path, "parquet")):  # fmt: skip
        r = run_measured(TAGS.format(src=SRC, path=path, file=str(file), layer=layer, n=n),
                         timeout_s=3600)  # fmt: skip
        print(f"{name:<22}{r['seconds']:>9.1f}{r['labels_per_s']:>12,.0f}"
              f"{n / r['cpu_s']:>14,.0f}{r['peak_rss_mib']:>14,.0f}"
              f"{os.getloadavg()[0]:>6.1f}")  # fmt: skip


def bench_issues(rate: float = 0.1, seed: int = 0) -> None:
    from cleanlab.multilabel_classification.filter import find_label_issues
    from sklearn.datasets import load_digits

    from assay.demo.tags import TAGS as DEMO_TAGS
    from assay.demo.tags import digit_tags
    from assay.quality.tags import TAG_METHODS, find_tag_issues, out_of_fold_tags

    bunch = load_digits()
    X = bunch.data / 16.0
    truth = np.array([[t in digit_tags(int(d)) for t in DEMO_TAGS] for d in bunch.target], int)
    rng = np.random.default_rng(seed)
    noisy = truth.copy()
    wrong = rng.choice(len(noisy), int(rate * len(noisy)), replace=False)
    for i in wrong:
        given = np.flatnonzero(noisy[i])
        if len(given) and rng.random() < 2 / 3:
            noisy[i, rng.choice(given)] = 0  # forgotten
        else:
            absent = np.flatnonzero(noisy[i] == 0)
            noisy[i, rng.choice(absent)] = 1  # added
    start = time.perf_counter()
    probs = out_of_fold_tags(X, noisy, folds=5, seed=seed)
    oof_s = time.perf_counter() - start
    labels = [list(np.flatnonzero(row)) for row in noisy]
    injected = np.zeros(len(noisy), bool)
    injected[wrong] = True

    def score(flags: np.ndarray) -> str:
        tp = int((flags & injected).sum())
        precision = tp / max(int(flags.sum()), 1)
        recall = tp / int(injected.sum())
        return f"{int(flags.sum()):>8}{precision:>11.3f}{recall:>8.3f}"

    print(f"\nLabel issues: {len(noisy)} digits, tags {', '.join(DEMO_TAGS)}, "
          f"{len(wrong)} items with an injected error ({rate:.0%}); out-of-fold one-vs-rest "
          f"logistic regression in {oof_s:.1f} s")  # fmt: skip
    print(f"{'checker':<48}{'flagged':>8}{'precision':>11}{'recall':>8}{'s':>7}")
    start = time.perf_counter()
    direct = np.asarray(find_label_issues(labels, probs), bool)
    print(f"{'cleanlab find_label_issues (called directly)':<48}{score(direct)}"
          f"{time.perf_counter() - start:>7.2f}")  # fmt: skip
    for method in TAG_METHODS:
        start = time.perf_counter()
        found = find_tag_issues(labels, probs, list(DEMO_TAGS), method)
        print(f"{'assay find_tag_issues, method ' + method:<48}{score(found.is_issue)}"
              f"{time.perf_counter() - start:>7.2f}")  # fmt: skip
    # The suspects name the injected tag: how often the first suspect is the tag at fault.
    found = find_tag_issues(labels, probs, list(DEMO_TAGS), "cleanlab")
    hits = [i for i in wrong if found.is_issue[i]]
    named = sum(
        1 for i in hits
        if found.suspects[i][0]["tag"] == DEMO_TAGS[int(np.flatnonzero(noisy[i] != truth[i])[0])]
    )  # fmt: skip
    print(f"first suspect tag is the injected one on {named} of {len(hits)} caught items")


def main() -> None:
    print(machine())
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--issues-only" not in sys.argv:
        for n in [int(a) for a in args] or [100_000, 1_000_000]:
            bench_import(n)
    bench_issues()


if __name__ == "__main__":
    main()
