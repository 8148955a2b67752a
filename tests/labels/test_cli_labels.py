"""The label, layer, agreement, consensus, review, snapshot and diff commands, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import assay
from assay.cli import app

runner = CliRunner()


@pytest.fixture
def cli(project: assay.Project, ds: assay.Dataset):  # type: ignore[no-untyped-def]
    """Run ``assay -p ROOT --db URL ...`` and return its output, checking the exit code."""

    def run(*args: str | Path, code: int = 0) -> str:
        argv = ["-p", str(project.root), "--db", project.store.url, *map(str, args)]
        result = runner.invoke(app, argv, env={"ASSAY_USER": "cli-user"})
        assert result.exit_code == code, result.output
        if code:
            assert "Traceback" not in result.output
        return result.output

    return run


def test_label_set_history_and_layers(cli, ds: assay.Dataset) -> None:  # type: ignore[no-untyped-def]
    cli("layer", "create", "alice", "--owner", "alice")
    assert "is now 'dog'" in cli("label", "set", "k0", "dog", "--layer", "alice", "--note", "ears")
    cli("label", "set", "#2", "cat", "-l", "alice")  # by id
    cli("label", "clear", "k0", "--layer", "alice")
    hist = json.loads(cli("label", "history", "k0", "--json"))
    assert [(h["layer"], h["label"], h["author"]) for h in hist] == [
        ("ground_truth", "cat", "import"),
        ("alice", "dog", "cli-user"),
        ("alice", None, "cli-user"),
    ]
    assert "(cleared)" in cli("label", "history", "k0")
    cli("layer", "copy", "ground_truth", "draft")
    cli("layer", "rename", "draft", "draft2")
    cli("layer", "freeze", "draft2")
    out = cli("label", "set", "k0", "dog", "--layer", "draft2", code=1)
    assert "frozen" in out
    layers = {r["name"]: r for r in json.loads(cli("layer", "list", "--json"))}
    assert layers["draft2"]["frozen"] and layers["alice"]["owner"] == "alice"
    cli("layer", "unfreeze", "draft2")
    assert "Did you mean 'alice'" in cli("label", "set", "k0", "dog", "-l", "alicee", code=1)
    assert "No class 'fish'" in cli("label", "set", "k0", "fish", "-l", "alice", code=1)


def test_bulk_from_csv_and_filter(cli, ds: assay.Dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("layer", "create", "bob")
    good = tmp_path / "good.csv"
    good.write_text("key,label,note\nk0,bird,tail\nk1,cat,\nk2,,unsure\n")
    assert "Wrote 2 labels" in cli("label", "bulk", "--layer", "bob", "--csv", good)
    bad = tmp_path / "bad.csv"
    bad.write_text("key,label\nk3,cat\nk4,fsh\nk3,dog\nnope,cat\n")
    out = cli("label", "bulk", "--layer", "bob", "--csv", bad, code=1)
    assert "line 3, field 'label'" in out and "'fsh'" in out
    assert "line 4, field 'key'" in out and "also on line 2" in out
    missing = tmp_path / "missing.csv"
    missing.write_text("key,label\nk3,cat\nnope,cat\n")
    assert "No item with key 'nope'" in cli("label", "bulk", "-l", "bob", "--csv", missing, code=1)
    assert [h["label"] for h in ds.history("k3", layer="bob")] == []  # nothing landed
    header = tmp_path / "header.csv"
    header.write_text("id,class\n1,cat\n")
    assert "must name a 'key'" in cli("label", "bulk", "-l", "bob", "--csv", header, code=1)
    out = cli("label", "bulk", "-l", "bob", "--filter", "split=test", "--class", "dog")
    assert "Wrote 10 labels" in out
    assert "either --csv" in cli("label", "bulk", "-l", "bob", code=1)


def test_agreement_consensus_review_flow(cli, ds: assay.Dataset) -> None:  # type: ignore[no-untyped-def]
    for name, flips in (("a1", {}), ("a2", {"k0": "dog", "k3": "bird"}), ("a3", {"k0": "bird"})):
        ds.create_layer(name)
        ds.set_labels(
            [(f"k{i}", flips.get(f"k{i}", ["cat", "dog", "bird"][i % 3])) for i in range(12)],
            layer=name,
            author=name,
        )
    report = json.loads(cli("agreement", "--layers", "a1,a2,a3", "--json"))
    assert report["n_items"] == 12 and report["n_items_with_2plus_labels"] == 12
    assert 0 < report["krippendorff_alpha"] < 1
    table = cli("agreement", "--layers", "a1,a2,a3")
    assert "Krippendorff" in table and "Cohen's kappa" in table

    summary = json.loads(
        cli("consensus", "--method", "majority-vote", "--layers", "a1,a2,a3", "--json")
    )
    assert summary["n_items"] == 12 and summary["into"] == "consensus"
    assert ds.item("k3")["labels"]["consensus"]["label"] == "cat"  # 2 of 3 say cat
    assert "written to layer 'consensus'" in cli("consensus", "--layers", "a1,a2,a3")

    scan = json.loads(cli("review", "scan", "--layers", "a1,a2,a3", "--json"))
    assert scan["disagreement_opened"] == 2
    listed = json.loads(cli("review", "list", "--state", "open", "--json"))
    case = next(c for c in listed["cases"] if c["item_key"] == "k0")
    cid = str(case["id"])
    assert "disagreement" in cli("review", "list")
    cli("review", "escalate", cid, "--to", "rita")
    assert (
        json.loads(cli("review", "list", "--assignee", "rita", "--json"))["cases"][0]["id"]
        == (case["id"])
    )
    cli("review", "comment", cid, "looked twice")
    cli("review", "resolve", cid, "cat", "--reason", "whiskers")
    out = cli("review", "resolve", cid, "dog", "--reason", "again", code=1)
    assert "is resolved" in out and "Nothing was changed" in out
    shown = cli("review", "show", cid)
    assert "reviewed" in shown and "whiskers" in shown
    flagged = cli("review", "flag", "k5", "--comment", "blurry", "--class", "bird")
    other = flagged.split("case ")[1].rstrip(".\n")
    cli("review", "dismiss", other, "--reason", "fine")
    assert "is dismissed" in cli("review", "dismiss", other, "--reason", "twice", code=1)
    states = json.loads(cli("review", "list", "--state", "resolved,dismissed", "--json"))
    assert sorted(c["state"] for c in states["cases"]) == ["dismissed", "resolved"]


def test_snapshot_and_diff(cli, ds: assay.Dataset) -> None:  # type: ignore[no-untyped-def]
    assert "20 labels" in cli("snapshot", "create", "v1", "--description", "first")
    ds.set_labels([("k0", "dog"), ("k1", "dog")], layer="ground_truth", author="bob")
    out = cli("diff", "v1")
    assert "1 change" in out and "cat" in out
    d = json.loads(cli("diff", "v1", "--json"))
    assert {(i["key"], i["was"], i["now"]) for i in d["items"]} == {("k0", "cat", "dog")}
    cli("snapshot", "create", "v2")
    assert json.loads(cli("diff", "v1", "v2", "--json"))["n_changes"] == 1
    assert [s["name"] for s in json.loads(cli("snapshot", "list", "--json"))] == ["v1", "v2"]
    assert "immutable" in cli("snapshot", "create", "v1", code=1)
