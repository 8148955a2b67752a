"""Datasets: the list, one dataset, its classes, layers and statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from assay.web.auth import Reader
from assay.web.state import app_state
from assay.web.views import data_checks, datasets
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["datasets"])
FilterParam = Annotated[
    str | None,
    Query(max_length=2000, description="A filter such as 'split=test, label=3'."),
]


@router.get("/datasets")
def list_datasets(request: Request, who: Reader) -> dict[str, Any]:
    """Every dataset with its item count."""
    return {"ok": True, "datasets": datasets.list_datasets(app_state(request))}


@router.get("/datasets/{name}")
def get_dataset(name: str, request: Request, who: Reader) -> dict[str, Any]:
    """One dataset: size, classes and the layers you may see."""
    state = app_state(request)
    return {"ok": True, **datasets.dataset_detail(state, who, open_dataset(state, name))}


@router.get("/datasets/{name}/checks")
def latest_checks(name: str, request: Request, who: Reader) -> dict[str, Any]:
    """The dataset's latest data checks (``assay check``): when they ran, pass/fail/skipped
    counts, and per expectation its status, message and first failing items (with their
    pages' addresses). ``checked`` is false when they never ran. In blind mode, only the
    results about layers you may see and about the items themselves (``redacted`` says so)."""
    state = app_state(request)
    return data_checks.latest(who, open_dataset(state, name))


@router.get("/datasets/{name}/classes")
def classes(name: str, request: Request, who: Reader) -> dict[str, Any]:
    """The dataset's class names in schema order."""
    dataset = open_dataset(app_state(request), name)
    return {"ok": True, "classes": dataset.classes()}


@router.get("/datasets/{name}/layers")
def layers(name: str, request: Request, who: Reader) -> dict[str, Any]:
    """The annotation layers you may see, and whether you may write to each."""
    state = app_state(request)
    return {"ok": True, "layers": datasets.layers(state, who, open_dataset(state, name))}


@router.get("/datasets/{name}/statistics")
def statistics(
    name: str, request: Request, who: Reader, filter: FilterParam = None
) -> dict[str, Any]:
    """The inventory of the dataset or of the slice ``filter`` selects."""
    state = app_state(request)
    return datasets.statistics(state, who, open_dataset(state, name), filter)


@router.get("/datasets/{name}/statistics/boxes")
def box_statistics(
    name: str,
    request: Request,
    who: Reader,
    layer: Annotated[str, Query(min_length=1, max_length=200, description="A box layer.")],
    filter: FilterParam = None,
) -> dict[str, Any]:
    """The statistics of one box layer: images annotated, with no boxes and not annotated,
    boxes per image, box sizes (pixels and relative to the image), aspect ratios, the class
    balance of the boxes and boxes touching the image's edge, as histograms and counts."""
    state = app_state(request)
    return datasets.layer_statistics(state, who, open_dataset(state, name), layer, filter)


@router.get("/datasets/{name}/statistics/layer")
def layer_statistics(
    name: str,
    request: Request,
    who: Reader,
    layer: Annotated[str, Query(min_length=1, max_length=200, description="A layer.")],
    filter: FilterParam = None,
) -> dict[str, Any]:
    """The statistics of one layer by its annotation kind (``value_kind`` says which): boxes
    per image and their sizes, tag frequencies and co-occurrence, span classes and lengths,
    the distribution of numbers."""
    state = app_state(request)
    return datasets.layer_statistics(state, who, open_dataset(state, name), layer, filter)
