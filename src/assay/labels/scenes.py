"""Detection scenes whose boxes are known, and simulated box annotators (demo and benchmarks).

A scene places a few of scikit-learn's handwritten digits (8 x 8, shipped with the package, so
it works offline) on a grey canvas, each scaled and at a random spot without overlapping the
others: the true boxes and classes are exactly known. :func:`simulate_box_annotators` copies the
truth for several annotators who each miss some boxes, shift or resize some, give some the wrong
class (often a digit that looks alike) and add the odd box around nothing, and records every
error it injected, so agreement, consensus, review and label-issue checks have something to
find, and a benchmark can score what they find.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BoxNoise",
    "Scenes",
    "Simulated",
    "make_scenes",
    "simulate_box_annotators",
    "simulate_predictions",
]

#: Digits people confuse in handwriting: a misclassified box takes one of these first.
LOOKALIKE = {0: 6, 1: 7, 2: 7, 3: 8, 4: 9, 5: 6, 6: 5, 7: 1, 8: 3, 9: 4}


@dataclass(frozen=True)
class Scenes:
    """``images[i]`` (an (size, size) uint8 array) holds the digits ``boxes[i]`` (lists of
    ``{"class", "x", "y", "w", "h"}``, classes "0".."9", pixels)."""

    images: np.ndarray
    boxes: list[list[dict[str, Any]]]
    classes: list[str]


@dataclass(frozen=True)
class BoxNoise:
    """One annotator's habits: the share of boxes missed, shifted (by up to ``shift`` of their
    size), misclassified, and spurious boxes added per image."""

    miss: float = 0.05
    shift: float = 0.08
    shift_by: float = 0.35
    swap: float = 0.05
    spurious: float = 0.03


@dataclass
class Simulated:
    """The annotators' layers (``labels[name][i]``, the boxes of image i) and the errors
    injected: (annotator, image, kind, true box index or None) with kind one of ``missed``,
    ``shifted``, ``swapped``, ``spurious``."""

    labels: dict[str, list[list[dict[str, Any]]]]
    errors: list[tuple[str, int, str, int | None]] = field(default_factory=list)


def make_scenes(n: int, *, size: int = 96, max_digits: int = 4, seed: int = 0) -> Scenes:
    """``n`` scenes of 1..``max_digits`` digits each, each digit 16-32 pixels, never
    overlapping, on a noisy canvas of ``size`` x ``size``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size), dtype=np.uint8)
    boxes: list[list[dict[str, Any]]] = []
    for i in range(n):
        canvas = rng.normal(24, 6, size=(size, size))
        placed: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, max_digits + 1))):
            side = int(rng.integers(16, 33))
            for _attempt in range(20):
                x, y = (int(v) for v in rng.integers(0, size - side, size=2))
                if all(
                    x + side + 2 <= px or px + ps + 2 <= x or y + side + 2 <= py or py + ps + 2 <= y
                    for px, py, ps, _ in placed
                ):
                    k = int(rng.integers(len(digits.target)))
                    placed.append((x, y, side, k))
                    break
        scene: list[dict[str, Any]] = []
        for x, y, side, k in placed:
            glyph = Image.fromarray((digits.images[k] * 15.9).astype(np.uint8))
            patch = np.asarray(glyph.resize((side, side), Image.Resampling.BILINEAR), float)
            canvas[y : y + side, x : x + side] = np.maximum(
                canvas[y : y + side, x : x + side], patch
            )
            # The box is the digit's ink, as a person would draw it, not the 8 x 8 cell.
            ys, xs = np.nonzero(patch > 40)
            x0, y0 = x + int(xs.min()), y + int(ys.min())
            w, h = int(xs.max()) - int(xs.min()) + 1, int(ys.max()) - int(ys.min()) + 1
            scene.append(
                {
                    "class": str(digits.target[k]),
                    "x": float(x0),
                    "y": float(y0),
                    "w": float(w),
                    "h": float(h),
                }
            )
        images[i] = np.clip(canvas, 0, 255).astype(np.uint8)
        boxes.append(scene)
    return Scenes(images, boxes, [str(c) for c in range(10)])


