"""``assay jobs``: the background jobs the web app started (list, show, cancel) and a
foreground worker to run queued ones (``assay jobs work``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import app, handle_errors, open_project
from assay.cli.label_cmd import DatasetOpt, JsonOpt, dataset_of
from assay.cli.render import console, print_json

jobs_app = typer.Typer(help="Background jobs: list, show, cancel, and run queued ones.")
app.add_typer(jobs_app, name="jobs")


def _progress(job: dict[str, Any]) -> str:
    if job["fraction"] is not None:
        return f"{job['fraction']:.0%}"
    return "" if job["done"] is None else str(job["done"])


@jobs_app.command("list")
@handle_errors
def list_jobs(
    dataset: DatasetOpt = None,
    state: Annotated[
        str | None, typer.Option(help="active, queued, running, done, failed or cancelled.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """The dataset's jobs, newest first.

    Example: assay jobs list --state active
    """
    from assay import jobs

    ds = dataset_of(dataset)
    states = ("queued", "running") if state == "active" else (state,) if state else None
    rows = jobs.list_jobs(ds.store, ds.id, states=states, limit=limit)
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"jobs of {ds.name}")
    for col in ("id", "kind", "state", "progress", "message", "by", "created"):
        table.add_column(col)
    for j in rows:
        table.add_row(
            str(j["id"]), j["kind"], j["state"], _progress(j), j["error"] or j["message"] or "",
            j["created_by"], (j["created_at"] or "")[:19],
        )  # fmt: skip
    console.print(table)


@jobs_app.command("show")
@handle_errors
def show(job_id: Annotated[int, typer.Argument(min=1)], as_json: JsonOpt = False) -> None:
    """One job: parameters, progress, result or error."""
    from assay import jobs

    job = jobs.get(open_project().store, job_id)
    if as_json:
        print_json(job)
        return
    console.print(f"job {job['id']}: {job['kind']} ({job['state']}) by {job['created_by']}")
    console.print(f"  params: {json.dumps(job['params'])}")
    console.print(f"  progress: {_progress(job)} {job['message'] or ''}")
    if job["error"]:
        console.print(f"  error: {job['error']}")
    if job["result"] is not None:
        console.print(f"  result: {json.dumps(job['result'])[:2000]}")


@jobs_app.command("cancel")
@handle_errors
def cancel(job_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Cancel a queued job, or ask a running one to stop at its next progress report."""
    from assay import jobs

    job = jobs.cancel(open_project().store, job_id)
    console.print(
        f"job {job['id']}: {job['state']}" + (" (stopping)" if job["state"] == "running" else "")
    )


@jobs_app.command("work")
@handle_errors
def work(
    idle: Annotated[
        float, typer.Option(help="Seconds to wait for new jobs once the queue is empty.")
    ] = 0.0,
    max_running: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Run queued jobs in this terminal until the queue is empty (or, with --idle, until it
    stays empty that long): for a deployment that keeps a worker service beside the server.

    Example: assay jobs work --idle 3600
    """
    from assay import jobs

    ran = jobs.work(open_project(), max_running=max_running, idle_s=idle)
    console.print(f"ran {ran} job(s)")
