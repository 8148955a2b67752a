"""Image folder import: layouts, labels CSV, idempotence, atomicity and every bad input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

import assay
from assay.errors import Conflict, DataFormatError
from assay.ingest.images import import_image_folder
from assay.ingest.staging import content_hash
from assay.project import Project
from assay.store import schema as t
from helpers import count, import_states

# Input checks that never reach the database run on SQLite only (PostgreSQL adds nothing).
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def write_image(path: Path, seed: int, size: tuple[int, int] = (10, 8), mode: str = "L") -> Path:
    """A small random image (width x height) at ``path``, format from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], len(mode))
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path)
    return path


def current_labels(project: Project, dataset: str) -> dict[str, str | None]:
    """external key -> current ground-truth label (None for unlabeled items)."""
    with project.store.read() as conn:
        ds = conn.execute(sa.select(t.datasets.c.id).where(t.datasets.c.name == dataset)).scalar()
        rows = conn.execute(
            sa.select(t.items.c.external_key, t.classes.c.name)
            .select_from(
                t.items.outerjoin(t.label_heads, t.label_heads.c.item_id == t.items.c.id).outerjoin(
                    t.classes, t.classes.c.id == t.label_heads.c.class_id
                )
            )
            .where(t.items.c.dataset_id == ds)
        ).all()
    return {r.external_key: r.name for r in rows}


def items_by_key(project: Project, dataset: str) -> dict[str, Any]:
    rows, _ = project.dataset(dataset).items(limit=1000)
    return {r["external_key"]: r for r in rows}


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Any:
    with assay.init(tmp_path / "project", db=store_url) as p:
        yield p


@pytest.fixture
def pets(tmp_path: Path) -> Path:
    root = tmp_path / "pets"
    write_image(root / "cat" / "img2.png", 1)
    write_image(root / "cat" / "img10.png", 2, mode="RGB")
    write_image(root / "dog" / "a.jpg", 3, size=(16, 12), mode="RGB")
    (root / "notes.txt").write_text("not an image, ignored")
    write_image(root / ".thumbs" / "x.png", 4)  # hidden: ignored
    return root


# -- layouts ---------------------------------------------------------------------------------


def test_class_folders_give_labels_and_image_facts(project: Project, pets: Path) -> None:
    result = project.import_path(pets, dataset="pets")

    assert (result.n_rows, result.n_new_items, result.n_new_labels) == (3, 3, 3)
    assert project.dataset("pets").classes() == ["cat", "dog"]
    assert current_labels(project, "pets") == {
        "cat/img2.png": "cat",
        "cat/img10.png": "cat",
        "dog/a.jpg": "dog",
    }
    items = items_by_key(project, "pets")
    jpg = items["dog/a.jpg"]
    path = pets / "dog" / "a.jpg"
    assert jpg["media_path"] == os.path.abspath(path)
    assert (jpg["width"], jpg["height"], jpg["channels"]) == (16, 12, 3)
    assert jpg["content_hash"] == content_hash(path.read_bytes())
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    assert jpg["pixel_mean"] == pytest.approx(gray.mean())
    assert jpg["pixel_std"] == pytest.approx(gray.std())
    assert items["cat/img2.png"]["channels"] == 1
    assert {r["kind"] for r in items.values()} == {"image"}
    assert {r["split"] for r in items.values()} == {None}


@sqlite_only
def test_files_are_walked_in_natural_order(project: Project, pets: Path) -> None:
    project.import_path(pets, dataset="pets")
    rows, _ = project.dataset("pets").items()
    assert [r["external_key"] for r in rows] == ["cat/img2.png", "cat/img10.png", "dog/a.jpg"]