def simulate_box_annotators(
    scenes: Scenes, noise: dict[str, BoxNoise], *, seed: int = 0
) -> Simulated:
    """Each annotator's boxes for every scene, from the truth with ``noise[name]``'s errors."""
    rng = np.random.default_rng(seed)
    size = scenes.images.shape[1]
    out = Simulated({name: [] for name in noise})
    for name, habits in noise.items():
        for i, truth in enumerate(scenes.boxes):
            drawn: list[dict[str, Any]] = []
            for j, box in enumerate(truth):
                if rng.random() < habits.miss:
                    out.errors.append((name, i, "missed", j))
                    continue
                b = dict(box)
                if rng.random() < habits.shift:
                    dx, dy = rng.uniform(-habits.shift_by, habits.shift_by, 2) * (b["w"], b["h"])
                    b["x"] = float(np.clip(b["x"] + dx, 0, size - b["w"]))
                    b["y"] = float(np.clip(b["y"] + dy, 0, size - b["h"]))
                    out.errors.append((name, i, "shifted", j))
                if rng.random() < habits.swap:
                    true = int(b["class"])
                    wrong = LOOKALIKE[true] if rng.random() < 0.7 else int(rng.integers(10))
                    if wrong != true:
                        b["class"] = str(wrong)
                        out.errors.append((name, i, "swapped", j))
                drawn.append(b)
            if rng.random() < habits.spurious:
                side = float(rng.integers(12, 24))
                x, y = (float(v) for v in rng.uniform(0, size - side, 2))
                drawn.append({"class": str(int(rng.integers(10))), "x": x, "y": y,
                              "w": side, "h": side})  # fmt: skip
                out.errors.append((name, i, "spurious", None))
            out.labels[name].append(drawn)
    return out


def simulate_predictions(
    truth: Sequence[Sequence[Mapping[str, Any]]],
    *,
    size: int = 96,
    n_classes: int = 10,
    jitter: float = 0.04,
    miss: float = 0.03,
    false_positive: float = 0.05,
    runner_up: float = 0.3,
    seed: int = 0,
) -> list[list[dict[str, Any]]]:
    """A good detector's boxes for the true boxes ``truth[i]``, without training one: each
    true box found (but ``miss`` of them) with its corners jittered by ``jitter`` of its size
    and a high score (Beta(20, 1.2), mean 0.94); ``runner_up`` of them also with a second,
    unlikely class (score 0.05-0.4, as a detector's per-class outputs); ``false_positive``
    boxes per image around nothing, with low scores (0.1-0.6)."""
    rng = np.random.default_rng(seed)
    out: list[list[dict[str, Any]]] = []
    for boxes in truth:
        found: list[dict[str, Any]] = []
        for b in boxes:
            if rng.random() < miss:
                continue
            dx, dy, dw, dh = rng.normal(0, jitter, 4) * (b["w"], b["h"], b["w"], b["h"])
            x = float(np.clip(b["x"] + dx, 0, size - 2))
            y = float(np.clip(b["y"] + dy, 0, size - 2))
            w = float(np.clip(b["w"] + dw, 2, size - x))
            h = float(np.clip(b["h"] + dh, 2, size - y))
            found.append({"class": b["class"], "x": x, "y": y, "w": w, "h": h,
                          "score": round(float(rng.beta(20, 1.2)), 4)})  # fmt: skip
            if rng.random() < runner_up:
                other = str((int(b["class"]) + int(rng.integers(1, n_classes))) % n_classes)
                found.append({**found[-1], "class": other,
                              "score": round(float(rng.uniform(0.05, 0.4)), 4)})  # fmt: skip
        if rng.random() < false_positive:
            side = float(rng.integers(12, 24))
            x, y = (float(v) for v in rng.uniform(0, size - side, 2))
            found.append({"class": str(int(rng.integers(n_classes))), "x": x, "y": y, "w": side,
                          "h": side, "score": round(float(rng.uniform(0.1, 0.6)), 4)})  # fmt: skip
        out.append(found)
    return out
