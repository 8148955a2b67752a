"""Background jobs: long work (training, cross-validation, scans, maps, suggestions) runs in
worker processes, never inside a web request, and reports its progress to the ``jobs`` table.

>>> job = submit(project, ds, "cross-validate", {"model": "logreg"}, by="ana")  # doctest: +SKIP
>>> get(project, job["id"])["state"]  # doctest: +SKIP
'running'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.access import Viewer
from assay.dataset import Dataset
from assay.errors import InvalidParameter
from assay.jobs import table
from assay.jobs.kinds import KINDS, check_access, get_kind, validate
from assay.jobs.launcher import Launcher
from assay.jobs.table import JobNotFound, active_params, cancel, get, list_jobs
from assay.jobs.worker import work

if TYPE_CHECKING:
    from assay.project import Project


def submit(
    dataset: Dataset,
    kind: str,
    params: dict[str, Any] | None,
    *,
    by: str,
    launcher: Launcher | None = None,
    viewer: Viewer | None = None,
) -> dict[str, Any]:
    """Queue a job of ``kind`` on the dataset (parameters checked now, against what
    ``viewer``, the submitter, may do: default an admin) and, with a launcher, start a worker
    for it. Without one, ``assay jobs work`` (or :func:`work`) runs it."""
    viewer = viewer or Viewer.local(by)
    checked = validate(kind, params, viewer=viewer)
    check_access(dataset, kind, checked, viewer)
    job = table.create(dataset.store, dataset.id, kind, checked, by)
    if launcher is not None:
        launcher.kick()
    return job


def submit_on_project(
    project: Project,
    kind: str,
    params: dict[str, Any] | None,
    *,
    by: str,
    dataset_id: int | None = None,
    launcher: Launcher | None = None,
) -> dict[str, Any]:
    """Queue a job that runs on the project (an ``import``, whose dataset may not exist yet).

    ``dataset_id`` lists it with that dataset's jobs at once; without it, the job is attached
    to the dataset it made when it is done.
    """
    if not get_kind(kind).on_project:
        raise InvalidParameter(f"Job {kind!r} runs on a dataset: submit it with submit().")
    checked = validate(kind, params)
    job = table.create(project.store, dataset_id, kind, checked, by)
    if launcher is not None:
        launcher.kick()
    return job


__all__ = [
    "KINDS",
    "JobNotFound",
    "Launcher",
    "active_params",
    "cancel",
    "get",
    "get_kind",
    "list_jobs",
    "submit",
    "submit_on_project",
    "validate",
    "work",
]
