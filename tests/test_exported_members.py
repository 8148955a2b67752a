"""The public API: every name in ``__all__`` exists, the list is sorted, nothing is missing."""

from __future__ import annotations

import importlib

import pytest

from assay.stats.aggregators import Aggregator


@pytest.mark.parametrize(
    "module",
    ["assay", "assay.stats", "assay.ingest", "assay.store", "assay.labels", "assay.review"],
)
def test_all_names_exist_and_are_sorted(module: str) -> None:
    mod = importlib.import_module(module)
    assert all(hasattr(mod, name) for name in mod.__all__)
    assert list(mod.__all__) == sorted(mod.__all__)


def test_every_aggregator_is_exported() -> None:
    import assay.stats
    import assay.stats.aggregators as aggregators

    classes = {
        name
        for name, value in vars(aggregators).items()
        if isinstance(value, type) and issubclass(value, Aggregator)
    }
    assert classes <= set(assay.stats.__all__)
