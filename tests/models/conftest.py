"""Fixtures of the model tests: a project per backend with a tiny image dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from modelkit import make_images

import assay


@pytest.fixture
def model_project(tmp_path: Path, store_url: str) -> assay.Project:
    return assay.init(tmp_path / "project", db=store_url)


@pytest.fixture
def images(model_project: assay.Project) -> assay.Dataset:
    """36 digit images (0, 1, 2), half train and half test, labeled in ground_truth."""
    return make_images(model_project)
