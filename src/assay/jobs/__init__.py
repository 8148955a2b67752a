"""Background jobs: long work (training, cross-validation, scans, maps, suggestions) runs in
worker processes, never inside a web request, and reports its progress to the ``jobs`` table.

>>> job = submit(project, ds, "cross-validate", {"model": "logreg"}, by="ana")  # doctest: +SKIP
>>> get(project, job["id"])["state"]  # doctest: +SKIP
'running'
"""

from __future__ import annotations

from typing import Any

from assay.dataset import Dataset
from assay.jobs import table
from assay.jobs.kinds import KINDS, get_kind, validate
from assay.jobs.launcher import Launcher
from assay.jobs.table import JobNotFound, cancel, get, list_jobs
from assay.jobs.worker import work


def submit(
    dataset: Dataset,
    kind: str,
    params: dict[str, Any] | None,
    *,
    by: str,
    launcher: Launcher | None = None,
) -> dict[str, Any]:
    """Queue a job of ``kind`` on the dataset (parameters checked now) and, with a launcher,
    start a worker for it. Without one, ``assay jobs work`` (or :func:`work`) runs it."""
    checked = validate(kind, params)
    job = table.create(dataset.store, dataset.id, kind, checked, by)
    if launcher is not None:
        launcher.kick()
    return job


__all__ = [
    "KINDS",
    "JobNotFound",
    "Launcher",
    "cancel",
    "get",
    "get_kind",
    "list_jobs",
    "submit",
    "validate",
    "work",
]
