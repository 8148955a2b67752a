"""``components``: a detector without deep learning, for clean-background scenes.

Proposals are the connected components (``scipy.ndimage.label``) of the smoothed image
thresholded above its background (the median plus a multiple of the noise, estimated by the
median absolute deviation), each boxed by its extent. A scikit-learn classifier (logistic
regression on the crop, padded square and resized to 16 x 16, plus the box's aspect ratio and
size) gives each proposal class probabilities, with an extra ``background`` class learned from
proposals that match no labeled box; a box's score is its class's probability.

It suits what it was made for: objects brighter than a plain, fairly uniform background (the
demo's digit scenes, cells on a slide, text on paper). Touching objects become one proposal,
and textured or cluttered backgrounds (roads, shelves) defeat the threshold: use ``centernet``
or bring your own predictions there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from assay.labels.kinds.boxes import match_boxes
from assay.models.detection.base import Box, clip_box, top_boxes

CROP = 16  # side of the resized crop the classifier sees
BACKGROUND = "__background__"


def _proposals(image: np.ndarray, *, k: float, min_area: int) -> list[tuple[int, int, int, int]]:
    """Corner boxes (x1, y1, x2, y2, exclusive) around the bright blobs of ``image``."""
    from scipy import ndimage

    smooth = ndimage.gaussian_filter(image.astype(np.float32), 1.0)
    median = float(np.median(smooth))
    noise = 1.4826 * float(np.median(np.abs(smooth - median)))
    mask = smooth > median + max(k * noise, 12.0)
    labels, _n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    out: list[tuple[int, int, int, int]] = []
    for k_obj, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        area = int((labels[sl] == k_obj).sum())
        if area < min_area:
            continue
        ys, xs = sl
        out.append((xs.start, ys.start, xs.stop, ys.stop))
    return out


def _crop_features(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The crop padded to a square around its centre (so a "1" stays thin), resized to
    CROP x CROP and scaled to [0, 1], plus aspect ratio and relative size."""
    from PIL import Image

    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    side = max(w, h, 1)
    square = np.zeros((side, side), dtype=np.float32)
    oy, ox = (side - h) // 2, (side - w) // 2
    square[oy : oy + h, ox : ox + w] = image[y1:y2, x1:x2]
    low = float(np.median(image))
    square = np.clip(square - low, 0, None)
    top = float(square.max()) or 1.0
    resized = Image.fromarray((square / top * 255).astype(np.uint8)).resize(
        (CROP, CROP), Image.Resampling.BILINEAR
    )
    extra = [w / max(h, 1), h / max(w, 1), side / max(image.shape)]
    return np.concatenate([np.asarray(resized, np.float32).ravel() / 255.0, extra])


class ComponentsDetector:
    """Blob proposals + a scikit-learn classifier (see the module docstring)."""

    PARAMS: ClassVar[tuple[str, ...]] = ("threshold_k", "min_area", "C")

    def __init__(
        self, *, seed: int = 0, threshold_k: float = 4.0, min_area: int = 12, C: float = 1.0
    ) -> None:
        self.seed = seed
        self.threshold_k = float(threshold_k)
        self.min_area = int(min_area)
        self.C = float(C)

    def _boxes_of(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        return _proposals(image, k=self.threshold_k, min_area=self.min_area)

    def fit(
        self,
        images: Sequence[np.ndarray],
        box_lists: Sequence[Sequence[Mapping[str, Any]]],
        classes: Sequence[str],
    ) -> ComponentsDetector:
        """Learn the classifier on the labeled boxes' crops, on the proposals that match a
        labeled box (IoU >= 0.5, its class), and on the unmatched proposals (background)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X: list[np.ndarray] = []
        y: list[str] = []
        for image, truth in zip(images, box_lists, strict=True):
            for b in truth:
                x1, y1 = round(b["x"]), round(b["y"])
                x2 = max(x1 + 1, round(b["x"] + b["w"]))
                y2 = max(y1 + 1, round(b["y"] + b["h"]))
                X.append(_crop_features(image, (x1, y1, x2, y2)))
                y.append(str(b["class"]))
            found = self._boxes_of(image)
            as_dicts = [{"x": p[0], "y": p[1], "w": p[2] - p[0], "h": p[3] - p[1]} for p in found]
            matched = {i: j for i, j, _ in match_boxes(as_dicts, list(truth))}
            for i, p in enumerate(found):
                X.append(_crop_features(image, p))
                y.append(str(truth[matched[i]]["class"]) if i in matched else BACKGROUND)
        self.classes_ = list(classes)
        labels = np.asarray(y, dtype=object)
        self.model_ = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed),
        )
        if len(set(y)) < 2:  # one class only: every proposal is it
            self.model_ = None
            self.only_ = y[0] if y else None
            return self
        from threadpoolctl import threadpool_limits

        # One BLAS thread: the problem is small, and on a busy machine threads only contend.
        with threadpool_limits(limits=1, user_api="blas"):
            self.model_.fit(np.asarray(X), labels)
        return self

    def predict(self, images: Sequence[np.ndarray]) -> list[list[Box]]:
        """Scored boxes per image: each proposal with its most likely class (background
        left out), scored by that class's probability."""
        out: list[list[Box]] = []
        for image in images:
            found = self._boxes_of(image)
            height, width = image.shape
            if not found:
                out.append([])
                continue
            if self.model_ is None:
                names, scores = [self.only_] * len(found), [1.0] * len(found)
            else:
                crops = np.asarray([_crop_features(image, p) for p in found])
                probs = self.model_.predict_proba(crops)
                cols = list(self.model_.classes_)
                real = [k for k, c in enumerate(cols) if c != BACKGROUND]
                best = probs[:, real].argmax(axis=1)
                names = [cols[real[k]] for k in best]
                scores = [float(probs[i, real[k]]) for i, k in enumerate(best)]
            boxes: list[Box] = []
            for p, name, score in zip(found, names, scores, strict=True):
                xywh = clip_box(*p, width, height)
                if xywh is None or name is None:
                    continue
                x, y, w, h = xywh
                boxes.append({"class": name, "x": x, "y": y, "w": w, "h": h,
                              "score": round(score, 4)})  # fmt: skip
            out.append(top_boxes(boxes))
        return out
