"""Background jobs: parameters checked at submit (an issues job's method too), one claim per
job, progress, results, failures in words, cancelling, and a killed worker's job marked
failed - on both backends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

import assay
from assay import jobs
from assay.errors import Conflict, InvalidParameter
from assay.ingest.arrays import import_arrays
from assay.jobs import table
from assay.jobs.worker import DB_ENV, JobCancelled, run_one
from assay.quality.methods import DEFAULT_METHOD
from assay.store import schema as t


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> assay.Project:
    proj = assay.init(tmp_path / "p", db=store_url)
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 8 * 8)) * 60 + 128
    codes = np.arange(90) % 3
    images = np.clip(centers[codes] + rng.normal(size=(90, 64)) * 10, 0, 255)
    import_arrays(
        proj.store,
        [(images.reshape(90, 8, 8).astype(np.uint8), [str(c) for c in codes])],
        dataset="d",
        source="test",
        format="demo",
        total=90,
    )
    return proj


def _wait(project: assay.Project, job_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(project.store, job_id)
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end in {timeout} s: {job}")


def test_bad_parameters_are_refused_at_submit(project: assay.Project) -> None:
    ds = project.dataset("d")
    with pytest.raises(InvalidParameter, match="Unknown job kind 'fly'"):
        jobs.submit(ds, "fly", {}, by="t")
    with pytest.raises(InvalidParameter, match="parameter 'folds'"):
        jobs.submit(ds, "cross-validate", {"folds": 1}, by="t")
    with pytest.raises(InvalidParameter, match="parameter 'colour'"):
        jobs.submit(ds, "map", {"colour": "red"}, by="t")
    with pytest.raises(InvalidParameter, match="parameter 'method'") as info:
        jobs.submit(ds, "issues", {"method": "nope"}, by="t")
    assert "Unknown label-issue method 'nope'" in str(info.value)
    assert DEFAULT_METHOD in str(info.value) and "Value error" not in str(info.value)
    assert jobs.list_jobs(project.store, ds.id) == []


def test_a_job_runs_to_done_with_its_result_and_progress(project: assay.Project) -> None:
    ds = project.dataset("d")
    job = jobs.submit(ds, "cross-validate", {"model": "logreg", "folds": 3, "name": "cv"}, by="ana")
    assert job["state"] == "queued" and job["params"]["layer"] == "ground_truth"
    assert jobs.work(project) == 1
    done = jobs.get(project.store, job["id"])
    assert done["state"] == "done", done
    assert done["fraction"] == 1.0 and done["finished_at"] is not None
    assert done["result"]["run"] == "cv"
    assert done["result"]["metrics"]["oof_accuracy"] > 0.9
    assert [r["name"] for r in ds.models.runs()] == ["cv"]


def test_an_issues_job_searches_with_its_method(project: assay.Project) -> None:
    ds = project.dataset("d")
    ds.models.cross_validate(name="cv", folds=3, model="logreg")
    params = {"model_layer": "cv", "method": "prune_by_class", "open_cases": False}
    job = jobs.submit(ds, "issues", params, by="ana")
    assert job["params"]["method"] == "prune_by_class"
    default = jobs.submit(ds, "issues", {"model_layer": "cv", "open_cases": False}, by="ana")
    assert default["params"]["method"] is None  # the default method when it runs
    assert jobs.work(project) == 2
    done = jobs.get(project.store, job["id"])
    assert done["state"] == "done", done
    assert done["result"]["method"] == "prune_by_class"
    assert jobs.get(project.store, default["id"])["result"]["method"] == DEFAULT_METHOD
    assert ds.quality.run().method == DEFAULT_METHOD  # the latest search


def test_a_failing_job_says_why_and_the_next_one_still_runs(project: assay.Project) -> None:
    ds = project.dataset("d")
    bad = jobs.submit(ds, "cross-validate", {"layer": "nope"}, by="t")
    good = jobs.submit(ds, "review-scan", {}, by="t")
    assert jobs.work(project) == 2
    failed = jobs.get(project.store, bad["id"])
    assert failed["state"] == "failed"
    assert "nope" in failed["error"]
    assert jobs.get(project.store, good["id"])["state"] == "done"


def test_each_job_is_claimed_once(project: assay.Project) -> None:
    ds = project.dataset("d")
    submitted = [jobs.submit(ds, "review-scan", {}, by="t") for _ in range(3)]
    first = table.claim_next(project.store, max_running=5)
    second = table.claim_next(project.store, max_running=5)
    assert first is not None and second is not None
    assert first["id"] == submitted[0]["id"] and second["id"] == submitted[1]["id"]
    # The running limit holds: with two running, a limit of two claims nothing.
    assert table.claim_next(project.store, max_running=2) is None


def test_cancel_a_queued_job_and_ask_a_running_one_to_stop(project: assay.Project) -> None:
    ds = project.dataset("d")
    queued = jobs.submit(ds, "review-scan", {}, by="t")
    cancelled = jobs.cancel(project.store, queued["id"])
    assert cancelled["state"] == "cancelled"
    assert jobs.work(project) == 0  # nothing left to run
    with pytest.raises(Conflict, match="already ended"):
        jobs.cancel(project.store, queued["id"])

    running = jobs.submit(ds, "cross-validate", {"model": "logreg"}, by="t")
    claimed = table.claim_next(project.store, max_running=1)
    assert claimed is not None
    jobs.cancel(project.store, running["id"])
    # The job stops at its next progress report: run it with a kind whose runner reports.
    run_one(project, claimed)
    ended = jobs.get(project.store, running["id"])
    assert ended["state"] == "cancelled", ended
    assert ended["error"] == "cancelled by a user"
    assert ds.models.runs() == [] or all(r["state"] != "finished" for r in ds.models.runs())


def test_progress_reports_raise_once_cancel_is_asked(project: assay.Project) -> None:
    ds = project.dataset("d")
    job = jobs.submit(ds, "review-scan", {}, by="t")
    claimed = table.claim_next(project.store, 1)
    assert claimed is not None
    assert table.report(project.store, job["id"], 3, 10, "working") is False
    row = jobs.get(project.store, job["id"])
    assert (row["done"], row["total"], row["fraction"], row["message"]) == (3, 10, 0.3, "working")
    jobs.cancel(project.store, job["id"])
    assert table.report(project.store, job["id"], 4, 10, "working") is True
    assert JobCancelled  # the worker turns that True into JobCancelled in the job's thread


def test_a_killed_worker_leaves_a_failed_job_not_a_running_one(
    project: assay.Project, tmp_path: Path
) -> None:
    ds = project.dataset("d")
    # A slow job: a cross-validation with a search budget that keeps the worker busy.
    job = jobs.submit(
        ds, "cross-validate", {"model": "hgb", "folds": 5, "search_seconds": 60}, by="t"
    )
    env = {**os.environ, DB_ENV: project.store.url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "assay.jobs.worker", str(project.root), "--idle", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while jobs.get(project.store, job["id"])["state"] != "running":
            assert time.monotonic() < deadline, "the worker never claimed the job"
            time.sleep(0.1)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    ended = jobs.get(project.store, job["id"])  # reading it notices the dead worker
    assert ended["state"] == "failed"
    assert "stopped (killed or crashed)" in ended["error"]


def test_a_stale_heartbeat_marks_the_job_failed(project: assay.Project) -> None:
    ds = project.dataset("d")
    job = jobs.submit(ds, "review-scan", {}, by="t")
    assert table.claim_next(project.store, 1) is not None
    old = table.now() - table.STALE_AFTER * 2
    with project.store.write() as conn:
        conn.execute(
            sa.update(t.jobs)
            .where(t.jobs.c.id == job["id"])
            .values(heartbeat_at=old, host="another-host")
        )
    assert table.reap_stale(project.store) == 1
    assert jobs.get(project.store, job["id"])["state"] == "failed"


def test_the_jobs_commands_list_show_run_and_cancel(project: assay.Project) -> None:
    from typer.testing import CliRunner

    from assay.cli import app

    def cli(*args: str, code: int = 0) -> str:
        argv = ["-p", str(project.root), "--db", project.store.url, *args]
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output

    ds = project.dataset("d")
    first = jobs.submit(ds, "review-scan", {}, by="t")
    second = jobs.submit(ds, "review-scan", {}, by="t")
    assert "stopping" not in cli("jobs", "cancel", str(second["id"]))
    listed = {j["id"]: j["state"] for j in json.loads(cli("jobs", "list", "--json"))}
    assert listed == {first["id"]: "queued", second["id"]: "cancelled"}
    assert "ran 1 job(s)" in cli("jobs", "work")
    assert "review-scan (done)" in cli("jobs", "show", str(first["id"]))
    assert "already ended" in cli("jobs", "cancel", str(first["id"]), code=1)
    assert "No job 999" in cli("jobs", "show", "999", code=1)


@pytest.mark.parametrize(
    ("kind", "params", "check"),
    [
        ("train", {"model": "logreg", "name": "t1"}, lambda ds, r: r["run"] == "t1"),
        (
            "issues",
            {"model": "logreg", "folds": 3},
            lambda ds, r: "review" in r and ds.quality.run() is not None,
        ),
        (
            "consensus",
            {"method": "majority-vote", "layers": ["ground_truth"], "into": "agreed"},
            lambda ds, r: r["n_items"] == 90 and "agreed" in [la["name"] for la in ds.layers()],
        ),
        ("map", {"method": "pca"}, lambda ds, r: r["n_points"] == 90),
    ],
)
def test_each_kind_of_job_does_its_work(
    project: assay.Project, kind: str, params: dict, check: Any
) -> None:
    ds = project.dataset("d")
    job = jobs.submit(ds, kind, params, by="t")
    assert jobs.work(project) == 1
    done = jobs.get(project.store, job["id"])
    assert done["state"] == "done", done
    assert check(ds, done["result"]), done["result"]
