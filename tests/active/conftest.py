"""Fixtures of the active-learning tests: a small dataset of labeled points per backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from activekit import make_points

import assay


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    return assay.init(tmp_path, db=store_url)


@pytest.fixture
def ds(project: assay.Project) -> assay.Dataset:
    """40 points with ground truth, and an empty human layer ``alice`` to label into."""
    dataset = make_points(project)
    dataset.create_layer("alice")
    return dataset
