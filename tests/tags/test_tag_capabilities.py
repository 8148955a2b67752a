"""Tags through the capabilities on one small dataset (SQLite: pure computations over the
store): statistics, evaluation, label issues into the review queue, suggestions, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score, hamming_loss
from tagkit import TAGS, make_tag_dataset
from typer.testing import CliRunner

import assay
from assay.labels.writes import LabelWrite
from assay.stats.kind_stats import layer_statistics
from assay.stats.tags import tag_statistics


@pytest.fixture(scope="module")
def fruit(tmp_path_factory: pytest.TempPathFactory) -> assay.Dataset:
    project = assay.init(tmp_path_factory.mktemp("tags") / "p")
    return make_tag_dataset(project, n=60)


def _ids(ds: assay.Dataset) -> dict[str, int]:
    return {r["external_key"]: int(r["id"]) for r in ds.items(limit=100)[0]}


def test_statistics_count_and_merge(fruit: assay.Dataset) -> None:
    whole = layer_statistics(fruit, "truth")
    assert whole["value_kind"] == "tags" and whole["n_annotated"] == 60
    truth = [fruit.item(f"k{i}")["labels"]["truth"]["value"] for i in range(60)]
    assert whole["tags"]["red"] == sum("red" in t for t in truth)
    co = whole["cooccurrence"]
    i, j = co["tags"].index("red"), co["tags"].index("round")
    assert co["counts"][i][j] == sum({"red", "round"} <= set(t) for t in truth)
    assert sum(whole["tags_per_item"]["counts"].values()) == 60
    parts = tag_statistics(fruit, "truth", partition_rows=7)  # partitioned, merged
    assert {k: v for k, v in parts.items()} == {k: v for k, v in whole.items() if k != "value_kind"}


def test_label_issues_find_injected_errors_and_review_them(fruit: assay.Dataset) -> None:
    ids = _ids(fruit)
    fruit.create_layer("noisy", value_kind="tags")
    truth = {k: fruit.item(k)["labels"]["truth"]["value"] for k in ids}
    flipped = ["k3", "k11", "k25", "k40"]
    writes = []
    for k, tags in truth.items():
        if k in flipped:  # drop a tag, or add "sweet" where there is none
            tags = tags[1:] if tags else ["sweet"]
        writes.append(LabelWrite(ids[k], tags))
    fruit.set_labels(writes, layer="noisy")
    run = fruit.quality.find(layer="noisy", actor="t", folds=4)
    assert run.family == "tags" and run.model_layer == "noisy_oof"
    flagged = {r["item_id"] for r in fruit.quality.issues(run.run_id, limit=100)}
    assert len({ids[k] for k in flipped} & flagged) >= 3
    fruit.quality.to_review(run.run_id, actor="t")
    cases, _ = fruit.review.list(reason="mislabel", limit=100)
    key = next(k for k in flipped if ids[k] in flagged)
    case = next(c for c in cases if c["item_id"] == ids[key])
    assert case["evidence"]["suspect_tags"] and "tag" in case["evidence"]["summary"]
    fruit.review.resolve(case["id"], "accept", "the model is right", actor="t")
    assert fruit.item(key)["labels"]["noisy"]["value"] == truth[key]
    # the out-of-fold layer is tag predictions: evaluated per tag, as scikit-learn does
    report = fruit.models.evaluate("noisy_oof", reference_layer="truth")
    pred = [fruit.item(k)["labels"]["noisy_oof"]["value"] for k in ids]
    y = np.array([[t in truth[k] for t in TAGS] for k in ids], dtype=int)
    p = np.array([[t in s for t in TAGS] for s in pred], dtype=int)
    assert report["micro_f1"] == pytest.approx(f1_score(y, p, average="micro"))
    assert report["hamming_loss"] == pytest.approx(hamming_loss(y, p))
    assert report["micro_f1"] > 0.8 and len(report["per_tag"]) == 3


def test_suggestions_rank_by_tag_margin(fruit: assay.Dataset) -> None:
    ids = _ids(fruit)
    fruit.create_layer("half", value_kind="tags")
    fruit.set_labels(
        [LabelWrite(ids[f"k{i}"], fruit.item(f"k{i}")["labels"]["truth"]["value"])
         for i in range(30)],
        layer="half",
    )  # fmt: skip
    made = fruit.suggestions.suggest("half", batch=5)
    assert made.strategy == "tag-margin" and made.n_pool == 30 and made.n_suggestions == 5
    with pytest.raises(assay.errors.InvalidParameter, match="tag-margin"):
        fruit.suggestions.suggest("half", strategy="margin")


def test_cli_prints_tag_statistics_agreement_and_predictions(
    fruit: assay.Dataset, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from assay.cli import app

    monkeypatch.chdir(fruit.project.root)
    fruit.create_layer("other", value_kind="tags")
    fruit.set_labels([LabelWrite(i, ["red"]) for i in list(_ids(fruit).values())[:20]],
                     layer="other")  # fmt: skip
    runner = CliRunner()
    out = runner.invoke(app, ["stats", "fruit", "--layer", "truth"])
    assert out.exit_code == 0, out.output
    assert "Tag frequencies" in out.output and "Co-occurrence" in out.output
    out = runner.invoke(app, ["agreement", "--dataset", "fruit", "--layers", "truth,other"])
    assert out.exit_code == 0, out.output
    assert "Krippendorff's alpha" in out.output and "Per tag" in out.output
    out = runner.invoke(app, ["consensus", "--dataset", "fruit", "--layers", "truth,other",
                              "--method", "dawid-skene", "--into", "consensus"])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert fruit.item("k0")["labels"]["consensus"]["value_kind"] == "tags"
    out = runner.invoke(app, ["evaluate", "other", "--reference", "truth", "--dataset", "fruit"])
    assert out.exit_code == 0, out.output
    assert "micro F1" in out.output and "Hamming loss" in out.output
    out = runner.invoke(app, ["export", "fruit", str(tmp_path / "t.csv"), "--layer", "truth",
                              "--tag-columns"])  # fmt: skip
    assert out.exit_code == 0 and "Wrote the tags of 60 items" in out.output, out.output
    out = runner.invoke(app, ["import", str(tmp_path / "t.csv"), "--dataset", "fruit",
                              "--tag-columns", ",".join(TAGS), "--layer", "again"])  # fmt: skip
    assert out.exit_code == 0 and "60 new labels" in out.output, out.output
    assert (
        fruit.item("k5")["labels"]["again"]["value"] == fruit.item("k5")["labels"]["truth"]["value"]
    )
