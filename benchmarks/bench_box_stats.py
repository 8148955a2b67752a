"""Statistics of a box layer against the whole inventory of the same dataset, side by side.

A dataset of N images (32 x 32 pixels) gets a box layer of 10 boxes per image, written with
bulk ``LabelWrite`` batches (10,000 images per transaction), plus a classification layer so
that the inventory has its usual class work too. Then, each in its own subprocess (so the
peak RSS is its own):

* ``box_statistics(ds, "boxes")``: the box layer alone (boxes per image, sizes in pixels and
  relative, aspect ratios, class balance, empty/unannotated images, edge boxes);
* ``ds.stats()``: the whole inventory (counts, splits, class balance and activity of every
  layer, image statistics, duplicates, and the box section of the box layer).

The ratio is box statistics / inventory.

    python benchmarks/bench_box_stats.py            # 100,000 images x 10 boxes = 1,000,000
    python benchmarks/bench_box_stats.py 10000      # other sizes (built on first use)
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import WORK, machine, run_measured

BOXES_PER_IMAGE = 10
SIZE = 32

BUILD = """
import time, numpy as np, assay
from assay.ingest.arrays import import_arrays
from assay.labels.writes import LabelWrite
n, per, size = {n}, {per}, {size}
project = assay.init({path!r})
classes = [str(c) for c in range(10)]
rng = np.random.default_rng(0)
start = time.perf_counter()
def batches():
    for lo in range(0, n, 10_000):
        k = min(10_000, n - lo)
        images = rng.integers(0, 256, size=(k, size, size), dtype=np.uint8)
        yield images, [classes[(lo + i) % 10] for i in range(k)]
import_arrays(project.store, batches(), dataset="boxes", source="bench", format="bench",
              total=n, classes=classes)
imported = time.perf_counter() - start
ds = project.dataset("boxes")
ds.create_layer("boxes", value_kind="boxes")
ids = [r[0] for r in project.store.engine.connect().exec_driver_sql(
    "SELECT id FROM items ORDER BY id").all()]
start = time.perf_counter()
for lo in range(0, n, 10_000):
    writes = []
    for item in ids[lo:lo + 10_000]:
        xy = rng.uniform(0, size - 9, size=(per, 2))
        wh = rng.uniform(2, 8, size=(per, 2))
        cls = rng.integers(0, 10, size=per)
        writes.append(LabelWrite(item, [
            {{"class": classes[c], "x": float(x), "y": float(y), "w": float(w), "h": float(h)}}
            for (x, y), (w, h), c in zip(xy.tolist(), wh.tolist(), cls.tolist())
        ]))
    ds.set_labels(writes, layer="boxes", author="bench")
written = time.perf_counter() - start
result = {{"import_s": imported, "labels_s": written}}
"""

BOXES = """
import time, assay
from assay.stats.boxes import box_statistics
ds = assay.open({path!r}).dataset("boxes")
start = time.perf_counter()
s = box_statistics(ds, "boxes")
elapsed = time.perf_counter() - start
assert s["n_boxes"] == {n} * {per}, s["n_boxes"]
result = {{"seconds": elapsed}}
"""

INVENTORY = """
import time, assay
ds = assay.open({path!r}).dataset("boxes")
start = time.perf_counter()
inv = ds.stats().to_dict()
elapsed = time.perf_counter() - start
assert inv["n_items"] == {n}
layer = next(x for x in inv["layers"] if x["name"] == "boxes")
assert layer["boxes"]["n_boxes"] == {n} * {per}
result = {{"seconds": elapsed}}
"""


def prepare(n: int) -> Path:
    """The project with n images and n x 10 boxes (built once, reused afterwards)."""
    path = WORK / f"box_stats_{n}"
    if not (path / "assay.db").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        built = run_measured(BUILD.format(path=str(path), n=n, per=BOXES_PER_IMAGE, size=SIZE))
        boxes = n * BOXES_PER_IMAGE
        print(
            f"Built {n:,} images in {built['import_s']:.1f} s and wrote {boxes:,} boxes in "
            f"{built['labels_s']:.1f} s ({boxes / built['labels_s']:,.0f} boxes/s)\n"
        )
    return path


def main(sizes: list[int]) -> None:
    print(f"Machine: {machine()}\n")
    rows = []
    for n in sizes:
        path = prepare(n)
        args = {"path": str(path), "n": n, "per": BOXES_PER_IMAGE}
        ours = run_measured(BOXES.format(**args))
        inv = run_measured(INVENTORY.format(**args))
        rows.append((n, ours, inv))
    print(
        "| images | boxes | box statistics s | boxes/s | peak RSS (MiB) "
        "| inventory s | peak RSS (MiB) | ratio |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, ours, inv in rows:
        boxes = n * BOXES_PER_IMAGE
        print(
            f"| {n:,} | {boxes:,} | {ours['seconds']:.2f} | {boxes / ours['seconds']:,.0f} | "
            f"{ours['peak_rss_mib']:,.0f} | {inv['seconds']:.2f} | {inv['peak_rss_mib']:,.0f} | "
            f"{ours['seconds'] / inv['seconds']:.2f} |"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000])
