"""One spec per long operation: a default or a bound is written once (in the spec), and the
CLI, the jobs, the web API and the library refuse the same bad value with the same words;
the consensus summary is one, spelled alike by the CLI, the job and the API."""

from __future__ import annotations

import json
import re
from typing import Any

import click
import pytest
import typer
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner
from web_helpers import add_second_annotator, login

from assay import jobs
from assay.active.specs import SuggestSpec
from assay.cli import app
from assay.errors import InvalidParameter
from assay.labels.combine import ConsensusSpec
from assay.maps.specs import MapSpec
from assay.models.specs import CrossValidateSpec, TrainSpec
from assay.project import Project
from assay.quality.specs import IssuesSpec
from assay.review.scan import ReviewScanSpec
from assay.specs import Spec, first_problem

API = "/api/v1/datasets/digits"
runner = CliRunner()


def _cli(project: Project, *args: str, code: int = 0) -> str:
    argv = ["-p", str(project.root), "--db", project.store.url, *args]
    result = runner.invoke(app, argv, env={"ASSAY_USER": "reviewer"})
    assert result.exit_code == code, result.output
    return result.output


def _signed(client: TestClient, user: str) -> TestClient:
    client.headers["X-CSRF-Token"] = login(client, user)
    return client


def _refusal(spec: type[Spec], **values: Any) -> str:
    """The words the spec refuses ``values`` with."""
    with pytest.raises(ValidationError) as caught:
        spec.model_validate(values)
    return first_problem(caught.value)[1]


def _option_default(path: tuple[str, ...], option: str) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    params: list[click.Parameter] = command.params
    return next(p.default for p in params if p.name == option)


@pytest.mark.parametrize(
    ("command", "option", "spec", "field"),
    [
        (("issues",), "folds", CrossValidateSpec, "folds"),
        (("issues",), "folds", IssuesSpec, "folds"),
        (("issues",), "model", IssuesSpec, "model"),
        (("train",), "layer", TrainSpec, "layer"),
        (("predict",), "model", CrossValidateSpec, "model"),
        (("consensus",), "method", ConsensusSpec, "method"),
        (("consensus",), "into", ConsensusSpec, "into"),
        (("review", "scan"), "threshold", ReviewScanSpec, "threshold"),
        (("suggest",), "strategy", SuggestSpec, "strategy"),
        (("map",), "n_neighbors", MapSpec, "n_neighbors"),
    ],
)
def test_the_cli_defaults_are_the_specs(
    command: tuple[str, ...], option: str, spec: type[Spec], field: str
) -> None:
    assert _option_default(command, option) == spec.default(field)


def test_a_bad_folds_is_refused_alike_everywhere(client: TestClient, web_project: Project) -> None:
    message = _refusal(CrossValidateSpec, folds=1)
    assert "greater than or equal to 2" in message
    assert f"--cv: {message}." in _cli(web_project, "predict", "-d", "digits", "--cv", "1", code=1)
    assert f"--folds: {message}." in _cli(
        web_project, "issues", "-d", "digits", "--scan", "--folds", "1", code=1
    )
    for kind in ("cross-validate", "issues"):
        with pytest.raises(InvalidParameter, match=re.escape(message)):
            jobs.validate(kind, {"folds": 1})
        response = _signed(client, "admin").post(
            f"{API}/jobs", json={"kind": kind, "params": {"folds": 1}}
        )
        assert response.status_code == 422 and message in response.json()["error"]
    with pytest.raises(InvalidParameter, match=re.escape(message)):
        web_project.dataset("digits").models.cross_validate(folds=1)


def test_a_bad_consensus_method_is_refused_alike_everywhere(
    client: TestClient, web_project: Project
) -> None:
    message = _refusal(ConsensusSpec, method="geometric")
    assert "majority-vote, dawid-skene, crowdlab" in message
    out = _cli(web_project, "consensus", "-d", "digits", "--method", "geometric", code=1)
    assert f"--method: {message}." in out
    with pytest.raises(InvalidParameter, match=re.escape(message)):
        jobs.validate("consensus", {"method": "geometric"})
    with pytest.raises(InvalidParameter, match=re.escape(message)):
        web_project.dataset("digits").consensus(method="geometric")
    reviewer = _signed(client, "reviewer")
    for path, body in (
        ("consensus", {"method": "geometric"}),
        ("jobs", {"kind": "consensus", "params": {"method": "geometric"}}),
    ):
        response = reviewer.post(f"{API}/{path}", json=body)
        assert response.status_code == 422 and message in response.json()["error"], path


def test_a_bad_threshold_is_refused_alike_everywhere(
    client: TestClient, web_project: Project
) -> None:
    message = _refusal(ReviewScanSpec, threshold=2)
    out = _cli(web_project, "review", "scan", "-d", "digits", "--threshold", "2", code=1)
    assert f"--threshold: {message}." in out
    reviewer = _signed(client, "reviewer")
    for path, body in (
        ("review/scan", {"threshold": 2}),
        ("jobs", {"kind": "review-scan", "params": {"threshold": 2}}),
    ):
        response = reviewer.post(f"{API}/{path}", json=body)
        assert response.status_code == 422 and message in response.json()["error"], path


def test_the_consensus_summary_is_one_for_the_cli_the_job_and_the_api(
    client: TestClient, web_project: Project
) -> None:
    add_second_annotator(web_project)
    body = {"method": "majority-vote", "layers": ["ann", "b1"], "into": "cons"}
    from_cli = json.loads(
        _cli(web_project, "consensus", "-d", "digits", "--method", "majority-vote",
             "--layers", "ann,b1", "--into", "cons", "--json")
    )  # fmt: skip
    ds = web_project.dataset("digits")
    job = jobs.submit(ds, "consensus", body, by="reviewer")
    assert jobs.work(web_project) == 1
    from_job = jobs.get(web_project.store, job["id"])["result"]
    response = _signed(client, "reviewer").post(f"{API}/consensus", json=body)
    assert response.status_code == 201, response.text
    from_api = {k: v for k, v in response.json().items() if k != "ok"}
    assert from_cli == from_job == from_api
    assert from_api["n_low_confidence"] > 0 and from_api["low_confidence_threshold"] == 0.7
    assert from_api["into"] == "cons" and from_api["layers"] == ["ann", "b1"]


def test_the_jobs_page_forms_show_the_specs_defaults_and_bounds(client: TestClient) -> None:
    page = _signed(client, "admin").get("/datasets/digits/jobs").text
    folds = CrossValidateSpec.model_fields["folds"]
    low, high = (m for m in folds.metadata)
    expected = f'name="folds" value="{folds.default}" min="{low.ge}" max="{high.le}"'
    assert expected in page
    assert f'name="threshold" value="{ReviewScanSpec.default("threshold")}"' in page
    assert f'name="into" value="{ConsensusSpec.default("into")}"' in page
    assert "<option>umap</option><option>pca</option>" in page
