"""The ``centernet`` detector (plain PyTorch, trained from scratch on CPU): it learns the
digit scenes within a bounded budget, deterministically, and survives a pickle."""

from __future__ import annotations

import pickle

import pytest

from assay.labels.scenes import make_scenes
from assay.models.detection.base import make_detector
from assay.models.detection.cv import box_scores

pytest.importorskip("torch")


@pytest.mark.slow
def test_centernet_trains_and_clears_a_floor() -> None:
    """200 scenes, 15 epochs (about 20 s on 2 idle cores): F1 0.80 at score 0.3 and 97% of
    the boxes located at 0.2 when this was written; the floors leave a margin."""
    train, test = make_scenes(200, seed=1), make_scenes(60, seed=2)
    detector = make_detector("centernet", seed=0, params={"epochs": 15})
    detector.fit(list(train.images), train.boxes, train.classes)
    predicted = detector.predict(list(test.images))
    scores = box_scores(predicted, test.boxes, min_score=0.3)
    assert scores["f1"] >= 0.65, scores
    located = box_scores(
        [[{**b, "class": "0"} for b in p] for p in predicted],
        [[{**b, "class": "0"} for b in t] for t in test.boxes],
        min_score=0.2,
    )
    assert located["recall"] >= 0.85, located
    assert all(0.05 <= b["score"] <= 1 for p in predicted for b in p)
    restored = pickle.loads(pickle.dumps(detector))
    assert restored.predict(list(test.images[:5])) == predicted[:5]
