"""The command line: each command's output and exit code, and one clean line per error."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli import app

runner = CliRunner()


def run(*args: str | Path, code: int = 0) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    if code:
        assert "Traceback" not in result.output
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "demo"
    out = run("demo", path, "--no-serve")
    assert "digits: 1,797 items" in out
    assert "assay stats --compare split=train split=test" in out
    return path


def test_demo_inventory_as_json(demo: Path) -> None:
    inv = json.loads(run("--project", demo, "stats", "digits", "--json"))
    assert inv["n_items"] == 1797
    assert inv["splits"] == {"train": 1438, "test": 359}
    assert sum(inv["layers"][0]["classes"].values()) == 1797
    assert inv["images"]["sizes"] == {"8x8": 1797}


def test_demo_twice_adds_nothing(demo: Path) -> None:
    run("demo", demo, "--no-serve")
    rows = {r["name"]: r for r in json.loads(run("--project", demo, "datasets", "--json"))}
    assert {"digits", "scenes", "ner", "digit-tags", "diabetes"} <= set(rows)
    assert rows["digit-tags"]["n_items"] == 300
    assert rows["digits"]["n_items"] == 1797 and rows["scenes"]["n_items"] == 300
    assert rows["diabetes"]["n_items"] == 442
    runs = json.loads(run("--project", demo, "models", "--json", "-d", "scenes"))
    assert [r["name"] for r in runs] == ["detector-cv"]  # not run again


def test_demo_scenes_have_boxes_annotators_and_predicted_boxes(demo: Path) -> None:
    import assay

    ds = assay.open(demo).dataset("scenes")
    layers = {layer["name"]: layer for layer in ds.layers()}
    assert {n: (layers[n]["value_kind"], layers[n]["owner"]) for n in
            ("boxes", "alice", "bob", "carol")} == {
        "boxes": ("boxes", None), "alice": ("boxes", "alice"), "bob": ("boxes", "bob"),
        "carol": ("boxes", "carol"),
    }  # fmt: skip
    assert (layers["detector-cv"]["kind"], layers["detector-cv"]["value_kind"]) == (
        "model", "boxes"
    )  # fmt: skip
    run = ds.models.run("detector-cv")
    assert run["state"] == "done" and run["metrics"]["n_items"] == 300
    assert run["metrics"]["oof_f1"] >= 0.8, run["metrics"]
    item = ds.item("0")["labels"]
    assert item["boxes"]["value"] and all("score" in b for b in item["detector-cv"]["value"])
    assert item["alice"]["value"] is not None


def test_stats_filter_and_compare(demo: Path) -> None:
    inv = json.loads(run("-p", demo, "stats", "--filter", "label=3", "--json"))
    assert inv["layers"][0]["classes"] == {"3": inv["n_items"]}
    out = run("-p", demo, "stats", "--compare", "split=train", "split=test")
    assert "PSI" in out and "image.pixel_mean" in out
    cmp = json.loads(run("-p", demo, "stats", "--compare", "split=train", "split=test", "--json"))
    assert cmp["a"]["n_items"] == 1438 and cmp["b"]["n_items"] == 359


def test_export_round_trip(demo: Path, tmp_path: Path) -> None:
    out = run("-p", demo, "export", "digits", tmp_path / "labels.csv", "--filter", "split=test")
    assert "Wrote 359 labels" in out
    lines = (tmp_path / "labels.csv").read_text().splitlines()
    assert len(lines) == 360


def test_init_import_datasets(tmp_path: Path) -> None:
    project = tmp_path / "p"
    run("init", project)
    csv = tmp_path / "houses.csv"
    csv.write_text("id,rooms,band\nh1,3,low\nh2,5,high\nh3,4,low\n")
    out = run("-p", project, "import", csv, "--label-column", "band", "--key-column", "id")
    assert "3 new items" in out and "3 new labels" in out
    assert "houses" in run("-p", project, "datasets")
    out = run("-p", project, "import", csv, "--label-column", "band", "--key-column", "id")
    assert "0 new items" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stats",), "No Assay project"),
        (("-p", "{demo}", "stats", "nope"), "No dataset named 'nope'"),
        (("-p", "{demo}", "stats", "--filter", "colour=red"), "Unknown filter field 'colour'"),
        (("-p", "{demo}", "stats", "--filter", "label=33"), "No class '33'"),
        (("-p", "{demo}", "import", "{demo}/missing"), "no such file or folder"),
        (("-p", "{demo}", "export", "digits", "x.csv", "--layer", "gt"), "No layer 'gt'"),
        (
            ("-p", "{demo}", "--db", "postgresql://127.0.0.1:1/none", "datasets"),
            "Cannot open the store",
        ),
    ],
)
def test_errors_are_one_clean_line(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    out = run(*(a.format(demo=demo) for a in args), code=1)
    assert message in out
    assert out.strip().startswith("Error")


def test_bad_option_is_a_usage_error(demo: Path) -> None:
    out = run("-p", demo, "stats", "--no-such-option", code=2)
    assert "No such option" in out


def test_imports_lists_published_and_failed(tmp_path: Path) -> None:
    project = tmp_path / "p"
    run("init", project)
    good = tmp_path / "good.csv"
    good.write_text("id,x,y\na,1,u\nb,2,v\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,x,y\na,1,u\na,2,v\n")
    run("-p", project, "import", good, "--key-column", "id", "--label-column", "y")
    out = run("-p", project, "import", bad, "--key-column", "id", code=1)
    assert "appears twice" in out
    rows = json.loads(run("-p", project, "imports", "--json"))
    assert [(r["dataset_name"], r["state"], r["n_new_items"]) for r in rows] == [
        ("bad", "failed", 0),
        ("good", "published", 2),
    ]
    assert "appears twice" in rows[0]["error"]
    assert "failed" in run("-p", project, "imports")


@pytest.mark.parametrize(
    "command", ["init", "import", "export", "datasets", "imports", "stats", "demo", "check"]
)
def test_every_command_has_help_with_an_example(command: str) -> None:
    out = run(command, "--help")
    assert "Example" in out


def test_progress_bar_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refresh thread would stop imports from forking their writer process."""
    import io

    from rich.console import Console

    from assay.cli import render

    out = io.StringIO()
    monkeypatch.setattr(render, "err_console", Console(file=out, force_terminal=True))
    before = threading.active_count()
    with render.progress_bar("working") as update:
        update(1, 2, "half")
        assert threading.active_count() == before
        update(2, 2, "done")
    assert "done" in out.getvalue()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1e9 + 3.25, "1,000,000,003.2"),
        (77.8312, "77.83"),
        (1234.5, "1,234"),
        (0.0001234, "0.000123"),
        (12, "12"),
        (None, "—"),
    ],
)
def test_numbers_keep_their_varying_digits(value: float | None, shown: str) -> None:
    from assay.cli.render import fmt

    assert fmt(value) == shown
