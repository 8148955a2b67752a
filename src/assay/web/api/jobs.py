"""Jobs: start long work (training, cross-validation, scans, maps, suggestions) and follow it.

A job is queued and run by a worker process (:mod:`assay.jobs`), so the request that starts
it returns at once (202) and the page polls ``GET /jobs/{id}`` for progress. Its parameters
are checked when it is created, against what its submitter may do (a model import path is
for admins; a filter may read only layers they see). In blind mode an annotator sees other
people's jobs without their parameters, results, messages or errors
(:meth:`assay.access.Viewer.job`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from assay import jobs
from assay.errors import InvalidParameter
from assay.store.vocabulary import JOB_STATES
from assay.web.auth import Reader
from assay.web.errors import Forbidden
from assay.web.params import Id
from assay.web.state import AppState, app_state
from assay.web.views.datasets import open_dataset

router = APIRouter(tags=["jobs"])
JobId = Id


class JobRequest(BaseModel):
    """A job to start: its kind and that kind's parameters (see ``GET /jobs/kinds``)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=32)
    params: dict[str, Any] = Field(default_factory=dict, max_length=20)


@router.get("/jobs/kinds")
def kinds(who: Reader) -> dict[str, Any]:
    """The kinds of job, the role each needs and the JSON schema of its parameters."""
    return {
        "ok": True,
        "kinds": [
            {
                "kind": k.name,
                "title": k.title,
                "permission": k.permission,
                "params": k.params.model_json_schema(),
            }
            for k in jobs.KINDS.values()
            if not k.on_project  # imports start with an upload (api/imports.py)
        ],
    }


@router.post("/datasets/{name}/jobs", status_code=202)
def start_job(name: str, body: JobRequest, request: Request, who: Reader) -> dict[str, Any]:
    """Queue a job on the dataset as you; a worker starts it at once if one is free."""
    state = app_state(request)
    dataset = open_dataset(state, name)
    kind = jobs.get_kind(body.kind)
    if not who.can(kind.permission):
        raise Forbidden(f"Your role ({who.user.role}) may not start {kind.name!r} jobs.")
    if kind.on_project:
        raise InvalidParameter(
            f"{kind.name!r} jobs start with an upload: POST /api/v1/datasets/{{name}}/imports."
        )
    job = jobs.submit(
        dataset, kind.name, body.params, by=who.user.username, launcher=state.jobs,
        viewer=who.viewer,
    )  # fmt: skip
    return {"ok": True, "job": who.viewer.job(job)}


@router.get("/datasets/{name}/jobs")
def list_jobs(
    name: str,
    request: Request,
    who: Reader,
    state: Annotated[str | None, Query(max_length=16)] = None,
    before: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The dataset's jobs, newest first; ``before`` a job id for the next page."""
    app = app_state(request)
    dataset = open_dataset(app, name)
    states = _states(state)
    rows = jobs.list_jobs(dataset.store, dataset.id, states=states, before=before, limit=limit)
    _keep_working(app, rows)
    shown = [who.viewer.job(r) for r in rows]
    return {"ok": True, "jobs": shown, "before": rows[-1]["id"] if len(rows) == limit else None}


@router.get("/datasets/{name}/jobs/{job_id}")
def get_dataset_job(name: str, job_id: JobId, request: Request, who: Reader) -> dict[str, Any]:
    """One job of the dataset."""
    app = app_state(request)
    dataset = open_dataset(app, name)
    job = jobs.get(dataset.store, job_id, dataset.id)
    _keep_working(app, [job])
    return {"ok": True, "job": who.viewer.job(job)}


@router.get("/jobs/{job_id}")
def get_job(job_id: JobId, request: Request, who: Reader) -> dict[str, Any]:
    """One job, with its progress (``done``/``total``/``fraction``/``message``) and, once
    done, its result or error."""
    return {"ok": True, "job": who.viewer.job(_job(app_state(request), job_id))}


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: JobId, request: Request, who: Reader) -> dict[str, Any]:
    """Cancel a queued job, or ask a running one to stop (it stops at its next progress
    report). Its starter, reviewers and admins may cancel it."""
    app = app_state(request)
    job = _job(app, job_id)
    if job["created_by"] != who.user.username and not who.can("review"):
        raise Forbidden("Only who started a job, a reviewer or an admin may cancel it.")
    return {"ok": True, "job": who.viewer.job(jobs.cancel(app.project.store, job_id))}


def _job(app: AppState, job_id: int) -> dict[str, Any]:
    job = jobs.get(app.project.store, job_id)
    _keep_working(app, [job])
    return job


def _keep_working(app: AppState, rows: list[dict[str, Any]]) -> None:
    """Start a worker if a job waits and none is there: a worker that was about to exit
    when the job was queued would otherwise leave it waiting (pages poll, so this heals)."""
    if any(r["state"] == "queued" for r in rows):
        app.jobs.kick()


def _states(state: str | None) -> tuple[str, ...] | None:
    if not state or state == "any":
        return None
    if state == "active":
        return ("queued", "running")
    if state not in JOB_STATES:
        raise InvalidParameter(
            f"Unknown job state {state!r}: use active, any or one of {', '.join(JOB_STATES)}."
        )
    return (state,)
