"""Snapshots of the labels and diffs between them, over the web.

Anyone may list snapshots and read diffs; reviewers and admins take snapshots. In blind mode
an annotator's diff covers only the layers they may see: the other layers' changes (and the
per-class totals they feed) are left out.
"""

from __future__ import annotations

from typing import Any

from assay.dataset import Dataset
from assay.web.app import AppState
from assay.web.auth import Principal
from assay.web.labeling import is_blind
from assay.web.service import layers_for

DIFF_ITEMS = 500


def list_snapshots(state: AppState, who: Principal, dataset: Dataset) -> dict[str, Any]:
    """The dataset's snapshots, newest first (blind annotators see only their layers' names)."""
    found = list(reversed(dataset.snapshots()))
    if is_blind(state, who):
        visible = {r.name for r in layers_for(state, who, dataset)}
        found = [{**s, "layers": [n for n in s["layers"] if n in visible]} for s in found]
    return {"ok": True, "snapshots": found}


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
    if is_blind(state, who):
        visible = {r.name for r in layers_for(state, who, dataset)}
        out["layers"] = [d for d in out["layers"] if d["layer"] in visible]
        out["items"] = [i for i in out["items"] if i["layer"] in visible]
        per_class: dict[str, dict[str, int]] = {}
        for d in out["layers"]:
            for flow in d["flows"]:
                if flow["from"] is not None:
                    per_class.setdefault(flow["from"], {"gained": 0, "lost": 0})
                    per_class[flow["from"]]["lost"] += flow["items"]
                if flow["to"] is not None:
                    per_class.setdefault(flow["to"], {"gained": 0, "lost": 0})
                    per_class[flow["to"]]["gained"] += flow["items"]
        out["per_class"] = dict(sorted(per_class.items()))
        out["n_changes"] = sum(d["relabeled"] + d["added"] + d["removed"] for d in out["layers"])
    return {"ok": True, **out}
