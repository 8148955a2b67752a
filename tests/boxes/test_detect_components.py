"""The ``components`` detector (blob proposals + a scikit-learn classifier) on held-out
digit scenes, and the detector registry's refusals."""

from __future__ import annotations

import pytest

from assay.errors import InvalidParameter
from assay.labels.kinds.boxes import match_boxes
from assay.labels.scenes import make_scenes
from assay.models.detection.base import SCORE_FLOOR, make_detector, resolve_detector
from assay.models.detection.cv import box_scores


def test_components_finds_the_digits_of_held_out_scenes() -> None:
    train, test = make_scenes(200, seed=1), make_scenes(80, seed=2)
    detector = make_detector("components", seed=0)
    detector.fit(list(train.images), train.boxes, train.classes)
    predicted = detector.predict(list(test.images))
    assert len(predicted) == 80
    scores = box_scores(predicted, test.boxes)
    assert scores["recall"] >= 0.8 and scores["precision"] >= 0.8, scores
    found = sum(len(match_boxes(p, t)) for p, t in zip(predicted, test.boxes, strict=True))
    assert found / scores["n_true"] >= 0.9  # located, whatever the class
    for boxes in predicted:
        for b in boxes:
            assert set(b) == {"class", "x", "y", "w", "h", "score"}
            assert SCORE_FLOOR <= b["score"] <= 1 and b["class"] in train.classes
            assert b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["w"] <= 96 and b["y"] + b["h"] <= 96
    again = make_detector("components", seed=0).fit(list(train.images), train.boxes, train.classes)
    assert again.predict(list(test.images[:10])) == predicted[:10]  # deterministic


def test_a_blank_image_has_no_boxes() -> None:
    scenes = make_scenes(30, seed=4)
    detector = make_detector("components").fit(list(scenes.images), scenes.boxes, scenes.classes)
    blank = scenes.images[0].copy()
    blank[:] = 24
    assert detector.predict([blank]) == [[]]


def test_refusals() -> None:
    with pytest.raises(InvalidParameter, match="logreg is a classifier"):
        resolve_detector("logreg")
    with pytest.raises(InvalidParameter, match=r"Unknown parameter.*epochs.*components"):
        make_detector("components", params={"epochs": 3})
    assert resolve_detector("components") == "components"
    assert resolve_detector("auto") in ("centernet", "components")
