"""The fast path of box imports: images read on forked processes (``ingest.pool``), a new
dataset's boxes written with each batch of its images, and the file's declared sizes checked
against the real images. Same result as the one-by-one path, errors in file order, nothing
left behind (no dataset, no process)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import assay
from assay.errors import DataFormatError
from assay.ingest.pool import OrderedPool
from assay.processes import can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs Linux and a single-threaded process")

N_IMAGES = 23  # with batch_size=5: five batches, the last one short


def _square(x: int) -> int:
    if x == 13:
        raise DataFormatError(f"item {x} is bad")
    return x * x


def test_pool_keeps_the_order_and_raises_the_first_error_after_the_rows_before_it() -> None:
    with OrderedPool(_square, workers=2, chunk=3) as pool:
        assert list(pool.map(range(12))) == [x * x for x in range(12)]
    for chunk in (1, 2, 3):  # chunks still sent to a worker that failed: no broken pipe
        got: list[int] = []
        pool = OrderedPool(_square, workers=2, chunk=chunk)
        with pool, pytest.raises(DataFormatError, match="item 13 is bad"):
            for value in pool.map(range(40)):
                got.append(value)
        assert got == [x * x for x in range(13)]
    assert multiprocessing.active_children() == [] and can_fork()


def test_workers_stop_when_the_importing_process_is_killed() -> None:
    import signal
    import subprocess
    import sys

    import psutil

    code = (
        "import time\n"
        "from assay.ingest.pool import OrderedPool\n"
        "with OrderedPool(time.sleep, workers=2, chunk=1) as pool:\n"
        "    for n, _ in enumerate(pool.map([0.01] * 100_000)):\n"
        "        if n == 5:\n"
        "            print('reading', flush=True)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "reading\n"
        workers = psutil.Process(child.pid).children(recursive=True)
        assert len(workers) == 2
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        # Each worker holds no copy of the killed process's pipe ends: it sees them close.
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == []
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()


def _write(root: Path, sizes: list[tuple[int, int]] | None = None) -> Path:
    """``root/images/{n}.png`` of varying sizes and ``root/instances_x.json`` with 0-3 boxes
    an image (declared sizes: ``sizes``, default the real ones)."""
    rng = np.random.default_rng(7)
    real = [(20 + n % 5, 16 + n % 3) for n in range(N_IMAGES)]
    (root / "images").mkdir(parents=True)
    images, anns = [], []
    for n, (w, h) in enumerate(real):
        mode = "RGB" if n % 2 else "L"
        pixels = rng.integers(0, 255, (h, w, 3) if mode == "RGB" else (h, w), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"{n}.png")
        dw, dh = (sizes or real)[n]
        images.append({"id": 500 + n, "file_name": f"{n}.png", "width": dw, "height": dh})
        for _ in range(n % 4):
            anns.append(
                {"id": len(anns) + 1, "image_id": 500 + n, "category_id": 1 + n % 2,
                 "bbox": [1.0, 2.0, 5.5, 4.0]}
            )  # fmt: skip
    doc = {"images": images, "annotations": anns,
           "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}  # fmt: skip
    path = root / "instances_x.json"
    path.write_text(json.dumps(doc))
    return path


def _facts(project: assay.Project, name: str) -> list[tuple[Any, ...]]:
    ds = project.dataset(name)
    rows, _ = ds.items(limit=100)
    keys = ("external_key", "content_hash", "width", "height", "channels", "pixel_mean")
    return [
        (*(r[k] for k in keys), json.dumps(ds.item(r["external_key"])["labels"]["boxes"]["value"]))
        for r in rows
    ]


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    """A project on each backend (``store_url``: SQLite and PostgreSQL)."""
    return assay.init(tmp_path / "project", db=store_url)


def test_forked_readers_and_batched_boxes_give_what_one_by_one_gives(
    project: assay.Project, tmp_path: Path
) -> None:
    path = _write(tmp_path / "data")
    fast = project.import_path(path, dataset="fast", workers=2, batch_size=5)
    slow = project.import_path(path, dataset="slow", workers=1, use_process=False)
    assert (fast.n_new_items, fast.n_new_labels) == (N_IMAGES, N_IMAGES)
    assert (slow.n_new_items, slow.n_new_labels) == (N_IMAGES, N_IMAGES)
    assert _facts(project, "fast") == _facts(project, "slow")
    assert len(_facts(project, "fast")) == N_IMAGES
    # Into the existing dataset the boxes are compared at publish: nothing new to write.
    again = project.import_path(path, dataset="fast", workers=2, batch_size=5)
    assert (again.n_new_items, again.n_new_labels) == (0, 0)
    assert multiprocessing.active_children() == [] and can_fork()


def test_a_declared_size_that_is_not_the_image_names_the_image(
    project: assay.Project, tmp_path: Path
) -> None:
    sizes = [(20 + n % 5, 16 + n % 3) for n in range(N_IMAGES)]
    sizes[17] = (64, 48)
    path = _write(tmp_path / "data", sizes)
    message = r"image '17\.png' is listed as 64 x 48 pixels but its file .*17\.png is 22 x 18"
    with pytest.raises(DataFormatError, match=message):
        project.import_path(path, dataset="d", workers=2, batch_size=5)
    assert project.datasets() == []
    assert multiprocessing.active_children() == [] and can_fork()


def test_a_box_outside_a_later_batchs_real_image_leaves_nothing(
    project: assay.Project, tmp_path: Path
) -> None:
    path = _write(tmp_path / "data")
    doc = json.loads(path.read_text())
    for im in doc["images"]:  # no declared sizes: only the real images can refuse the box
        del im["width"], im["height"]
    bad = next(a for a in doc["annotations"] if a["image_id"] == 500 + 19)
    bad["bbox"] = [20.0, 0.0, 10.0, 5.0]  # 19.png is 24 wide
    path.write_text(json.dumps(doc))
    message = (
        rf"annotation id {bad['id']} \(image '19\.png'\): the box \[20, 0, 10, 5\] reaches "
        r"outside the 24 x 17 image"
    )
    with pytest.raises(DataFormatError, match=message):
        project.import_path(path, dataset="d", workers=2, batch_size=5)
    assert project.datasets() == []
    assert project.imports()[0]["state"] == "failed"


def test_coco_read_raw_agrees_with_in_memory_and_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assay.ingest.coco as coco

    path = _write(tmp_path / "data")
    doc = json.loads(path.read_text())
    doc["annotations"][3]["category_id"] = 2.0  # not an int for msgspec: the checked loop
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({**doc, "info": {"year": 2017}}))
    monkeypatch.setattr(coco, "RAW_CHUNK", 4)
    for file in (path, odd):
        whole = coco.read_coco(file, images=path.parent / "images")
        raw = coco.read_coco(file, images=path.parent / "images", in_memory_bytes=0)
        monkeypatch.setattr(coco, "RAW_BYTES", 0)
        streamed = coco.read_coco(file, images=path.parent / "images", in_memory_bytes=0)
        monkeypatch.setattr(coco, "RAW_BYTES", 1 << 30)
        for other in (raw, streamed):
            assert other.images == whole.images and other.classes == whole.classes == ["a", "b"]
            for column in ("image", "cls", "xywh", "ref"):
                np.testing.assert_array_equal(getattr(other, column), getattr(whole, column))
        assert whole.n_boxes == sum(n % 4 for n in range(N_IMAGES))


def test_coco_read_raw_names_a_bad_annotation(tmp_path: Path) -> None:
    from assay.ingest.coco import read_coco

    path = _write(tmp_path / "data")
    doc = json.loads(path.read_text())
    doc["annotations"][5]["category_id"] = 9
    path.write_text(json.dumps(doc))
    with pytest.raises(DataFormatError, match=r"annotation id 6 \(image '\d+\.png'\): unknown "):
        read_coco(path, in_memory_bytes=0)