def test_split_folders_hold_class_folders(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "digits"
    write_image(root / "train" / "3" / "a.png", 1)
    write_image(root / "train" / "7" / "b.png", 2)
    write_image(root / "test" / "3" / "c.png", 3)
    write_image(root / "val" / "7" / "d.bmp", 4)

    project.import_path(root, dataset="digits")

    items = items_by_key(project, "digits")
    assert {k: r["split"] for k, r in items.items()} == {
        "train/3/a.png": "train",
        "train/7/b.png": "train",
        "test/3/c.png": "test",
        "val/7/d.bmp": "val",
    }
    assert set(current_labels(project, "digits").values()) == {"3", "7"}
    assert project.dataset("digits").classes() == ["3", "7"]


@sqlite_only
def test_flat_folder_without_labels_imports_unlabeled_items(
    project: Project, tmp_path: Path
) -> None:
    root = tmp_path / "flat"
    for i in range(3):
        write_image(root / f"{i}.webp", i, mode="RGB")

    result = project.import_path(root, dataset="flat", split="unlabeled")

    assert (result.n_new_items, result.n_new_labels) == (3, 0)
    assert current_labels(project, "flat") == {"0.webp": None, "1.webp": None, "2.webp": None}
    assert {r["split"] for r in items_by_key(project, "flat").values()} == {"unlabeled"}


def test_flat_folder_with_labels_csv(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "flat"
    for name in ("a.png", "b.png", "c.png", "sub/d.gif"):
        write_image(root / name, len(name) + ord(name[0]))
    labels = tmp_path / "labels.csv"
    labels.write_text("Filename,label,split\na.png,cat,train\nsub/d.gif,dog,\nb.png,,test\n")

    project.import_path(root, dataset="flat", labels=labels)

    assert current_labels(project, "flat") == {
        "a.png": "cat",
        "b.png": None,
        "c.png": None,  # not in the CSV: imported unlabeled
        "sub/d.gif": "dog",
    }
    splits = {k: r["split"] for k, r in items_by_key(project, "flat").items()}
    assert splits == {"a.png": "train", "b.png": "test", "c.png": None, "sub/d.gif": None}


# -- idempotence and conflicts ---------------------------------------------------------------


def test_reimport_adds_nothing(project: Project, pets: Path) -> None:
    project.import_path(pets, dataset="pets")
    again = project.import_path(pets, dataset="pets")
    assert (again.n_rows, again.n_new_items, again.n_new_labels, again.n_classes_added) == (
        3,
        0,
        0,
        0,
    )
    assert count(project, t.items) == 3
    assert count(project, t.labels) == 3


def test_changed_label_in_csv_supersedes_the_old_one(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write_image(root / "a.png", 1)
    write_image(root / "b.png", 2)
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\na.png,cat\nb.png,dog\n")
    project.import_path(root, dataset="flat", labels=labels)

    labels.write_text("file,label\na.png,cat\nb.png,cat\n")
    again = project.import_path(root, dataset="flat", labels=labels)

    assert (again.n_new_items, again.n_new_labels) == (0, 1)
    assert current_labels(project, "flat") == {"a.png": "cat", "b.png": "cat"}
    with project.store.read() as conn:
        history = conn.execute(
            sa.select(t.labels.c.id, t.labels.c.supersedes, t.classes.c.name)
            .join(t.classes, t.classes.c.id == t.labels.c.class_id)
            .join(t.items, t.items.c.id == t.labels.c.item_id)
            .where(t.items.c.external_key == "b.png")
            .order_by(t.labels.c.id)
        ).all()
    assert [(r.name, r.supersedes) for r in history] == [("dog", None), ("cat", history[0].id)]


def test_same_key_with_other_content_is_a_conflict(project: Project, pets: Path) -> None:
    project.import_path(pets, dataset="pets")
    write_image(pets / "cat" / "img2.png", 99)  # same key, new pixels
    write_image(pets / "cat" / "new.png", 5)

    with pytest.raises(Conflict, match=r"'cat/img2\.png' is already in dataset 'pets'"):
        project.import_path(pets, dataset="pets")

    assert "cat/new.png" not in current_labels(project, "pets")
    assert count(project, t.items) == 3
    assert import_states(project) == ["published", "failed"]


# -- bad input -------------------------------------------------------------------------------


@sqlite_only
def test_text_file_named_png_is_not_a_readable_image(project: Project, pets: Path) -> None:
    bad = pets / "cat" / "broken.png"
    bad.write_text("this is not a PNG")
    with pytest.raises(DataFormatError) as info:
        project.import_path(pets, dataset="pets")
    message = str(info.value)
    assert str(bad) in message
    assert "not a readable image" in message
    assert "skip_bad" in message
    assert project.datasets() == []


@sqlite_only
def test_truncated_image_is_not_readable(project: Project, pets: Path) -> None:
    good = write_image(pets / "cat" / "cut.png", 7, size=(64, 64))
    good.write_bytes(good.read_bytes()[:200])
    with pytest.raises(DataFormatError, match=r"cut\.png: not a readable image"):
        project.import_path(pets, dataset="pets")


def test_skip_bad_leaves_unreadable_files_out_and_counts_them(project: Project, pets: Path) -> None:
    (pets / "cat" / "broken.png").write_bytes(b"\x89PNG nope")
    (pets / "dog" / "empty.jpg").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"skipped 2 files that are not readable images"):
        result = project.import_path(pets, dataset="pets", skip_bad=True)
    assert (result.n_rows, result.n_new_items, result.n_skipped) == (3, 3, 2)
    assert "cat/broken.png" not in current_labels(project, "pets")


@sqlite_only
def test_decompression_bomb_is_a_clean_error(
    project: Project, pets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the 10x8 PNGs pass, 16x12 does not
    with pytest.raises(DataFormatError) as info:
        project.import_path(pets, dataset="pets")
    message = str(info.value)
    assert message.startswith(f"{pets / 'dog' / 'a.jpg'}: refused as a possible decompression")
    assert "pixels is over the limit of 100 pixels" in message
    assert project.datasets() == []


@sqlite_only
def test_decompression_bomb_past_twice_the_limit(
    project: Project, pets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pillow itself raises DecompressionBombError past twice the limit, inside Image.open.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(DataFormatError, match=r"decompression bomb"):
        project.import_path(pets, dataset="pets", workers=1)


@sqlite_only
def test_empty_folder(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "empty"
    (root / "cat").mkdir(parents=True)
    (root / "cat" / "readme.md").write_text("no images here")
    with pytest.raises(DataFormatError) as info:
        project.import_path(root, dataset="x", format="images")
    message = str(info.value)
    assert message.startswith(f"{root}: empty folder: no images found (looked for .png, .jpg")
    assert project.datasets() == []


@sqlite_only
def test_path_that_is_not_a_folder(project: Project, tmp_path: Path) -> None:
    file = write_image(tmp_path / "one.png", 1)
    with pytest.raises(DataFormatError, match=r"one\.png: not a folder"):
        project.import_images(file, dataset="x")


def test_unknown_class_in_an_existing_dataset(project: Project, pets: Path) -> None:
    project.import_path(pets, dataset="pets")
    write_image(pets / "bird" / "b.png", 8)
    with pytest.raises(DataFormatError, match=r"b\.png: unknown class 'bird'"):
        project.import_path(pets, dataset="pets")
    result = project.import_path(pets, dataset="pets", add_classes=True)
    assert (result.n_new_items, result.n_classes_added) == (1, 1)


@sqlite_only
def test_labels_csv_naming_a_missing_file(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write_image(root / "a.png", 1)
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,label\na.png,cat\nzz.png,dog\n")
    with pytest.raises(DataFormatError) as info:
        project.import_path(root, dataset="flat", labels=labels)
    assert str(info.value).startswith(f"{labels}, line 3: no file 'zz.png' in ")
    assert project.datasets() == []


@sqlite_only
def test_labels_csv_with_a_misspelled_label_column(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write_image(root / "a.png", 1)
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,lable\na.png,cat\n")
    with pytest.raises(DataFormatError) as info:
        project.import_path(root, dataset="flat", labels=labels)
    assert str(info.value) == (
        f"{labels}: no column 'label'; did you mean 'lable'? Columns: filename, lable."
    )


@sqlite_only
def test_labels_csv_without_a_file_column(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write_image(root / "a.png", 1)
    labels = tmp_path / "labels.csv"
    labels.write_text("name,label\na.png,cat\n")
    with pytest.raises(DataFormatError, match=r"no column naming the image files .* name, label"):
        project.import_path(root, dataset="flat", labels=labels)


@sqlite_only
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", r"labels\.csv: the labels file is empty"),
        (b"file,label\na.png,cat\na.png,dog\n", r"line 3: 'a\.png' is listed twice .*line 2"),
        (b"file,label\na.png,caf\xe9\n", r"labels\.csv, line 2: not valid UTF-8"),
        (b"file,label\na.png,cat,extra\n", r"line 2: expected 2 values .* got 3"),
        (b"file,label\nnotes.txt,cat\n", r"line 2: 'notes\.txt' is not an image file"),
        (b"file,label\n../a.png,cat\n", r"line 2: '\.\./a\.png' is outside the folder"),
    ],
)
def test_bad_labels_csv(project: Project, tmp_path: Path, content: bytes, expected: str) -> None:
    root = tmp_path / "flat"
    write_image(root / "a.png", 1)
    (root / "notes.txt").write_text("x")
    labels = tmp_path / "labels.csv"
    labels.write_bytes(content)
    with pytest.raises(DataFormatError, match=expected):
        project.import_path(root, dataset="flat", labels=labels)


# -- atomicity -------------------------------------------------------------------------------


def test_a_bad_file_in_a_later_batch_leaves_nothing_behind(
    project: Project, tmp_path: Path
) -> None:
    root = tmp_path / "many"
    for i in range(12):
        write_image(root / "cat" / f"{i:02d}.png", i)
    (root / "cat" / "99.png").write_text("corrupt")
    staged: list[int] = []

    def progress(done: int, total: int | None, message: str) -> None:
        staged.append(done)

    with pytest.raises(DataFormatError, match=r"99\.png: not a readable image"):
        project.import_path(root, dataset="many", batch_size=5, progress=progress)

    assert 10 in staged  # two batches were written to the staging table before the failure
    assert project.datasets() == []
    assert count(project, t.items) == 0
    assert count(project, t.staged_items) == 0
    assert import_states(project) == ["failed"]


# -- big images ------------------------------------------------------------------------------


@sqlite_only
def test_big_jpeg_statistics_come_from_a_reduced_decode(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "big"
    path = root / "x" / "photo.jpg"
    path.parent.mkdir(parents=True)
    yy, xx = np.mgrid[0:1500, 0:2400]
    pixels = ((xx // 8 + yy // 8) % 256).astype(np.uint8)
    Image.fromarray(np.stack([pixels, pixels // 2, 255 - pixels], axis=2)).save(path, quality=90)

    result = import_image_folder(project.store, root, dataset="big")

    assert result.n_new_items == 1
    item = items_by_key(project, "big")["x/photo.jpg"]
    assert (item["width"], item["height"], item["channels"]) == (2400, 1500, 3)
    full = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    assert item["pixel_mean"] == pytest.approx(full.mean(), rel=0.02)
    assert item["pixel_std"] == pytest.approx(full.std(), rel=0.05)


def test_coco_sized_jpeg_statistics_come_from_a_reduced_decode_that_still_reads_it_all(
    tmp_path: Path,
) -> None:
    from assay.ingest.images import describe_image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:480, 0:640]
    rgb = np.stack([xx * 255 / 640, yy * 255 / 480, (xx + yy) % 256], axis=2)
    rgb = (rgb + rng.normal(0, 20, rgb.shape)).clip(0, 255).astype(np.uint8)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rgb).save(path, quality=85)
    data = path.read_bytes()

    width, height, channels, mean, std = describe_image(data)

    assert (width, height, channels) == (640, 480, 3)
    full = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    assert mean == pytest.approx(full.mean(), rel=0.002)
    assert std == pytest.approx(full.std(), rel=0.05)
    with pytest.raises(OSError, match="truncated"):  # the reduced decode reads the whole file
        describe_image(data[: len(data) // 2])


@sqlite_only
def test_threads_give_the_same_items_in_the_same_order(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "many"
    for i in range(150):
        write_image(root / f"c{i % 3}" / f"{i}.png", i, mode="RGB" if i % 2 else "L")

    project.import_path(root, dataset="threads", workers=4)
    project.import_path(root, dataset="serial", workers=1)

    def facts(name: str) -> list[tuple[Any, ...]]:
        rows, _ = project.dataset(name).items(limit=1000)
        keys = ("external_key", "content_hash", "channels", "pixel_mean", "label")
        return [tuple(r[k] for k in keys) for r in rows]

    assert len(facts("threads")) == 150
    assert facts("threads") == facts("serial")


@sqlite_only
def test_threads_report_the_first_bad_file(project: Project, tmp_path: Path) -> None:
    root = tmp_path / "many"
    for i in range(100):
        write_image(root / "c" / f"{i:03d}.png", i)
    (root / "c" / "050.png").write_text("bad")
    (root / "c" / "090.png").write_text("bad too")
    with pytest.raises(DataFormatError, match=r"050\.png: not a readable image"):
        project.import_path(root, dataset="x", workers=4)
    assert project.datasets() == []


@sqlite_only
def test_symlinks_leaving_the_folder_are_refused(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    write_image(outside / "s.png", 3)
    root = tmp_path / "imgs"
    write_image(root / "cat" / "a.png", 1)
    os.symlink(outside / "s.png", root / "cat" / "leak.png")
    with pytest.raises(DataFormatError, match=r"leak\.png: this file is a link to .*outside"):
        project.import_path(root, dataset="imgs")
    os.remove(root / "cat" / "leak.png")
    os.symlink(outside, root / "dog")  # a linked folder, also outside
    with pytest.raises(DataFormatError, match="this folder is a link"):
        project.import_path(root, dataset="imgs")
    assert project.datasets() == []
    os.remove(root / "dog")
    os.symlink(root / "cat", root / "kitten")  # a link that stays inside is allowed
    assert project.import_path(root, dataset="imgs").n_new_items == 1  # (same folder: once)


@sqlite_only
def test_labels_csv_cannot_name_a_file_outside(project: Project, tmp_path: Path) -> None:
    write_image(tmp_path / "secret.png", 3)
    root = tmp_path / "flat"
    write_image(root / "a.png", 1)
    os.symlink(tmp_path / "secret.png", root / "b.png")
    for name in ("../secret.png", "b.png"):
        labels = tmp_path / "labels.csv"
        labels.write_text(f"filename,label\na.png,cat\n{name},dog\n")
        with pytest.raises(DataFormatError, match="outside"):
            project.import_path(root, dataset="flat", labels=labels)
    assert project.datasets() == []
