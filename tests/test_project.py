"""Projects: init, open (like git, from a sub-folder), configuration and dataset lookup."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import assay
from assay.errors import DataFormatError, DatasetNotFound, InvalidParameter, ProjectNotFound
from assay.ingest.arrays import import_arrays
from assay.store.migrate import HEAD, current_revision, script_head


def _tiny_images(project: assay.Project, name: str = "tiny", n: int = 6) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(n, 4, 4), dtype=np.uint8)
    labels = [str(i % 2) for i in range(n)]
    import_arrays(project.store, [(images, labels)], dataset=name, source="test", format="test")


def test_head_constant_matches_migration_scripts() -> None:
    assert script_head() == HEAD


def test_init_creates_config_and_migrated_store(tmp_path: Path) -> None:
    project = assay.init(tmp_path / "p")
    assert (tmp_path / "p" / "assay.toml").is_file()
    assert (tmp_path / "p" / "assay.db").is_file()
    assert current_revision(project.store) == HEAD
    assert project.datasets() == []


def test_open_finds_project_from_a_subfolder(tmp_path: Path) -> None:
    assay.init(tmp_path)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert assay.open(sub).root == tmp_path.resolve()


def test_open_without_project_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound, match=r"assay init"):
        assay.open(tmp_path)


def test_init_on_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(InvalidParameter, match="is a file"):
        assay.init(target)


def test_broken_config_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "assay.toml").write_text("[store\n")
    with pytest.raises(DataFormatError, match=r"assay\.toml: not valid TOML"):
        assay.open(tmp_path)


def test_init_with_db_url_is_remembered(tmp_path: Path, store_url: str) -> None:
    assay.init(tmp_path, db=store_url)
    reopened = assay.open(tmp_path)
    assert reopened.store.dialect == ("sqlite" if "sqlite" in reopened.store.url else "postgresql")
    if "postgresql" in store_url:
        assert reopened.store.dialect == "postgresql"


def test_dataset_lookup_suggests_close_names(tmp_path: Path, store_url: str) -> None:
    project = assay.init(tmp_path, db=store_url)
    _tiny_images(project, "digits")
    assert project.dataset("digits").name == "digits"
    with pytest.raises(DatasetNotFound, match=r"Did you mean 'digits'"):
        project.dataset("digit")


def test_dataset_names_are_normalized(tmp_path: Path) -> None:
    project = assay.init(tmp_path)
    _tiny_images(project, "café")
    # NFD spelling and surrounding spaces name the same dataset.
    assert project.dataset(" cafe\u0301 ").name == "café"
    with pytest.raises(InvalidParameter, match="empty"):
        project.dataset("   ")


def test_items_are_paged_by_keyset(tmp_path: Path, store_url: str) -> None:
    project = assay.init(tmp_path, db=store_url)
    _tiny_images(project, n=7)
    ds = project.dataset("tiny")
    keys, after = [], None
    while True:
        rows, after = ds.items(limit=3, after=after)
        keys += [r["external_key"] for r in rows]
        if after is None:
            break
    assert keys == [str(i) for i in range(7)]
    assert [r["label"] for r in ds.items(limit=7)[0]] == ["0", "1", "0", "1", "0", "1", "0"]
