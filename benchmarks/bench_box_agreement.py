"""Agreement and consensus of box layers: 3 annotators over 10,000 images (~4 boxes each).

Side by side in one run, on the same SQLite store:

* agreement through Assay, end to end (``ds.agreement``): load the three layers' box sets out
  of the store and compute every pairwise figure (F1 at IoU 0.5, mean IoU, class agreement,
  Cohen's kappa, per class) and each layer against every other layer (the default reference);
  then with each layer rated against the WBF fusion of the other two (leave-one-out,
  ``reference="wbf"``: one ensemble-boxes call per image and layer);
* the same pairwise figures computed the obvious way, one ``match_boxes`` call (IoU matrix +
  Hungarian) per image and pair in a Python loop, on the box sets already in memory: the
  ratio is what the vectorized matching buys;
* consensus by weighted boxes fusion (ensemble-boxes, one call per image), computed only, and
  computed and written into a consensus layer.

    python benchmarks/bench_box_agreement.py [--images 10000]

Wall and CPU seconds are both printed: on a shared machine the CPU time is the cost.
"""

from __future__ import annotations

import argparse
import time
from itertools import combinations
from typing import Any

import numpy as np

import assay
from _common import fresh_dir, machine
from assay.ingest.staging import ImportJob, json_hash
from assay.labels.kinds.boxes import match_boxes
from assay.labels.load import load_values
from assay.labels.scenes import BoxNoise, Scenes, simulate_box_annotators
from assay.labels.writes import LabelWrite

SIZE = 96
ANNOTATORS = {"alice": BoxNoise(), "bob": BoxNoise(miss=0.1, swap=0.1), "carol": BoxNoise()}


def truth_boxes(n: int, seed: int = 0) -> list[list[dict[str, Any]]]:
    """2-6 boxes per image (mean 4), 12-30 pixels a side, anywhere on a 96 x 96 image."""
    rng = np.random.default_rng(seed)
    out = []
    for k in rng.integers(2, 7, n).tolist():
        side = rng.uniform(12, 30, (k, 2))
        corner = rng.uniform(0, 1, (k, 2)) * (SIZE - side)
        cls = rng.integers(0, 10, k)
        out.append(
            [
                {"class": str(c), "x": float(x), "y": float(y), "w": float(w), "h": float(h)}
                for (x, y), (w, h), c in zip(
                    corner.tolist(), side.tolist(), cls.tolist(), strict=True
                )
            ]
        )
    return out


def build(n: int) -> tuple[assay.Dataset, dict[str, float]]:
    """A dataset of ``n`` 96 x 96 images and three annotators' box layers."""
    project = assay.init(fresh_dir("box_agreement"))
    with ImportJob(project.store, "boxes", source="bench", format="bench",
                   classes=[str(c) for c in range(10)]) as job:  # fmt: skip
        for i in range(n):
            job.add(
                {"external_key": f"i{i}", "kind": "image", "width": SIZE, "height": SIZE,
                 "content_hash": json_hash({"i": i})},
                where=i,
            )  # fmt: skip
        job.publish()
    ds = project.dataset("boxes")
    ids = [int(r["id"]) for r in ds.items(limit=n)[0]]
    while len(ids) < n:
        page, _ = ds.items(limit=n, after=ids[-1])
        ids += [int(r["id"]) for r in page]
    truth = truth_boxes(n)
    # simulate_box_annotators reads only the image size from ``images``.
    fake = Scenes(np.broadcast_to(np.zeros((1, 1, 1), np.uint8), (n, SIZE, SIZE)), truth,
                  [str(c) for c in range(10)])  # fmt: skip
    simulated = simulate_box_annotators(fake, ANNOTATORS, seed=0)
    times = {}
    for name, per_image in simulated.labels.items():
        ds.create_layer(name, value_kind="boxes", owner=name)
        start = time.perf_counter()
        for s in range(0, n, 5_000):
            ds.set_labels(
                [LabelWrite(i, b) for i, b in zip(ids[s : s + 5_000], per_image[s : s + 5_000],
                                                  strict=True)],
                layer=name, author=name,
            )  # fmt: skip
        times[f"write {name}"] = time.perf_counter() - start
    return ds, times


