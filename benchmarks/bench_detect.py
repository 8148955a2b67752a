"""The built-in detectors side by side (issue 17): ``components`` (blob proposals + logistic
regression, no torch) and ``centernet`` (a small CenterNet in plain PyTorch, from scratch on
CPU), trained on the same digit scenes and scored on the same held-out scenes.

python benchmarks/bench_detect.py                        # 500 training scenes, 200 held out
python benchmarks/bench_detect.py --train 200 --epochs 10   # quicker

Scenes come from ``assay.labels.scenes.make_scenes`` (96 x 96, 1-4 digits each; training
seed 1, held-out seed 2). A predicted box is right when the Hungarian matching
(``assay.labels.kinds.boxes.match_boxes``) pairs it with a true box at IoU >= 0.5 and of its
class; precision, recall and F1 count the boxes scored at least ``--score`` (and the best F1
over score thresholds is shown too). "located" is the recall with classes ignored. One run
of each, fixed seeds; the times are wall-clock on this machine.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from _common import machine
from assay.labels.scenes import make_scenes
from assay.models.detection.base import make_detector, torch_available
from assay.models.detection.cv import box_scores


def _best_f1(
    predicted: list[list[dict[str, Any]]], truth: list[list[dict[str, Any]]]
) -> tuple[float, float]:
    best = (0.0, 0.0)
    for threshold in np.arange(0.1, 0.95, 0.05):
        f1 = float(box_scores(predicted, truth, min_score=float(threshold))["f1"])
        best = max(best, (f1, float(threshold)))
    return best


def measure(
    name: str, params: dict[str, Any], train: Any, test: Any, score: float
) -> dict[str, Any]:
    detector = make_detector(name, seed=0, params=params)
    started = time.perf_counter()
    detector.fit(list(train.images), train.boxes, train.classes)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    predicted = detector.predict(list(test.images))
    predict_s = time.perf_counter() - started
    scores = box_scores(predicted, test.boxes, min_score=score)
    anyclass = box_scores(
        [[{**b, "class": "x"} for b in p] for p in predicted],
        [[{**b, "class": "x"} for b in t] for t in test.boxes],
        min_score=score,
    )
    best, at = _best_f1(predicted, test.boxes)
    per_image = 1000 * predict_s / len(test.images)
    return {
        "detector": name, "train_s": fit_s, "predict_ms_per_image": per_image,
        **{k: scores[k] for k in ("precision", "recall", "f1")}, "located": anyclass["recall"],
        "best_f1": best, "best_at": at,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=500, help="training scenes")
    parser.add_argument("--test", type=int, default=200, help="held-out scenes")
    parser.add_argument("--epochs", type=int, default=30, help="centernet epochs")
    parser.add_argument("--score", type=float, default=0.5, help="score threshold of P/R/F1")
    args = parser.parse_args()
    train, test = make_scenes(args.train, seed=1), make_scenes(args.test, seed=2)
    n_true = sum(len(b) for b in test.boxes)
    print(f"{machine()}\n{args.train} training scenes, {args.test} held-out scenes ({n_true} "
          f"boxes), IoU 0.5, score >= {args.score}\n")  # fmt: skip
    rows = [measure("components", {}, train, test, args.score)]
    if torch_available():
        rows.append(measure("centernet", {"epochs": args.epochs}, train, test, args.score))
    else:
        print("(torch is not installed: centernet skipped)")
    head = (f"{'detector':<11} {'train s':>8} {'predict ms/img':>15} {'precision':>9} "
            f"{'recall':>7} {'F1':>6} {'located':>8} {'best F1 (at score)':>19}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['detector']:<11} {r['train_s']:>8.1f} {r['predict_ms_per_image']:>15.2f} "
            f"{r['precision']:>9.3f} {r['recall']:>7.3f} {r['f1']:>6.3f} {r['located']:>8.3f} "
            f"{r['best_f1']:>12.3f} ({r['best_at']:.2f})"
        )
    if len(rows) == 2:
        a, b = rows
        print(f"\ncenternet / components: training time x{b['train_s'] / a['train_s']:.0f}, "
              f"prediction time x{b['predict_ms_per_image'] / a['predict_ms_per_image']:.1f}, "
              f"F1 {b['f1'] - a['f1']:+.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
