"""A dataset's data checks as the overview and ``GET /api/v1/datasets/{name}/checks`` show
them: the latest saved report (:func:`assay.checks.latest_report`, one indexed read), each
failure's first items with the address of their pages, cut to what the user may see.

Blind mode: what a blind annotator may see of a result is the viewer's rule
(:meth:`assay.access.Viewer.can_see_check`, from what the check read).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from assay import checks
from assay.dataset import Dataset
from assay.web.auth import Principal
from assay.web.urls import item_page_url

# Rows of the table: failures first, then what could not run, then what passed.
ORDER = {"fail": 0, "skipped": 1, "pass": 2}


def commands(dataset: str) -> list[str]:
    """The two commands that make a report: infer the expectations, then run them."""
    name = shlex.quote(dataset)
    return [f"assay check --init --dataset {name}", f"assay check --dataset {name}"]


def shown_to(who: Principal, dataset: Dataset, results: list[checks.Result]) -> list[Any]:
    """The results the user may see (all of them unless the viewer is blind)."""
    if not who.viewer.blind:
        return list(results)
    visible = who.viewer.layer_names(dataset)
    return [r for r in results if who.viewer.can_see_check(r, visible)]


def _source(dataset: Dataset, source: str) -> str:
    """The expectations file relative to the project (no server paths on the page)."""
    path = Path(source)
    try:
        return str(path.resolve().relative_to(Path(dataset.project.root).resolve()))
    except ValueError:
        return path.name


def latest(who: Principal, dataset: Dataset) -> dict[str, Any]:
    """The latest check report of ``dataset`` as ``who`` may see it.

    ``checked`` is False (and ``results`` empty) when the checks never ran; ``commands`` says
    how to run them either way, ``has_expectations`` whether the file to run exists yet.
    ``redacted`` says whether results were left out (blind mode); ``counts`` and ``passed``
    are then of the shown results only.
    """
    path = checks.expectations_path(dataset)
    out: dict[str, Any] = {
        "ok": True,
        "dataset": dataset.name,
        "checked": False,
        "commands": commands(dataset.name),
        "expectations": _source(dataset, str(path)),
        "has_expectations": path.is_file(),
        "item_cap": checks.ITEM_CAP,
    }
    report = checks.latest_report(dataset)
    if report is None:
        return {**out, "created_at": None, "passed": None, "redacted": False,
                "counts": {"pass": 0, "fail": 0, "skipped": 0}, "results": []}  # fmt: skip
    shown = shown_to(who, dataset, report.results)
    counts = {"pass": 0, "fail": 0, "skipped": 0}
    for r in shown:
        counts[r.status] += 1
    results = [_result(dataset.name, r) for r in shown]
    results.sort(key=lambda r: ORDER.get(r["status"], 3))  # stable: file order within
    return {
        **out,
        "checked": True,
        "created_at": report.created_at.isoformat(),
        "expectations": _source(dataset, report.source),
        "passed": counts["fail"] == 0,
        "counts": counts,
        "redacted": len(shown) < len(report.results),
        "results": results,
    }


def _result(dataset: str, r: checks.Result) -> dict[str, Any]:
    """One result with its failing items' page addresses and how many more it has."""
    items = [
        {
            "id": it["id"],
            "key": it.get("key"),
            "url": item_page_url(dataset, it["id"], it.get("key")),
        }
        for it in r.items
    ]
    return {
        "name": r.name,
        "check": r.check,
        "layer": r.layer,
        "status": r.status,
        "message": r.message,
        "line": r.line,
        "n_items": r.n_items,
        "items": items,
        "more": max(0, r.n_items - len(items)),
    }
