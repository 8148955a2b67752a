"""The worker: a separate process that claims queued jobs and runs them one at a time.

Running jobs outside the web server keeps every request fast (a model fit holds a core and
the GIL for minutes), and a crash in a job cannot take the server down. The server starts a
worker when a job is queued (:mod:`assay.jobs.launcher`); ``assay jobs work`` runs one in the
foreground for deployments that keep a worker service. A worker exits when the queue is
empty (after ``idle_s``), so nothing idles in the background.

    python -m assay.jobs.worker PROJECT_FOLDER      # the store URL may come in ASSAY_JOB_DB
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from types import FrameType
from typing import Any

from assay.errors import AssayError, hide_paths
from assay.jobs import table
from assay.jobs.kinds import get_kind
from assay.project import Project

REPORT_EVERY_S = 0.5
DB_ENV = "ASSAY_JOB_DB"
USER_ENV = "ASSAY_USER"  # read by assay.labels.writes.default_author
DEFAULT_MAX_RUNNING = 1


class JobCancelled(Exception):
    """Raised inside a job's progress callback when someone asked it to stop."""


class Stopped(Exception):
    """Raised in the worker's main thread when it is told to stop (SIGTERM)."""


def run_one(project: Project, job: dict[str, Any]) -> None:
    """Run a claimed job to its end: done with its result, failed with the reason, or
    cancelled. A thread beats the heartbeat meanwhile, whatever the job is doing."""
    store = project.store
    job_id = job["id"]
    stop = threading.Event()
    cancel = threading.Event()

    def beat() -> None:
        while not stop.wait(table.HEARTBEAT_S):
            try:
                if table.report(store, job_id, None, None, None):
                    cancel.set()
            except AssayError:
                pass  # the store is busy for a moment; the next beat tries again

    last = 0.0

    def progress(done: int, total: int | None, message: str) -> None:
        nonlocal last
        if cancel.is_set():
            raise JobCancelled
        now = time.monotonic()
        if now - last >= REPORT_EVERY_S or (total is not None and done >= total):
            last = now
            if table.report(store, job_id, done, total, message):
                cancel.set()
                raise JobCancelled

    beater = threading.Thread(target=beat, name=f"assay-job-{job_id}-heartbeat", daemon=True)
    beater.start()
    # Whatever the job writes without naming an author (a run's labels, its record) is
    # attributed to the person who started it, not to the worker's login.
    previous_user = os.environ.get(USER_ENV)
    os.environ[USER_ENV] = job["created_by"]
    try:
        kind = get_kind(job["kind"])
        params = kind.params.model_validate(job["params"])
        target: Any = project if kind.on_project else _dataset(project, job["dataset_id"])
        result = _jsonable(kind.run(target, params, job["created_by"], progress))
        # A project job that made a dataset (an import into a new one) is attached to it.
        made = result.get("dataset_id") if kind.on_project else None
        table.finish(store, job_id, result, dataset_id=made if isinstance(made, int) else None)
    except JobCancelled:
        table.fail(store, job_id, "cancelled by a user", cancelled=True)
    except Stopped:
        table.fail(store, job_id, "stopped: the worker was shut down; start the job again")
        raise
    except AssayError as exc:
        table.fail(store, job_id, _shown(project, str(exc)))
    except Exception as exc:  # a job's failure is reported, never lost
        traceback.print_exc()
        table.fail(store, job_id, _shown(project, f"{type(exc).__name__}: {exc}"))
    finally:
        if previous_user is None:
            os.environ.pop(USER_ENV, None)
        else:
            os.environ[USER_ENV] = previous_user
        stop.set()
        beater.join(timeout=10)


def _shown(project: Project, message: str) -> str:
    """A job's error as its users see it (over the web too): paths under the project are
    named relative to it."""
    return hide_paths(message, {project.root: ""})


def _dataset(project: Project, dataset_id: int) -> Any:
    for row in project.datasets():
        if int(row["id"]) == dataset_id:
            return project.dataset(row["name"])
    raise AssayError(f"The job's dataset {dataset_id} no longer exists.")


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def work(
    project: Project,
    *,
    max_running: int = DEFAULT_MAX_RUNNING,
    idle_s: float = 0.0,
    max_jobs: int | None = None,
) -> int:
    """Claim and run queued jobs until none is left (waiting ``idle_s`` for more); returns
    how many ran."""
    ran = 0
    idle_since = time.monotonic()
    while max_jobs is None or ran < max_jobs:
        job = table.claim_next(project.store, max_running)
        if job is None:
            if time.monotonic() - idle_since >= idle_s:
                return ran
            time.sleep(min(1.0, idle_s))
            continue
        run_one(project, job)
        ran += 1
        idle_since = time.monotonic()
    return ran


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Stopped


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m assay.jobs.worker``."""
    parser = argparse.ArgumentParser(prog="python -m assay.jobs.worker")
    parser.add_argument("project")
    parser.add_argument("--max-running", type=int, default=DEFAULT_MAX_RUNNING)
    parser.add_argument("--idle", type=float, default=2.0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_term)
    import assay

    project = assay.open(args.project, db=os.environ.get(DB_ENV) or None)
    try:
        work(project, max_running=args.max_running, idle_s=args.idle)
    except Stopped:
        return 143
    finally:
        project.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
