"""Snapshots of the labels and diffs between them, over the web.

Anyone may list snapshots and read diffs; reviewers and admins take snapshots. In blind mode
an annotator's diff covers only the layers they may see: the other layers' changes (and the
per-class totals they feed) are left out.
"""

from __future__ import annotations

from typing import Any

from assay.dataset import Dataset
from assay.web.auth import Principal
from assay.web.state import AppState

DIFF_ITEMS = 500


def list_snapshots(state: AppState, who: Principal, dataset: Dataset) -> dict[str, Any]:
    """The dataset's snapshots, newest first (blind annotators see only their layers' names)."""
    found = list(reversed(dataset.snapshots()))
    return {"ok": True, "snapshots": who.viewer.snapshots(found, _visible(who, dataset))}


def create_snapshot(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    name: str,
    layers: list[str] | None,
    description: str = "",
) -> dict[str, Any]:
    """Record the current labels of ``layers`` (default: every layer) under ``name``."""
    info = dataset.snapshot(
        name, layers=layers or None, author=who.user.username, description=description
    )
    info.pop("layer_ids", None)
    info.pop("id", None)
    return {"ok": True, "snapshot": info}


def diff(
    state: AppState, who: Principal, dataset: Dataset, *, a: str, b: str, limit: int = DIFF_ITEMS
) -> dict[str, Any]:
    """What changed from ``a`` to ``b`` (snapshot names or ``now``): per layer, with the
    class-to-class flows, per class and per item (the first ``limit`` changed items)."""
    out = dataset.diff(a, b, limit=limit).to_dict()
    return {"ok": True, **who.viewer.diff(out, _visible(who, dataset))}


def _visible(who: Principal, dataset: Dataset) -> set[str]:
    """The layers the user may see, read only when blind mode hides some."""
    return who.viewer.layer_names(dataset) if who.viewer.blind else set()
