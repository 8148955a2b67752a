"""Fixtures of the label, snapshot and review tests: a small labeled dataset per backend."""

from __future__ import annotations

from pathlib import Path

import pytest

import assay
from labelkit import make_dataset


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    return assay.init(tmp_path, db=store_url)


@pytest.fixture
def ds(project: assay.Project) -> assay.Dataset:
    return make_dataset(project, "pets")
