"""Labels at scale: writes, agreement and Dawid-Skene consensus over 100,000 items x 5 layers.

Side by side in one run:

* Dawid-Skene consensus through Assay (stream five layers out of the SQLite store into a label
  matrix, run crowd-kit) against crowd-kit called directly on the same labels already in an
  in-memory DataFrame: the ratio is what the store adds.
* Agreement through Assay (load + every statistic) against the same statistics on the
  in-memory matrix.
* Writing labels, SQLite: single writes (one durable transaction each, as the web app and the
  CLI do) and one bulk write of 100,000 labels, in labels per second.

    python benchmarks/bench_labels.py [--items 100000]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

import assay
from _common import fresh_dir, machine
from assay.ingest.staging import ImportJob, json_hash
from assay.labels.agreement import agreement
from assay.labels.consensus import consensus
from assay.labels.simulate import noisy_annotators
from assay.labels.writes import LabelWrite

N_ANNOTATORS = 5
N_CLASSES = 10
SINGLE_WRITES = 2_000


def build(n: int) -> tuple[assay.Dataset, np.ndarray, np.ndarray, float, float]:
    """A dataset of ``n`` items, their ids and true classes, and the wall and CPU seconds the
    five bulk writes took."""
    root = fresh_dir("labels")
    project = assay.init(root)
    classes = [f"c{k}" for k in range(N_CLASSES)]
    rng = np.random.default_rng(0)
    truth = rng.integers(0, N_CLASSES, n)
    with ImportJob(
        project.store,
        "bench",
        source="bench",
        format="bench",
        classes=classes,
        table_schema=[{"name": "x", "dtype": "number"}],
    ) as job:
        for i in range(n):
            job.add(
                {
                    "external_key": f"i{i}",
                    "kind": "tabular",
                    "fields": {"x": i},
                    "content_hash": json_hash({"x": i}),
                },
                where=i,
            )
        job.publish()
    ds = project.dataset("bench")
    with ds.store.read() as conn:
        import sqlalchemy as sa

        from assay.store import schema as t

        ids = np.array(
            conn.execute(
                sa.select(t.items.c.id).where(t.items.c.dataset_id == ds.id).order_by(t.items.c.id)
            )
            .scalars()
            .all()
        )
    codes = noisy_annotators(truth, N_CLASSES, N_ANNOTATORS, (0.95, 0.6), seed=1, missing=0.1)
    seconds = cpu = 0.0
    for j in range(N_ANNOTATORS):
        ds.create_layer(f"a{j}")
        writes = [
            LabelWrite(int(i), classes[int(c)])
            for i, c in zip(ids, codes[:, j], strict=True)
            if c >= 0
        ]
        start, cpu0 = time.perf_counter(), time.process_time()
        ds.set_labels(writes, layer=f"a{j}", author=f"annotator-{j}")
        seconds += time.perf_counter() - start
        cpu += time.process_time() - cpu0
    return ds, ids, truth, seconds, cpu


def best(fn, repeat: int = 3) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """The fastest of ``repeat`` runs, and the result of the last."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    n = args.items
    warnings.simplefilter("ignore")
    print(f"machine: {machine()}")
    ds, ids, truth, bulk_seconds, bulk_cpu = build(n)
    layers = [f"a{j}" for j in range(N_ANNOTATORS)]
    n_labels = sum(len(ds.label_matrix([layer]).item_ids) for layer in layers)

    matrix = ds.label_matrix(layers)
    frame = matrix.to_long()
    consensus(matrix, "majority-vote")  # import crowd-kit once, outside the timings

    def crowdkit_direct() -> object:
        from crowdkit.aggregation import DawidSkene

        return DawidSkene(n_iter=100, tol=1e-5).fit_predict(frame)

    t_direct, _ = best(crowdkit_direct)
    t_assay, result = best(lambda: ds.consensus(method="dawid-skene", layers=layers, into=None))
    t_load, _ = best(lambda: ds.label_matrix(layers))
    t_agree_mem, _ = best(lambda: agreement(matrix))
    t_agree, _ = best(lambda: ds.agreement(layers, reference="a0"))
    start = time.perf_counter()
    ds.consensus(method="dawid-skene", layers=layers, into="consensus")
    t_write_consensus = time.perf_counter() - start

    found = truth[np.searchsorted(ids, result.item_ids)]  # type: ignore[attr-defined]
    accuracy = float((result.label == found).mean())  # type: ignore[attr-defined]
    print(f"\n{n:,} items x {N_ANNOTATORS} layers ({n_labels:,} labels, 10% missing)\n")
    print("| step | Assay (from the store) | in memory | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| Dawid-Skene consensus | {t_assay:.2f} s | {t_direct:.2f} s (crowd-kit on a "
        f"DataFrame) | {t_assay / t_direct:.2f} |"
    )
    print(
        f"| agreement (all statistics) | {t_agree:.2f} s | {t_agree_mem:.2f} s (same code on "
        f"the matrix) | {t_agree / t_agree_mem:.2f} |"
    )
    print(f"| loading the label matrix alone | {t_load:.2f} s | - | - |")
    print(
        f"\nDawid-Skene accuracy against the truth: {accuracy:.4f}; writing the consensus "
        f"layer ({n:,} labels with confidence): {t_write_consensus:.2f} s"
    )

    # Writes: bulk (above) and single.
    items = ds.items(limit=100)[0]
    start = time.perf_counter()
    for k in range(SINGLE_WRITES):
        ds.set_label(
            items[k % len(items)]["id"],
            f"c{k % N_CLASSES}",
            layer="a0",
            author="bench",
            note="single",
        )
    t_single = time.perf_counter() - start
    print(
        f"\n| writes (SQLite, durable; load {os.getloadavg()[0]:.1f}) | labels | seconds | "
        "labels/s | labels per CPU-s |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    print(
        f"| single (one transaction each) | {SINGLE_WRITES:,} | {t_single:.2f} | "
        f"{SINGLE_WRITES / t_single:,.0f} | - |"
    )
    print(
        f"| bulk ({N_ANNOTATORS} writes of about {n_labels // N_ANNOTATORS:,}) | {n_labels:,} "
        f"| {bulk_seconds:.2f} | {n_labels / bulk_seconds:,.0f} | {n_labels / bulk_cpu:,.0f} |"
    )


if __name__ == "__main__":
    main()
