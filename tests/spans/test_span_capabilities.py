"""Spans through the capabilities on a small set of the demo's texts (SQLite: computations):
statistics, evaluation, likely-mislabeled spans into review with an accept decision,
disagreement cases decided with the vote, token-entropy suggestions, and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.demo.spans import (
    DATA,
    SPAN_ANNOTATORS,
    load_demo_texts,
    simulate_span_annotators,
)
from assay.labels.writes import LabelWrite
from assay.stats.kind_stats import layer_statistics

N = 80


@pytest.fixture(scope="module")
def ner(tmp_path_factory: pytest.TempPathFactory) -> tuple[assay.Project, dict[str, Any]]:
    root = tmp_path_factory.mktemp("spans")
    lines = DATA.read_bytes().splitlines()[:N]
    (root / "ner.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    project = assay.init(root / "p")
    project.import_path(root / "ner.jsonl", dataset="ner", format="spacy-jsonl",
                        layer="ground_truth")  # fmt: skip
    ds = project.dataset("ner")
    keys, texts, truth = load_demo_texts()
    keys, texts, truth = keys[:N], texts[:N], truth[:N]
    ids = {str(r["external_key"]): int(r["id"]) for r in ds.items(limit=N)[0]}
    labels, errors = simulate_span_annotators(texts, truth, SPAN_ANNOTATORS, seed=18)
    for name, sets in labels.items():
        ds.create_layer(name, value_kind="spans", kind="human", owner=name)
        ds.set_labels([LabelWrite(ids[k], s) for k, s in zip(keys[: N - 10], sets, strict=False)],
                      layer=name, author=name)  # fmt: skip
    return project, {"ids": ids, "keys": keys, "errors": errors, "labels": labels}


def test_statistics_and_evaluation(ner: tuple[assay.Project, dict[str, Any]]) -> None:
    project, _ = ner
    ds = project.dataset("ner")
    s = layer_statistics(ds, "bob")
    assert s["value_kind"] == "spans" and s["n_texts"] == N and s["n_not_annotated"] == 10
    assert set(s["classes"]) <= {"PER", "ORG", "LOC", "DATE"}
    assert sum(s["length_tokens"]["counts"]) == s["n_spans"]
    r = ds.models.evaluate("bob", reference_layer="ground_truth")
    assert r["kind"] == "spans" and r["n_texts"] == N - 10
    bob_errors = [e for e in ner[1]["errors"] if e[0] == "bob" and e[1] < N - 10]
    # Every simulated error of bob shows up as one error of the evaluation.
    assert sum(r["error_counts"].values()) == len(bob_errors)
    assert r["error_counts"]["wrong_class"] == sum(1 for e in bob_errors if e[2] == "confused")
    assert r["strict"]["micro"]["f1"] < r["partial"]["micro"]["f1"] <= 1.0


def test_mislabeled_spans_into_review_and_accept(
    ner: tuple[assay.Project, dict[str, Any]],
) -> None:
    project, _ = ner
    ds = project.dataset("ner")
    run = ds.quality.find(layer="bob", folds=3, actor="t")
    assert run.family == "spans" and run.n_issues > 0
    assert set(run.n_suspects or {}) <= {"missed", "spurious", "wrong_class", "boundary"}
    opened = ds.quality.to_review(run.run_id, actor="t")
    assert opened["mislabel"]["opened"] == run.n_issues
    cases, _ = ds.review.list(reason="mislabel", state=["open"])
    case = cases[0]
    ev = case["evidence"]
    assert ev["span_layers"] == ["bob", "bob_tagger"] and ev["span_fixes"]
    before = ds.item(int(case["item_id"]))["labels"]["bob"]["value"]
    done = ds.review.resolve(int(case["id"]), "accept", "model is right", actor="rev")
    assert done["state"] == "resolved"
    after = ds.item(int(case["item_id"]))["labels"]["bob"]["value"]
    assert after != before


def test_disagreements_decided_with_the_vote(ner: tuple[assay.Project, dict[str, Any]]) -> None:
    project, _ = ner
    ds = project.dataset("ner")
    layers = list(SPAN_ANNOTATORS)
    ds.review_scan(layers=layers, consensus_layer=None, actor="t")
    cases, _ = ds.review.list(reason="disagreement", state=["open"])
    assert cases and all(c["evidence"]["span_layers"] for c in cases)
    case = cases[0]
    done = ds.review.resolve(int(case["id"]), "accept", "the vote", actor="rev")
    assert done["state"] == "resolved"
    reviewed = ds.item(int(case["item_id"]))["labels"]["reviewed"]
    assert reviewed["value_kind"] == "spans" and isinstance(reviewed["value"], list)
    agree = ds.agreement(layers).to_dict()
    assert agree["kind"] == "spans" and agree["mean_f1"]["exact"] < agree["mean_f1"]["partial"]


def test_token_entropy_suggestions(ner: tuple[assay.Project, dict[str, Any]]) -> None:
    project, _ = ner
    ds = project.dataset("ner")
    from assay.active.spans import rank_span_pool

    ranked = rank_span_pool(ds, "carol", strategy="token-entropy", batch=4)
    assert ranked.strategy == "token-entropy" and len(ranked.item_ids) == 4
    assert ranked.n_pool == 10
    scores = list(ranked.selection.scores)
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    made = ds.suggestions.suggest("carol", strategy="max-token-entropy", batch=3)
    assert (made.strategy, made.n_suggestions) == ("max-token-entropy", 3)


def test_cli_import_stats_evaluate(tmp_path: Path) -> None:
    conll = "Ann B-PER\nwent O\nto O\nNew B-LOC\nYork I-LOC\n\nBo B-PER\nsat O\n"
    (tmp_path / "a.conll").write_text(conll, encoding="utf-8")
    root = tmp_path / "p"
    assay.init(root)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--project", str(root), *args], env={"COLUMNS": "160"})
        assert result.exit_code == 0, result.output
        return result.output

    assert "2 new items" in run("import", str(tmp_path / "a.conll"), "--format", "conll",
                                "--dataset", "t")  # fmt: skip
    assert "3 spans in 2 annotated texts" in run("stats", "t", "--layer", "spans")
    out = run("import", str(tmp_path / "a.conll"), "--format", "conll", "--dataset", "t",
              "--spans-only", "--layer", "copy")  # fmt: skip
    assert "2 new labels" in out
    out = run("evaluate", "copy", "-d", "t", "--reference", "spans")
    assert "micro F1 1.000 strict" in out
    out = run("agreement", "-d", "t", "--layers", "spans,copy")
    assert "mean span F1 1.000 exact, 1.000 partial overlap" in out
    run("export", "t", str(tmp_path / "o.conll"), "--layer", "spans", "--format", "conll")
    assert (tmp_path / "o.conll").read_text().startswith("Ann B-PER\nwent O\nto O\nNew B-LOC\n")


def test_pages_show_span_evidence(ner: tuple[assay.Project, dict[str, Any]]) -> None:
    from fastapi.testclient import TestClient

    from assay import users
    from assay.web import create_app

    project, _ = ner
    ds = project.dataset("ner")
    ds.review_scan(layers=list(SPAN_ANNOTATORS), consensus_layer=None, actor="t")
    users.create_user(project.store, "boss", "correct horse battery", role="admin")
    with TestClient(create_app(project), follow_redirects=False) as c:
        token = c.get("/api/v1/login").json()["csrf_token"]
        login = {"username": "boss", "password": "correct horse battery"}
        signed = c.post("/api/v1/login", json=login, headers={"X-CSRF-Token": token})
        assert signed.status_code == 200, signed.text
        page = c.get("/datasets/ner/review", params={"reason": "disagreement"})
        assert page.status_code == 200, page.text[:500]
        assert 'class="span-figure"' in page.text and "spans_view.css" in page.text
        got = c.get("/api/v1/datasets/ner/statistics/layer", params={"layer": "alice"}).json()
        stats = got["layer"]
        assert stats["value_kind"] == "spans" and stats["n_spans"] > 0
        overview = c.get("/datasets/ner").text
        assert 'id="span-stats-alice"' in overview and "Span length (tokens)" in overview
        agree = c.get("/datasets/ner/agreement", params={"layers": ["alice", "bob"]}).text
        assert 'id="span-agreement"' in agree and "exact F1" in agree
        ds.quality.find(layer="carol", folds=3, actor="t")
        chosen = {"run": "carol_tagger", "reference": "ground_truth"}
        preds = c.get("/datasets/ner/predictions", params=chosen)
        assert preds.status_code == 200, preds.text[:300]
        assert 'id="span-classes"' in preds.text and 'id="span-errors"' in preds.text
