"""The small CNN (torch extra) on a tiny image set: one epoch, seeded, saved and loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from modelkit import digit_images

from assay.errors import InvalidParameter

pytest.importorskip("torch")

from assay.models.cnn import CNNClassifier


@pytest.fixture(scope="module")
def tiny() -> tuple[np.ndarray, np.ndarray]:
    images, labels = digit_images(20)
    return images.reshape(len(images), -1).astype(np.float32) / 255, np.array(labels).astype(int)


@pytest.mark.slow
def test_one_epoch_is_seeded_and_survives_save_and_load(
    tiny: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    X, y = tiny
    first = CNNClassifier(max_epochs=1, random_state=0).fit(X, y)
    again = CNNClassifier(max_epochs=1, random_state=0).fit(X, y)
    probs = first.predict_proba(X)
    assert probs.shape == (60, 3) and first.n_epochs_ == 1
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(probs, again.predict_proba(X))
    first.save(tmp_path / "cnn.pt")
    loaded = CNNClassifier.load(tmp_path / "cnn.pt")
    np.testing.assert_array_equal(loaded.predict_proba(X), probs)
    assert list(loaded.classes_) == [0, 1, 2] and loaded.image_shape_ == (8, 8)


@pytest.mark.slow
def test_an_ensemble_of_seeds_averages_its_members(
    tiny: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    import torch

    X, y = tiny
    # No held-out slice: members share the ensemble's one split, single models draw their own.
    kw = {"max_epochs": 1, "validation_fraction": 0.0}
    pair = CNNClassifier(n_members=2, random_state=0, **kw).fit(X, y)
    one = CNNClassifier(random_state=0, **kw).fit(X, y)
    other = CNNClassifier(random_state=1, **kw).fit(X, y)
    mean = (one.predict_proba(X) + other.predict_proba(X)) / 2
    np.testing.assert_allclose(pair.predict_proba(X), mean, atol=1e-6)
    assert len(pair.modules_) == 2 and pair.n_epochs_ == 2
    # A file saved before ensembles (one "state_dict") still loads.
    one.save(tmp_path / "new.pt")
    saved = torch.load(tmp_path / "new.pt", weights_only=True)
    saved["state_dict"] = saved.pop("state_dicts")[0]
    torch.save(saved, tmp_path / "old.pt")
    np.testing.assert_array_equal(
        CNNClassifier.load(tmp_path / "old.pt").predict_proba(X), one.predict_proba(X)
    )
    with pytest.raises(InvalidParameter, match="'n_members' parameter"):
        CNNClassifier(n_members=0).fit(X, y)


@pytest.mark.slow
def test_early_stopping_keeps_the_best_epoch(tiny: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = tiny
    model = CNNClassifier(max_epochs=6, patience=1, validation_fraction=0.25).fit(X, y)
    losses = [h["val_loss"] for h in model.history_]
    assert 1 <= model.n_epochs_ <= 6
    if model.n_epochs_ < 6:  # stopped: the last epoch was no better than the best one
        assert losses[-1] >= min(losses)
    assert (model.predict(X) == y).mean() > 0.5


def test_wrong_shapes_are_refused(tiny: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = tiny
    with pytest.raises(InvalidParameter, match="not square images: pass image_shape"):
        CNNClassifier(max_epochs=1).fit(X[:, :60], y)
    with pytest.raises(InvalidParameter, match="image_shape 4x4 needs 16 features"):
        CNNClassifier(image_shape=(4, 4), max_epochs=1).fit(X, y)
    model = CNNClassifier(max_epochs=1).fit(X, y)
    with pytest.raises(InvalidParameter, match=r"trained on 64 \(8x8 images"):
        model.predict_proba(X[:, :16])


@pytest.mark.slow
def test_cnn_run_through_the_store(images) -> None:  # type: ignore[no-untyped-def]
    run = images.models.cross_validate(name="cnn", folds=3, model="cnn", params={"max_epochs": 1})
    assert run["state"] == "done" and run["model"] == "cnn" and run["metrics"]["n_items"] == 36
    trained = images.models.train(name="cnn-t", model="auto", params={"max_epochs": 1})
    assert trained["metrics"]["model"] == "cnn"
    assert (images.project.root / ".assay" / "models" / "2.pt").is_file()
    preds = images.models.predict("cnn-t", "split=test", write=False)
    assert preds.probs.shape == (18, 3) and preds.layer is None
