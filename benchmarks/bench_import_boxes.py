"""Import of a COCO file (N tiny PNG images, 10 boxes each) into SQLite, and FiftyOne's COCO
import of the same file in the same run.

Reports, per size: the whole import (images read + items + boxes, one publishing
transaction) in boxes/s, the boxes alone onto the existing images (``Dataset.import_boxes``
into a second layer: what a second annotator's file costs), the ratio of the two (per
CPU-second: what reading the images adds), the plain import of the same images as an image
folder (``assay import DIR``) in images/s, and the peak RSS of each, so flat memory shows as
a flat column. Wall-clock figures depend on what else the machine runs (the load average is
printed); boxes per CPU-second (the import's processes, its image readers and writer
included) much less. The images are 256 distinct 32x32 PNGs written round-robin (every image
is still read, hashed and decoded by the importer).

    PYTHONPATH=src python benchmarks/bench_import_boxes.py                 # 10,000 and 100,000
    PYTHONPATH=src python benchmarks/bench_import_boxes.py 2000 20000      # other sizes
    ... --fiftyone /tmp/fo/bin/python   # a Python with fiftyone installed (default: skipped)
    ... --stream | --in-memory          # read the COCO file with ijson | orjson whatever its
                                        # size (default: orjson up to 64 MB, msgspec with raw
                                        # annotations up to 1 GiB, ijson beyond)
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from _common import ROOT, WORK, fresh_dir, machine

BOXES_PER_IMAGE = 10
SIDE = 32
SRC = str(ROOT.parent / "src")

ASSAY = """
import time, assay, assay.ingest.coco
{stream}
project = assay.init({path!r})
start, c0 = time.perf_counter(), cpu()
r = project.import_path({json!r}, dataset="coco", images={images!r})
elapsed = time.perf_counter() - start
assert r.n_new_items == {n} and r.n_new_labels == {n}, r
result = {{"seconds": elapsed, "boxes_per_s": {boxes} / elapsed, "cpu_s": cpu() - c0}}
"""

ONTO = """
import time, assay, assay.ingest.coco
{stream}
project = assay.open({path!r})
start, c0 = time.perf_counter(), cpu()
done = project.dataset("coco").import_boxes({json!r}, layer="second")
elapsed = time.perf_counter() - start
assert done["n_new_labels"] == {n}, done
result = {{"seconds": elapsed, "boxes_per_s": {boxes} / elapsed, "cpu_s": cpu() - c0}}
"""

FOLDER = """
import time, assay
project = assay.open({path!r})
start, c0 = time.perf_counter(), cpu()
r = project.import_path({images!r}, dataset="folder")
elapsed = time.perf_counter() - start
assert r.n_new_items == {n}, r
result = {{"seconds": elapsed, "boxes_per_s": {n} / elapsed, "cpu_s": cpu() - c0}}
"""

FIFTYONE = """
import time, fiftyone as fo
start, c0 = time.perf_counter(), cpu()
ds = fo.Dataset.from_dir(
    dataset_type=fo.types.COCODetectionDataset, data_path={images!r}, labels_path={json!r},
    label_types=["detections"], name="bench-{n}", overwrite=True,
)
elapsed = time.perf_counter() - start
assert len(ds) == {n}, len(ds)
ds.delete()
result = {{"seconds": elapsed, "boxes_per_s": {boxes} / elapsed, "cpu_s": cpu() - c0}}
"""


def run(code: str, python: str = sys.executable, timeout_s: float = 1800) -> dict[str, Any]:
    """Run ``code`` in a fresh process (its own peak RSS, with any writer it forks)."""
    wrapper = (
        "import json, resource\n"
        "def cpu():\n"
        "    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage("
        "resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))\n"
        f"{code}\n"
        "peak = max(resource.getrusage(who).ru_maxrss for who in "
        "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
        "result['peak_rss_mib'] = peak / 1024\n"
        "print(json.dumps(result))\n"
    )
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.run(
        [python, "-c", wrapper],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def make_coco(n: int, folder: Path) -> tuple[Path, Path]:
    """``folder/images/{i}.png`` and ``folder/instances_bench.json`` with 10 boxes an image."""
    images = folder / "images"
    path = folder / "instances_bench.json"
    if path.exists():
        return path, images
    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pngs = []
    for _ in range(256):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (SIDE, SIDE), dtype=np.uint8)).save(buf, "PNG")
        pngs.append(buf.getvalue())
    for i in range(n):
        (images / f"{i}.png").write_bytes(pngs[i % 256])
    xy = rng.uniform(0, SIDE / 2, (n * BOXES_PER_IMAGE, 2)).round(2)
    wh = rng.uniform(1, SIDE / 2, (n * BOXES_PER_IMAGE, 2)).round(2)
    cats = rng.integers(1, 11, n * BOXES_PER_IMAGE)
    with open(path, "w") as f:
        f.write('{"categories":')
        f.write(json.dumps([{"id": c, "name": f"class{c}"} for c in range(1, 11)]))
        f.write(',"images":')
        f.write(
            json.dumps(
                [
                    {"id": i + 1, "file_name": f"{i}.png", "width": SIDE, "height": SIDE}
                    for i in range(n)
                ]
            )
        )
        f.write(',"annotations":[')
        parts = []
        for j in range(n * BOXES_PER_IMAGE):
            x, y = xy[j]
            w, h = wh[j]
            parts.append(
                f'{{"id":{j + 1},"image_id":{j // BOXES_PER_IMAGE + 1},"category_id":'
                f'{cats[j]},"bbox":[{x},{y},{w},{h}],"area":{w * h:.2f},"iscrowd":0}}'
            )
        f.write(",".join(parts))
        f.write("]}")
    return path, images


def cell(r: dict[str, Any], boxes: int) -> str:
    """boxes/s (wall s; boxes per CPU-second of the import, its readers and writer
    included) | RSS (or images, for the folder import)."""
    return (
        f"{r['boxes_per_s']:,.0f} ({r['seconds']:.1f} s; {boxes / r['cpu_s']:,.0f}/CPU-s) | "
        f"{r['peak_rss_mib']:,.0f}"
    )


def main(sizes: list[int], fiftyone: str | None, mode: str = "auto") -> None:
    print(f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f}; COCO read: {mode}\n")
    print(
        "| images | boxes | Assay import: images + boxes, boxes/s | peak RSS MiB | boxes onto "
        "the existing images, boxes/s | peak RSS MiB | full / boxes only, per CPU-s | image "
        "folder import, images/s | peak RSS MiB | FiftyOne COCO import, boxes/s | "
        "peak RSS MiB |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        boxes = n * BOXES_PER_IMAGE
        start = time.perf_counter()
        json_path, images = make_coco(n, WORK / f"coco_{n}")
        made = time.perf_counter() - start
        project = fresh_dir(f"coco_project_{n}")
        args = {"path": str(project), "json": str(json_path), "images": str(images)}
        # --stream / --in-memory: read the COCO file with ijson (flat memory) or orjson
        # (faster) whatever its size; by default files over IN_MEMORY_BYTES are streamed.
        limit = {"stream": "0", "memory": "1 << 40"}.get(mode)
        args["stream"] = (
            f"assay.ingest.coco.IN_MEMORY_BYTES = {limit}; assay.ingest.coco.RAW_BYTES = 0"
            if limit
            else ""
        )
        ours = run(ASSAY.format(**args, n=n, boxes=boxes))
        onto = run(ONTO.format(**args, n=n, boxes=boxes))
        folder = run(FOLDER.format(**args, n=n))
        ratio = (boxes / ours["cpu_s"]) / (boxes / onto["cpu_s"])
        ref = "not run |"
        if fiftyone:
            try:
                fo = run(FIFTYONE.format(**args, n=n, boxes=boxes), python=fiftyone)
                ref = cell(fo, boxes)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                ref = f"failed: {str(exc).strip().splitlines()[-1][:200]} |"
        row = (
            f"| {n:,} | {boxes:,} | {cell(ours, boxes)} | {cell(onto, boxes)} | {ratio:.2f} | "
            f"{cell(folder, n)} | {ref} |"
        )
        print(row, flush=True)
        print(f"<!-- data generated in {made:.0f} s -->", flush=True)


if __name__ == "__main__":
    argv = sys.argv[1:]
    fo_python = None
    if "--fiftyone" in argv:
        k = argv.index("--fiftyone")
        fo_python = argv[k + 1]
        del argv[k : k + 2]
    mode = "stream" if "--stream" in argv else "memory" if "--in-memory" in argv else "auto"
    argv = [a for a in argv if a not in ("--stream", "--in-memory")]
    main([int(a) for a in argv] or [10_000, 100_000], fo_python, mode)
