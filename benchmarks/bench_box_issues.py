"""Likely mislabeled boxes: precision and recall of the flagged boxes, per error kind, for each
box method of :mod:`assay.quality.boxes` and for cleanlab's ``object_detection.find_label_issues``
called directly on the same predictions, side by side in one run.

Data: digit scenes (``assay.labels.scenes.make_scenes``, 96 x 96, 1-4 digits each, the true
boxes known) labeled by one simulated annotator who misses boxes, shifts some and gives some a
wrong (often look-alike) class, every error recorded with its true box
(``simulate_box_annotators``). The predictions come from :data:`SOURCES` (a function of the
scenes, easy to swap): ``simulated`` is a good detector's output without training one (the
truth jittered, high scores, some misses, low-score runner-up classes and false positives;
:func:`assay.labels.scenes.simulate_predictions`). A real detector's out-of-fold boxes (``assay
predict --cv``) plug in as another source.

Scores, against the injected errors:

* per kind, **precision** (of the boxes flagged as that kind, the share that are an injected
  error of the matching kind: swapped <-> swapped, badly located <-> shifted, overlooked <->
  missed, an overlooked prediction matching the missed true box at IoU >= 0.5) and **recall**
  (of the injected errors of that kind, the share flagged as that kind);
* **overall** box precision/recall (a flagged box is right if it is an injected error of any
  kind at that box) and **image** precision/recall (an image is an issue if it holds any
  injected error): cleanlab's function flags images only, so it appears in the image columns;
  the ``cleanlab`` method flags exactly its images (checked in the run) and names the boxes;
* ``shifted*``: recall on the shifted boxes that overlap their true box at IoU < 0.7 (smaller
  shifts are within what annotators draw and no check can call them wrong).

    PYTHONPATH=src python benchmarks/bench_box_issues.py --n 1000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assay.labels.kinds.boxes import box_array, iou_matrix
from assay.labels.scenes import (
    BoxNoise,
    Scenes,
    make_scenes,
    simulate_box_annotators,
    simulate_predictions,
)
from assay.quality.boxes import BOX_METHODS, cleanlab_od, find_box_issues, to_cleanlab

NOISE = BoxNoise(miss=0.06, shift=0.08, shift_by=0.35, swap=0.06, spurious=0.0)
KIND_OF = {"swapped": "swapped", "badly_located": "shifted", "overlooked": "missed"}

Boxes = list[list[dict[str, Any]]]
SOURCES: dict[str, Callable[[Scenes, int], Boxes]] = {
    "simulated": lambda scenes, seed: simulate_predictions(scenes.boxes, seed=seed + 1),
    # A weaker detector: boxes twice as far off, more misses and false positives.
    "rough": lambda scenes, seed: simulate_predictions(
        scenes.boxes, jitter=0.08, miss=0.1, false_positive=0.3, seed=seed + 1
    ),
    # Real ones: out-of-fold boxes of a built-in detector trained on the noisy labels it is
    # then asked to check (as `assay predict --cv 5` gives them).
    "components-cv": lambda scenes, seed: detector_cv(scenes, seed, "components"),
    "centernet-cv": lambda scenes, seed: detector_cv(scenes, seed, "centernet"),
}
FOLDS = 5


def detector_cv(scenes: Scenes, seed: int, name: str) -> Boxes:
    """Out-of-fold predicted boxes of detector ``name`` trained on the noisy labels."""
    from assay.models.detection.base import make_detector

    labels, _, _ = noisy_labels(scenes, seed)
    n = len(scenes.images)
    fold = np.random.default_rng(seed).permutation(n) % FOLDS
    out: Boxes = [[] for _ in range(n)]
    for k in range(FOLDS):
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        detector = make_detector(name, seed=seed).fit(
            [scenes.images[i] for i in train], [labels[i] for i in train], scenes.classes
        )
        for i, boxes in zip(test, detector.predict([scenes.images[i] for i in test]), strict=True):
            out[int(i)] = [{**b, "id": j + 1} for j, b in enumerate(boxes)]
    return out


def noisy_labels(scenes: Scenes, seed: int) -> tuple[Boxes, list[list[int | None]], set[Any]]:
    """The annotator's boxes (with ids), the true box index of each, and the errors as
    (image, kind, true index)."""
    sim = simulate_box_annotators(scenes, {"a": NOISE}, seed=seed)
    errors = {(i, kind, j) for _, i, kind, j in sim.errors}
    labels: Boxes = []
    truth_of: list[list[int | None]] = []
    for i, drawn in enumerate(sim.labels["a"]):
        kept = [j for j in range(len(scenes.boxes[i])) if (i, "missed", j) not in errors]
        truth_of.append([*kept, *([None] * (len(drawn) - len(kept)))])
        labels.append([{**b, "id": k + 1} for k, b in enumerate(drawn)])
    return labels, truth_of, errors


def score(
    scenes: Scenes,
    labels: Boxes,
    truth_of: list[list[int | None]],
    errors: set[Any],
    suspects: Sequence[Sequence[dict[str, Any]]] | None,
    image_flags: np.ndarray,
) -> dict[str, float]:
    """Precision and recall per kind, overall and per image (see the module doc)."""
    out: dict[str, float] = {}
    bad_images = {i for i, _, _ in errors}
    flagged_images = set(np.flatnonzero(image_flags).tolist())
    hits = len(bad_images & flagged_images)
    out["image_p"] = hits / max(len(flagged_images), 1)
    out["image_r"] = hits / max(len(bad_images), 1)
    if suspects is None:
        return out
    flagged: dict[str, set[Any]] = {k: set() for k in KIND_OF.values()}
    n_flag = dict.fromkeys(KIND_OF.values(), 0)
    any_right, n_any = set(), 0
    for i, found in enumerate(suspects):
        for s in found:
            kind = KIND_OF[s["kind"]]
            n_flag[kind] += 1
            n_any += 1
            if s["kind"] == "overlooked":
                missed = [j for (ii, k, j) in errors if ii == i and k == "missed"]
                pred = box_array([s["pred"]])
                target = [scenes.boxes[i][j] for j in missed]
                iou = iou_matrix(pred, box_array(target))[0] if target else np.zeros(0)
                j = missed[int(np.argmax(iou))] if len(iou) and iou.max() >= 0.5 else None
            else:
                j = truth_of[i][int(s["box"]) - 1]
            if j is None:
                continue
            if (i, kind, j) in errors:
                flagged[kind].add((i, j))
            if any((i, k, j) in errors for k in KIND_OF.values()):
                any_right.add((i, j, s["kind"]))
    for kind in KIND_OF.values():
        total = sum(1 for _, k, _ in errors if k == kind)
        out[f"{kind}_p"] = len(flagged[kind]) / max(n_flag[kind], 1)
        out[f"{kind}_r"] = len(flagged[kind]) / max(total, 1)
    boxes_hit = {(i, j) for i, j, _ in any_right}
    out["box_p"] = len(any_right) / max(n_any, 1)
    out["box_r"] = len(boxes_hit) / max(len(errors), 1)
    big = set()
    for i, kind, j in errors:
        if kind != "shifted":
            continue
        k = truth_of[i].index(j)
        iou = iou_matrix(box_array([labels[i][k]]), box_array([scenes.boxes[i][j]]))[0, 0]
        if iou < 0.7:
            big.add((i, j))
    out["shifted*_r"] = len(big & flagged["shifted"]) / max(len(big), 1)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="scenes per seed")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--source", default="simulated", choices=sorted(SOURCES))
    args = parser.parse_args(argv)
    from cleanlab.object_detection.filter import find_label_issues

    cleanlab_od()  # cleanlab's pools, which it leaves running, made serial

    rows: dict[str, list[dict[str, float]]] = {}
    times: dict[str, float] = {}
    counts = dict.fromkeys(KIND_OF.values(), 0)
    for seed in range(args.seeds):
        scenes = make_scenes(args.n, seed=seed)
        labels, truth_of, errors = noisy_labels(scenes, seed)
        for _, kind, _ in errors:
            counts[kind] += 1
        preds = SOURCES[args.source](scenes, seed)
        started = time.perf_counter()
        lab, pred, _ = to_cleanlab(labels, preds, scenes.classes)
        direct = np.asarray(find_label_issues(lab, pred), dtype=bool)
        times["cleanlab find_label_issues"] = times.get("cleanlab find_label_issues", 0.0) + (
            time.perf_counter() - started
        )
        rows.setdefault("cleanlab find_label_issues", []).append(
            score(scenes, labels, truth_of, errors, None, direct)
        )
        for method in BOX_METHODS:
            started = time.perf_counter()
            found = find_box_issues(labels, preds, scenes.classes, method)
            times[method] = times.get(method, 0.0) + time.perf_counter() - started
            if method == "cleanlab":
                assert (found.is_issue == direct).all(), "the cleanlab method must flag its images"
            rows.setdefault(method, []).append(
                score(scenes, labels, truth_of, errors, found.suspects, found.is_issue)
            )
    print(
        f"{args.n} scenes x {args.seeds} seeds, predictions: {args.source}; injected errors: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    cols = ["swapped", "shifted", "missed", "box", "image"]
    head = "| method | " + " | ".join(f"{c} P | {c} R" for c in cols) + " | shifted* R | s |"
    print(head)
    print("|" + "---|" * (2 + 2 * len(cols) + 1))
    for name, scores in rows.items():
        mean = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
        cells = []
        for c in cols:
            p, r = mean.get(f"{c}_p"), mean.get(f"{c}_r")
            cells += ["—" if p is None else f"{p:.2f}", "—" if r is None else f"{r:.2f}"]
        star = mean.get("shifted*_r")
        print(f"| {name} | " + " | ".join(cells)
              + f" | {'—' if star is None else f'{star:.2f}'} | {times[name]:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
