"""Predicted boxes for the box evaluation tests: the truth of the digit scenes jittered, some
dropped, some relabeled and some boxes where nothing is, each with a score (seeded), written
into a model layer."""

from __future__ import annotations

from typing import Any

import numpy as np

import assay
from assay.labels.writes import LabelWrite


def predicted_boxes(
    truth: list[list[dict[str, Any]]],
    *,
    seed: int = 0,
    size: int = 96,
    drop: float = 0.15,
    swap: float = 0.1,
    spurious: float = 0.3,
    jitter: float = 1.5,
) -> list[list[dict[str, Any]]]:
    """Per image, the predictions a middling detector might make of ``truth``."""
    rng = np.random.default_rng(seed)
    out = []
    for boxes in truth:
        preds: list[dict[str, Any]] = []
        for b in boxes:
            if rng.random() < drop:
                continue
            x = float(np.clip(b["x"] + rng.normal(0, jitter), 0, size - 2))
            y = float(np.clip(b["y"] + rng.normal(0, jitter), 0, size - 2))
            w = float(min(b["w"], size - x))
            h = float(min(b["h"], size - y))
            name = b["class"]
            score = float(rng.uniform(0.5, 1.0))
            if rng.random() < swap:
                name = str((int(name) + 1) % 10)
                score = float(rng.uniform(0.2, 0.9))
            preds.append({"class": name, "x": x, "y": y, "w": w, "h": h, "score": score})
        if rng.random() < spurious:
            x, y = (float(v) for v in rng.uniform(0, size - 20, 2))
            preds.append({"class": str(rng.integers(0, 10)), "x": x, "y": y, "w": 16.0,
                          "h": 16.0, "score": float(rng.uniform(0.0, 0.8))})  # fmt: skip
        out.append(preds)
    return out


def write_predictions(
    ds: assay.Dataset,
    item_ids: list[int],
    per_image: list[list[dict[str, Any]]],
    layer: str = "pred",
) -> None:
    """``per_image`` into a new model box layer ``layer``."""
    ds.create_layer(layer, kind="model", value_kind="boxes")
    ds.set_labels(
        [LabelWrite(i, b) for i, b in zip(item_ids, per_image, strict=True)], layer=layer,
        author="detector",
    )  # fmt: skip
