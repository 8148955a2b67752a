"""Featurizers and the feature cache in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from modelkit import digit_images, make_images, make_table

import assay
from assay.errors import DataFormatError, InvalidParameter, ItemNotFound
from assay.ingest.arrays import import_arrays
from assay.models.features import featurize, item_version
from assay.store import schema as t


def n_sets(ds: assay.Dataset) -> int:
    with ds.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.feature_sets)).scalar())


def test_pixels_keep_small_images_and_scale_to_unit(images: assay.Dataset) -> None:
    feats = featurize(images)
    assert feats.X.shape == (36, 64) and feats.X.dtype == np.float32
    assert feats.image_shape == (8, 8) and feats.kind == "image" and feats.name == "pixels"
    assert feats.X.min() >= 0.0 and feats.X.max() == pytest.approx(1.0)
    assert list(feats.item_ids) == sorted(feats.item_ids)
    expected, _ = digit_images(12)
    np.testing.assert_allclose(feats.X[0], expected[0].ravel() / 255, atol=1e-6)


def test_second_call_reads_the_cache_and_filters_select(images: assay.Dataset) -> None:
    first = featurize(images)
    again = featurize(images, "split=test")
    assert not first.from_cache and again.from_cache
    assert n_sets(images) == 1 and len(again.item_ids) == 18
    np.testing.assert_array_equal(again.X, first.take(again.item_ids).X)
    some = featurize(images, item_ids=first.item_ids[:3])
    np.testing.assert_array_equal(some.item_ids, first.item_ids[:3])


def test_a_new_import_invalidates_and_reuses_vectors(
    model_project: assay.Project, images: assay.Dataset
) -> None:
    first = featurize(images)
    with images.store.read() as conn:
        before = item_version(conn, images.id)
    make_images(model_project, "tiny", n_per_class=2, key_start=100, start=20)  # 6 new items
    with images.store.read() as conn:
        assert item_version(conn, images.id) != before
    second = featurize(images)
    assert not second.from_cache and len(second.item_ids) == 42
    np.testing.assert_array_equal(second.take(first.item_ids).X, first.X)
    assert n_sets(images) == 1  # the old version's set is dropped
    assert featurize(images).from_cache


def test_larger_images_are_resized_to_32(model_project: assay.Project) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(4, 40, 30, 3), dtype=np.uint8)
    import_arrays(model_project.store, [(images, ["a", "b", "a", "b"])], dataset="big",
                  source="mem", format="test")  # fmt: skip
    feats = featurize(model_project.dataset("big"))
    assert feats.X.shape == (4, 32 * 32) and feats.image_shape == (32, 32)


def test_tabular_scales_imputes_and_one_hot_encodes(model_project: assay.Project) -> None:
    feats = featurize(make_table(model_project))
    assert feats.X.shape == (30, 4) and feats.kind == "tabular"
    assert np.isfinite(feats.X).all()
    assert feats.X[:, 0].mean() == pytest.approx(0.0, abs=0.05)  # x standardized
    np.testing.assert_array_equal(feats.X[:, 1:].sum(axis=1), 1.0)  # one color each


def test_import_own_vectors_from_npy_and_parquet(images: assay.Dataset, tmp_path: Path) -> None:
    ids = featurize(images).item_ids
    X = np.arange(len(ids) * 3, dtype=np.float32).reshape(-1, 3)
    np.save(tmp_path / "v.npy", X)
    info = images.models.import_features(tmp_path / "v.npy", name="mine", ids=ids.tolist())
    assert (info["n_items"], info["dim"]) == (36, 3)
    mine = featurize(images, featurizer="mine")
    np.testing.assert_array_equal(mine.X, X)
    keys = [images.item(int(i))["external_key"] for i in ids]
    table = pa.table({"key": keys, "vector": [list(map(float, r * 2)) for r in X]})
    pq.write_table(table, tmp_path / "v.parquet")
    images.models.import_features(tmp_path / "v.parquet", name="mine")  # replaces it
    np.testing.assert_array_equal(featurize(images, featurizer="mine").X, X * 2)
    assert [s["featurizer"] for s in images.models.feature_sets()].count("mine") == 1


def test_imported_vectors_must_cover_the_slice(images: assay.Dataset, tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.ones((2, 3), dtype=np.float32))
    ids = featurize(images).item_ids[:2].tolist()
    images.models.import_features(tmp_path / "v.npy", name="part", ids=ids)
    with pytest.raises(InvalidParameter, match="34 of the 36 items selected have no imported"):
        featurize(images, featurizer="part")


@pytest.mark.parametrize(
    ("vectors", "ids", "error", "message"),
    [
        (np.ones((3, 2)), [1, 2], DataFormatError, "one row per id"),
        (np.ones(3), [1, 2, 3], DataFormatError, "2-D matrix"),
        (np.full((2, 2), np.nan), [1, 2], DataFormatError, "NaN"),
        (np.ones((2, 2)), [1, 1], DataFormatError, "more than once"),
        (np.ones((2, 2)), [1, 99999], ItemNotFound, "99999"),
        (np.ones((2, 2)), ["nokey", "1"], ItemNotFound, "nokey"),
    ],
)
def test_bad_imported_vectors(
    images: assay.Dataset,
    tmp_path: Path,
    vectors: np.ndarray,
    ids: list[object],
    error: type[Exception],
    message: str,
) -> None:
    np.save(tmp_path / "v.npy", vectors)
    with pytest.raises(error, match=message):
        images.models.import_features(tmp_path / "v.npy", name="bad", ids=ids)  # type: ignore[arg-type]
    assert n_sets(images) == 0


def test_unknown_and_reserved_featurizer_names(images: assay.Dataset, tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match=r"Unknown featurizer 'clip'.*pixels"):
        featurize(images, featurizer="clip")
    np.save(tmp_path / "v.npy", np.ones((1, 2)))
    with pytest.raises(InvalidParameter, match="built-in featurizer name"):
        images.models.import_features(tmp_path / "v.npy", name="pixels", ids=[1])
    with pytest.raises(InvalidParameter, match="needs table columns"):
        featurize(images, featurizer="tabular")


def test_a_missing_featurizer_file_is_refitted(images: assay.Dataset) -> None:
    # Another machine sharing a PostgreSQL store has the vectors but not the project folder.
    first = featurize(images)
    for path in (images.project.root / ".assay" / "features").glob("*.joblib"):
        path.unlink()
    again = featurize(images)
    assert again.from_cache and again.image_shape == (8, 8)
    np.testing.assert_array_equal(again.X, first.X)
    assert list((images.project.root / ".assay" / "features").glob("*.joblib"))
