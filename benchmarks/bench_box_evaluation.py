"""Box evaluation at 10,000 images of ~4 boxes: ours (``ds.models.evaluate`` of a box layer:
read both layers from the store, COCO metrics by faster-coco-eval, PR curves, the false
positives and negatives explained, the confusion of boxes) against calling faster-coco-eval
and pycocotools directly on the same boxes already in memory (COCO dicts built once, outside
the timing), side by side in one run. The metrics are checked equal.

The dataset ``scenes_<n>`` (digit scenes of 1-7 digits, truth layer ``boxes``, a model layer
``pred``: the truth jittered, 15 % dropped, 10 % with the wrong class, 30 % of images with a
spurious box, seeded) is made once in benchmarks/_work/box_eval (SQLite; box_eval_pg with a
PostgreSQL URL). Each figure is the median of 3 runs.

    python benchmarks/bench_box_evaluation.py              # 10,000 images
    python benchmarks/bench_box_evaluation.py 2000         # another size
    python benchmarks/bench_box_evaluation.py 10000 postgresql://user@host/db
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import assay
from _common import WORK, machine
from assay.ingest.arrays import import_arrays
from assay.labels.scenes import make_scenes
from assay.labels.writes import LabelWrite
from assay.models import box_evaluation

RUNS = 3


def predictions(truth: list[list[dict[str, Any]]], seed: int = 0) -> list[list[dict[str, Any]]]:
    """A middling detector's boxes for ``truth`` (as tests/boxpredkit.py makes them)."""
    rng = np.random.default_rng(seed)
    out = []
    for boxes in truth:
        preds = []
        for b in boxes:
            if rng.random() < 0.15:
                continue
            x = float(np.clip(b["x"] + rng.normal(0, 1.5), 0, 94))
            y = float(np.clip(b["y"] + rng.normal(0, 1.5), 0, 94))
            name, score = b["class"], float(rng.uniform(0.5, 1.0))
            if rng.random() < 0.1:
                name, score = str((int(name) + 1) % 10), float(rng.uniform(0.2, 0.9))
            preds.append({"class": name, "x": x, "y": y, "w": float(min(b["w"], 96 - x)),
                          "h": float(min(b["h"], 96 - y)), "score": score})  # fmt: skip
        if rng.random() < 0.3:
            x, y = (float(v) for v in rng.uniform(0, 76, 2))
            preds.append({"class": str(rng.integers(0, 10)), "x": x, "y": y, "w": 16.0,
                          "h": 16.0, "score": float(rng.uniform(0.0, 0.8))})  # fmt: skip
        out.append(preds)
    return out


def prepare(n: int, db: str | None) -> assay.Dataset:
    """The dataset ``scenes_<n>`` with its ``boxes`` and ``pred`` layers, made once."""
    project = assay.init(WORK / ("box_eval" if db is None else "box_eval_pg"), db=db)
    name = f"scenes_{n}"
    if name in [d["name"] for d in project.datasets()]:
        return project.dataset(name)
    start = time.perf_counter()
    scenes = make_scenes(n, max_digits=7, seed=0)
    import_arrays(
        project.store, [(scenes.images, [None] * n)], dataset=name, source="scenes",
        format="scenes", classes=scenes.classes,
    )  # fmt: skip
    ds = project.dataset(name)
    ids: list[int] = []
    after = None
    while True:  # every item id, a page at a time
        rows, after = ds.items(after=after, limit=1000)
        ids += [int(r["id"]) for r in rows]
        if after is None:
            break
    for layer, per_image, kind in [("boxes", scenes.boxes, "human"),
                                   ("pred", predictions(scenes.boxes), "model")]:  # fmt: skip
        ds.create_layer(layer, kind=kind, value_kind="boxes")
        ds.set_labels([LabelWrite(i, b) for i, b in zip(ids, per_image, strict=True)],
                      layer=layer, author="bench")  # fmt: skip
    print(f"made {name} in {time.perf_counter() - start:.0f} s", flush=True)
    return ds


