"""IDX import: the real MNIST test set checked against its raw bytes, and broken IDX files."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

import assay
from assay.errors import DataFormatError
from assay.project import Project
from assay.store import schema as t

# Input checks that never reach the database run on SQLite only (PostgreSQL adds nothing).
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Any:
    with assay.init(tmp_path / "project", db=store_url) as p:
        yield p


def idx_bytes(array: np.ndarray, count: int | None = None) -> bytes:
    """An IDX file of uint8 ``array``; ``count`` overrides the record count in the header."""
    dims = (count if count is not None else array.shape[0], *array.shape[1:])
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *dims)
    return header + array.astype(np.uint8).tobytes()


def test_mnist_test_set(project: Project, mnist_dir: Path) -> None:
    images_gz = mnist_dir / "t10k-images-idx3-ubyte.gz"
    labels_gz = mnist_dir / "t10k-labels-idx1-ubyte.gz"
    raw_labels = np.frombuffer(gzip.decompress(labels_gz.read_bytes()), np.uint8, offset=8)
    raw_images = np.frombuffer(gzip.decompress(images_gz.read_bytes()), np.uint8, offset=16)
    raw_images = raw_images.reshape(-1, 28, 28)

    result = project.import_path(mnist_dir, dataset="mnist")

    assert (result.n_rows, result.n_new_items, result.n_new_labels) == (10_000, 10_000, 10_000)
    ds = project.dataset("mnist")
    assert len(ds) == 10_000
    assert ds.classes() == [str(d) for d in range(10)]
    with project.store.read() as conn:
        counts = dict(
            conn.execute(
                sa.select(t.classes.c.name, sa.func.count())
                .join(t.label_heads, t.label_heads.c.class_id == t.classes.c.id)
                .group_by(t.classes.c.name)
            ).all()
        )
        item = conn.execute(
            sa.select(t.items, t.media_blobs.c.data, t.media_blobs.c.mime)
            .join(t.media_blobs, t.media_blobs.c.item_id == t.items.c.id)
            .where(t.items.c.dataset_id == ds.id, t.items.c.external_key == "247")
        ).one()
    assert counts == {str(d): int(n) for d, n in enumerate(np.bincount(raw_labels))}
    assert item.mime == "image/png"
    pixels = np.asarray(Image.open(io.BytesIO(item.data)))
    assert np.array_equal(pixels, raw_images[247])  # item '247' is the 248th image
    assert (item.width, item.height, item.channels, item.split) == (28, 28, 1, "test")
    assert item.pixel_mean == pytest.approx(raw_images[247].mean())
    rows, _ = ds.items("key=247")
    assert rows[0]["label"] == str(raw_labels[247])

    again = project.import_path(mnist_dir, dataset="mnist")
    assert (again.n_new_items, again.n_new_labels, again.n_classes_added) == (0, 0, 0)
    assert len(ds) == 10_000


@sqlite_only
def test_truncated_idx_file(project: Project, tmp_path: Path) -> None:
    images = tmp_path / "cut-images-idx3-ubyte"
    data = idx_bytes(np.zeros((10, 4, 4)))
    images.write_bytes(data[: len(data) - 40])
    with pytest.raises(DataFormatError) as info:
        project.import_idx(images, dataset="cut")
    assert str(info.value) == (
        f"{images}: truncated: the header announces 10 records but the file ends after 7. "
        "Download or copy the file again."
    )
    assert project.datasets() == []


@sqlite_only
def test_truncated_gzip_idx_file(project: Project, tmp_path: Path) -> None:
    images = tmp_path / "cut-images-idx3-ubyte.gz"
    data = gzip.compress(idx_bytes(np.arange(64 * 50).reshape(50, 8, 8) % 251))
    images.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=rf"^{images}: "):
        project.import_idx(images, dataset="cut")


@sqlite_only
def test_not_an_idx_file(project: Project, tmp_path: Path) -> None:
    images = tmp_path / "fake-images-idx3-ubyte"
    images.write_text("hello, I am text")
    with pytest.raises(DataFormatError) as info:
        project.import_path(images, dataset="fake")
    assert str(info.value).startswith(f"{images}: not an IDX file (the first bytes are 68656c6c")


@sqlite_only
def test_labels_file_passed_as_images(project: Project, tmp_path: Path) -> None:
    labels = tmp_path / "x-labels-idx1-ubyte"
    labels.write_bytes(idx_bytes(np.arange(5)))
    with pytest.raises(DataFormatError, match=r"Is this the labels file\?") as info:
        project.import_idx(labels, dataset="x")
    assert str(labels) in str(info.value)


@sqlite_only
def test_mismatched_label_count(project: Project, tmp_path: Path) -> None:
    images = tmp_path / "x-images-idx3-ubyte"
    labels = tmp_path / "x-labels-idx1-ubyte"
    images.write_bytes(idx_bytes(np.zeros((10, 4, 4))))
    labels.write_bytes(idx_bytes(np.arange(9) % 3))
    with pytest.raises(DataFormatError) as info:
        project.import_idx(images, labels, dataset="x")
    assert str(info.value) == (
        f"{labels}: holds 9 labels but the images file holds 10 images. Pair each images file "
        "with its own labels file."
    )
    assert project.datasets() == []


def test_small_idx_pair_in_a_folder(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    pixels = np.arange(6 * 3 * 2).reshape(6, 3, 2) * 7 % 256
    (folder / "train-images-idx3-ubyte").write_bytes(idx_bytes(pixels))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([1, 0, 1, 2, 2, 1])))

    result = project.import_path(folder, dataset="tiny")

    assert (result.n_new_items, result.n_classes_added) == (6, 3)
    rows, _ = project.dataset("tiny").items()
    assert [(r["external_key"], r["label"]) for r in rows] == [
        ("0", "1"), ("1", "0"), ("2", "1"), ("3", "2"), ("4", "2"), ("5", "1"),
    ]  # fmt: skip
    assert {(r["width"], r["height"], r["split"]) for r in rows} == {(2, 3, None)}
