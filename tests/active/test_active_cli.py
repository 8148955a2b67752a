"""``assay suggest`` and ``assay simulate-al`` end to end, and ``simulate_al`` on a store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from activekit import CLASSES, make_points, points
from typer.testing import CliRunner

import assay
from assay.active import plot_curves, simulate_al
from assay.cli import app
from assay.errors import InvalidParameter

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


def test_suggest_refresh_and_show(cli, ds: assay.Dataset) -> None:  # type: ignore[no-untyped-def]
    out = json.loads(cli("suggest", "--layer", "alice", "--batch", "6", "--json"))
    assert out["list"]["strategy"] == "cold-start" and out["list"]["created_by"] == "cli-user"
    assert [r["rank"] for r in out["suggestions"]] == [1, 2, 3, 4, 5, 6]
    _, y = points(40)
    keys = [int(r["key"][1:]) for r in out["suggestions"]]
    ds.set_labels([(f"p{i}", CLASSES[int(y[i])]) for i in keys], layer="alice")
    text = cli("suggest", "--layer", "alice", "--refresh", "--batch", "4")
    assert "list 2: diverse on logreg; 0/4 done" in text
    assert "cluster centres" in text
    shown = json.loads(cli("suggest", "--layer", "alice", "--show", "--json"))
    assert shown["list"]["list_id"] == 2 and len(shown["suggestions"]) == 4


def test_suggest_errors_are_one_clean_line(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("suggest", "--layer", "alice", "--strategy", "best", code=1)
    assert out.startswith("Error: --strategy: Unknown strategy 'best'")
    out = cli("suggest", "--layer", "nobody", code=1)
    assert "No layer 'nobody'" in out
    out = cli("suggest", "--layer", "alice", "--refresh", code=1)
    assert "no suggestions to refresh yet" in out
    out = cli("suggest", "--layer", "alice", "--show", code=1)
    assert "has no suggestions yet" in out


def test_suggest_prints_the_fallback_note(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("suggest", "--layer", "alice", "--strategy", "margin", "--batch", "3")
    assert "Note: margin ranks by a model's probabilities" in out
    assert "cold-start" in out


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_simulate_al_cli_writes_curves_json_and_plot(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plot = tmp_path / "curves.png"
    out = json.loads(
        cli(
            "simulate-al",
            "--strategies",
            "random,margin",
            "--seeds",
            "2",
            "--seed-size",
            "4",
            "--batch",
            "2",
            "--rounds",
            "5",
            "--json",
            "--plot",
            plot,
        )
    )
    assert out["seeds"] == [0, 1] and out["plot"] == str(plot)
    assert set(out["curves"]) == {"random", "margin"}
    assert out["curves"]["margin"]["n_labels"] == [4, 6, 8, 10, 12, 14]
    assert set(out["labels_ratio_vs_random"]) == {"random", "margin"}
    assert set(out["labels_to_target"]["margin"]) == {"per_seed", "median"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = cli(
        "simulate-al",
        "--strategies",
        "random,margin",
        "--seeds",
        "1",
        "--rounds",
        "2",
        "--seed-size",
        "4",
        "--batch",
        "2",
        "--plot",
        plot,
    )
    assert "Labels to reach 95% of the full-pool accuracy" in text and "ratio vs random" in text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_simulate_al_on_the_store(project: assay.Project, tmp_path: Path) -> None:
    ds = make_points(project, "many", n=300)
    result = simulate_al(
        ds,
        strategies=["random", "margin", "auto", "kcenter"],
        seed_size=4,
        batch=4,
        rounds=6,
        holdout=60,
        seeds=[0],
    )
    assert (result.n_pool, result.n_holdout, result.featurizer) == (240, 60, "tabular")
    assert result.strategies == ["random", "margin", "auto", "kcenter"]
    assert all(len(c.n_labels) == 7 for c in result.curves)
    assert 0.9 < result.full_pool_accuracy[0] <= 1.0
    data = result.to_dict()
    assert json.loads(json.dumps(data))["labels_ratio_vs_random"]["random"] in (1.0, None)
    path = tmp_path / "plot.png"
    plot_curves(result, path)
    assert path.stat().st_size > 5_000
    with pytest.raises(InvalidParameter, match="activelab needs several annotators"):
        simulate_al(ds, strategies=["activelab"])
    with pytest.raises(InvalidParameter, match="more than the pool of 240 items"):
        simulate_al(ds, strategies=["random"], rounds=100, batch=4, holdout=60)
    with pytest.raises(InvalidParameter, match="'holdout' parameter must be a float"):
        simulate_al(ds, strategies=["random"], holdout=1.5)