def median_time(
    fn: Callable[..., Any], setup: Callable[[], tuple[Any, ...]] | None = None
) -> tuple[tuple[float, float], Any]:
    """Median (wall, CPU) seconds of ``fn`` over :data:`RUNS` runs (``setup``'s fresh
    arguments, made outside the timing: COCO's loaders mutate the dicts they are given), and
    its last answer. CPU time is this process's: on a shared machine it is the steadier one."""
    walls, cpus, out = [], [], None
    for _ in range(RUNS):
        args = setup() if setup is not None else ()
        start, cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return (statistics.median(walls), statistics.median(cpus)), out


def faster_coco_eval(gt: dict[str, Any], results: list[dict[str, Any]]) -> list[float]:
    from faster_coco_eval import COCO, COCOeval_faster

    def quiet(*a: Any, **k: Any) -> None:
        del a, k

    coco_gt = COCO(gt, print_function=quiet)
    ev = COCOeval_faster(coco_gt, coco_gt.loadRes(results), "bbox",
                         print_function=quiet)  # fmt: skip
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return [float(v) for v in ev.stats[:3]]


def pycocotools(gt: dict[str, Any], results: list[dict[str, Any]]) -> list[float]:
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(v) for v in ev.stats[:3]]


def main() -> None:
    args = sys.argv[1:]
    n = int(args[0]) if args and args[0].isdigit() else 10_000
    db = next((a for a in args if "://" in a), None)
    ds = prepare(n, db)
    print(machine())
    with ds.store.read() as conn:
        load_s, (data, _) = median_time(
            lambda: box_evaluation.load_boxes(conn, ds.id, "boxes", "pred", None)
        )
    classes = [str(c) for c in range(10)]
    n_truth = sum(len(b) for b in data.truth)
    n_pred = sum(len(b) for b in data.predicted)
    ours_s, ours = median_time(
        lambda: box_evaluation.evaluate_boxes(ds, "pred", reference_layer="boxes")
    )
    metrics_s, _ = median_time(lambda: box_evaluation.evaluate_data(data, classes))
    gt, results, _, _ = box_evaluation.coco_dicts(data, classes)
    fresh = lambda: copy.deepcopy((gt, results))  # noqa: E731
    fce_s, fce = median_time(faster_coco_eval, fresh)
    pct_s, pct = median_time(pycocotools, fresh)
    assert np.allclose([ours["map"], ours["ap50"], ours["ap75"]], pct, atol=1e-9), (ours, pct)
    assert np.allclose(fce, pct, atol=1e-9)
    print(f"{n:,} images, {n_truth:,} truth boxes, {n_pred:,} predicted "
          f"({'SQLite' if db is None else 'PostgreSQL'}); mAP {ours['map']:.4f}, "
          f"AP50 {ours['ap50']:.4f} (= pycocotools)")  # fmt: skip
    print(f"{'step':<58} {'wall s':>7} {'CPU s':>7} {'CPU ratio':>9}")
    rows = [
        ("ours: evaluate_boxes (store read + COCO + errors)", ours_s),
        ("  of which: read both layers from the store", load_s),
        ("  of which: metrics, PR curves, FP/FN on loaded boxes", metrics_s),
        ("faster-coco-eval directly (boxes in memory)", fce_s),
        ("pycocotools directly (boxes in memory)", pct_s),
    ]
    for label, (wall, cpu) in rows:
        print(f"{label:<58} {wall:>7.2f} {cpu:>7.2f} {cpu / fce_s[1]:>8.2f}x")
    print(
        f"CPU time: ours {pct_s[1] / ours_s[1]:.1f}x faster than pycocotools, "
        f"{ours_s[1] / fce_s[1]:.2f}x faster-coco-eval's own time (it reads the store and "
        "explains every error besides)"
    )


if __name__ == "__main__":
    main()