def loop_agreement(values: dict[str, dict[int, Any]]) -> dict[tuple[str, str], float]:
    """F1 at IoU 0.5 per pair, one match_boxes call per image and pair (the baseline)."""
    out = {}
    for a, b in combinations(values, 2):
        matched = n_a = n_b = 0
        for item_id, boxes_a in values[a].items():
            boxes_b = values[b].get(item_id)
            if boxes_b is None:
                continue
            matched += len(match_boxes(boxes_a, boxes_b))
            n_a, n_b = n_a + len(boxes_a), n_b + len(boxes_b)
        out[(a, b)] = 2 * matched / (n_a + n_b)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    n = args.images
    layers = list(ANNOTATORS)
    start = time.perf_counter()
    ds, writes = build(n)
    print(f"{machine()}\n{n:,} images, built in {time.perf_counter() - start:.1f} s")
    for what, s in writes.items():
        print(f"  {what}: {s:.2f} s ({n / s:,.0f} box sets/s)")

    # The libraries' first import (scikit-learn, scipy, ensemble-boxes: ~2 s) is a process's
    # once, not the agreement's: done before timing.
    import ensemble_boxes  # noqa: F401
    import scipy.optimize  # noqa: F401
    import sklearn.metrics  # noqa: F401

    with ds.store.read() as conn:
        (kind, table), t_load = timed(lambda: load_values(conn, ds.id, layers))
    n_boxes = sum(len(b) for per in table.values.values() for b in per.values())
    pairwise, t_pairs = timed(lambda: kind.agreement(table, reference=None).to_dict())
    # Load + pairwise + each layer against every other layer (the default reference).
    full, t_full = timed(lambda: ds.agreement(layers).to_dict())
    # Each layer against the WBF fusion of the two others (leave-one-out): 3 x 10k fusions.
    loo, t_loo = timed(lambda: ds.agreement(layers, reference="wbf").to_dict())
    baseline, t_loop = timed(lambda: loop_agreement(table.values))
    for p in pairwise["pairwise"]:
        assert abs(baseline[(p["a"], p["b"])] - p["f1"]) < 1e-12, (p, baseline)
    fused, t_fuse = timed(lambda: ds.consensus(method="wbf", layers=layers, into=None).summary())
    _, t_write = timed(lambda: ds.consensus(method="wbf", layers=layers, into="consensus"))

    print(f"{n_boxes:,} boxes in 3 layers ({n_boxes / (3 * n):.1f} per image and layer)")
    print(f"  {'':<66} {'wall':>8} {'CPU':>8}")
    rows = [
        ("load 3 layers from the store", t_load),
        ("pairwise agreement (vectorized), in memory", t_pairs),
        ("ds.agreement (load + pairwise + each layer against the others)", t_full),
        ("ds.agreement(reference='wbf'): leave-one-out WBF of the others", t_loo),
        ("baseline: match_boxes per image and pair (Python loop)", t_loop),
        ("ds.consensus wbf, computed (into=None)", t_fuse),
        ("ds.consensus wbf, computed and written", t_write),
    ]
    for what, (wall, cpu) in rows:
        print(f"  {what:<66} {wall:7.2f}s {cpu:7.2f}s")
    print(f"  vectorized pairwise vs per-image loop: {t_loop[1] / t_pairs[1]:.1f}x less CPU")
    for p in pairwise["pairwise"]:
        print(f"  {p['a']}-{p['b']}: F1@0.5 {p['f1']:.3f}, mean IoU {p['mean_iou']:.3f}, "
              f"class agreement {p['class_agreement']:.3f}")  # fmt: skip
    for q, w in zip(full["layer_quality"], loo["layer_quality"], strict=True):
        print(f"  {q['layer']}: F1 {q['f1']:.3f} against the others, {w['f1']:.3f} against "
              "their WBF")  # fmt: skip
    conf = fused["mean_confidence"]
    print(f"  consensus: {fused['n_boxes']:,} boxes, mean confidence {conf:.3f}")


def timed(fn: Any) -> tuple[Any, tuple[float, float]]:
    """``fn()`` and its (wall, CPU) seconds: the CPU time of this process is what the
    computation costs even on a machine others share."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, (time.perf_counter() - w0, time.process_time() - c0)


if __name__ == "__main__":
    main()
