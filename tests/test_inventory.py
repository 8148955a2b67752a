"""The inventory against numbers computed independently (numpy, pandas, raw IDX bytes)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import assay
from assay.ingest.staging import ImportJob, content_hash, json_hash
from assay.stats.inventory import aggregate, build_inventory


def _tabular_dataset(project: assay.Project, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "big": 1e6 + rng.normal(0, 1, n),
            "u": rng.uniform(-5, 5, n).round(3),
            "city": rng.choice(["Oslo", "Bergen", "Tromsø"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    frame.loc[rng.choice(n, 100, replace=False), "u"] = np.nan
    labels = rng.choice(["lo", "hi"], n, p=[0.7, 0.3])
    splits = np.where(np.arange(n) % 4 == 0, "test", "train")
    schema = [
        {"name": "big", "dtype": "number"},
        {"name": "u", "dtype": "number"},
        {"name": "city", "dtype": "string"},
    ]
    with ImportJob(
        project.store, "t", source="mem", format="test", table_schema=schema, batch_size=700
    ) as job:
        for i, rec in enumerate(frame.to_dict("records")):
            fields = {
                k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()
            }
            job.add(
                {
                    "external_key": str(i),
                    "kind": "tabular",
                    "split": str(splits[i]),
                    "label": str(labels[i]),
                    "fields": fields,
                    "content_hash": json_hash(fields),
                },
                where=i + 2,
            )
        job.publish()
    frame["label"], frame["split"] = labels, splits
    return frame


def _check_numeric(summary: dict, column: pd.Series) -> None:
    values = column.dropna().to_numpy()
    assert summary["count"] == len(column)
    assert summary["missing"] == column.isna().sum()
    assert summary["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert summary["std"] == pytest.approx(values.std(ddof=1), rel=1e-9)
    assert summary["min"] == values.min()
    assert summary["max"] == values.max()
    tolerance = 3 * summary["quantile_rank_error"]
    for key, level in (("p25", 0.25), ("p50", 0.5), ("p75", 0.75)):
        # The quantile's rank interval must reach the level (discrete data has ties).
        below, upto = np.mean(values < summary[key]), np.mean(values <= summary[key])
        assert below - tolerance <= level <= upto + tolerance, key
    assert summary["distinct_lower"] <= len(np.unique(values)) <= summary["distinct_upper"]


def test_tabular_inventory_matches_pandas(tmp_path: Path, store_url: str) -> None:
    project = assay.init(tmp_path, db=store_url)
    frame = _tabular_dataset(project)
    inv = project.dataset("t").stats().to_dict()
    assert inv["n_items"] == len(frame)
    assert inv["kinds"] == {"tabular": len(frame)}
    assert inv["splits"] == frame["split"].value_counts().to_dict()
    (layer,) = inv["layers"]
    assert layer["classes"] == frame["label"].value_counts().to_dict()
    assert layer["coverage"] == 1.0
    assert layer["authors"] == {"import": len(frame)}
    _check_numeric(inv["features"]["big"], frame["big"])
    _check_numeric(inv["features"]["u"], frame["u"])
    assert inv["categorical"]["city"] == frame["city"].value_counts().to_dict()


def test_slice_and_partitions_give_the_same_answer(tmp_path: Path) -> None:
    project = assay.init(tmp_path)
    frame = _tabular_dataset(project)
    ds = project.dataset("t")
    inv = ds.stats("split=test, label=hi").to_dict()
    expected = frame[(frame["split"] == "test") & (frame["label"] == "hi")]
    assert inv["n_items"] == len(expected)
    _check_numeric(inv["features"]["u"], expected["u"])
    one = aggregate(ds, partition_rows=10**9).features["big"].result()
    many = aggregate(ds, partition_rows=97).features["big"].result()
    for key in ("count", "missing", "min", "max"):
        assert one[key] == many[key]
    assert one["mean"] == pytest.approx(many["mean"], rel=1e-12)
    assert one["var"] == pytest.approx(many["var"], rel=1e-9)


def test_compare_shows_shift(tmp_path: Path) -> None:
    project = assay.init(tmp_path)
    _tabular_dataset(project)
    ds = project.dataset("t")
    same = ds.compare("split=train", "split=test").to_dict()
    assert same["drift"]["big"]["psi"] < 0.1
    shifted = ds.compare("field.u<0", "field.u>=0").to_dict()
    assert shifted["drift"]["u"]["psi"] > 0.25
    assert set(shifted["class_balance"]["ground_truth"]) == {"a", "b", "psi", "total_variation"}


def test_duplicates_are_grouped(tmp_path: Path) -> None:
    project = assay.init(tmp_path)
    with ImportJob(project.store, "txt", source="mem", format="test") as job:
        for i, text in enumerate(["a", "b", "a", "c", "a", "b"]):
            job.add(
                {
                    "external_key": f"k{i}",
                    "kind": "text",
                    "text": text,
                    "text_length": len(text),
                    "content_hash": content_hash(text),
                },
                where=i + 1,
            )
        job.publish()
    inv = project.dataset("txt").stats().to_dict()
    assert inv["duplicates"]["n_groups"] == 2
    assert inv["duplicates"]["n_items"] == 5
    assert inv["duplicates"]["examples"][0] == ["k0", "k2", "k4"]
    assert inv["text"]["length"]["mean"] == 1.0


def test_mnist_inventory_matches_raw_idx(tmp_path: Path, mnist_dir: Path) -> None:
    project = assay.init(tmp_path)
    project.import_path(mnist_dir, dataset="mnist")
    with gzip.open(mnist_dir / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), dtype=np.uint8, offset=8)
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz") as f:
        pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    inv = build_inventory(project.dataset("mnist")).to_dict()
    assert inv["n_items"] == 10_000
    assert inv["splits"] == {"test": 10_000}
    counts = {str(k): int(v) for k, v in zip(*np.unique(labels, return_counts=True), strict=True)}
    assert inv["layers"][0]["classes"] == dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    images = inv["images"]
    assert images["sizes"] == {"28x28": 10_000}
    means = pixels.reshape(len(pixels), -1).mean(axis=1)
    assert images["pixel_mean"]["mean"] == pytest.approx(means.mean(), rel=1e-9)
    assert images["pixel_mean"]["min"] == pytest.approx(means.min())
    assert images["pixel_mean"]["max"] == pytest.approx(means.max())


def test_compare_two_imports_and_two_datasets(tmp_path: Path) -> None:
    project = assay.init(tmp_path)
    for name, offset in (("old", 0.0), ("new", 3.0)):
        with ImportJob(
            project.store,
            name,
            source=name,
            format="test",
            table_schema=[{"name": "x", "dtype": "number"}],
        ) as job:
            for i, x in enumerate(np.random.default_rng(1).normal(offset, 1, 500)):
                job.add(
                    {
                        "external_key": str(i),
                        "kind": "tabular",
                        "fields": {"x": x},
                        "content_hash": json_hash({"x": x}),
                    },
                    where=i + 2,
                )
            job.publish()
    old = project.dataset("old")
    cmp = old.compare(other="new").to_dict()
    assert cmp["a"]["dataset"] == "old" and cmp["b"]["dataset"] == "new"
    assert cmp["drift"]["x"]["psi"] > 1.0
    (imp,) = {r["import_id"] for r in old.items(limit=500)[0]}
    assert old.stats(f"import={imp}").n_items == 500
    assert old.stats(f"import={imp + 100}").n_items == 0


@pytest.mark.dask
def test_dask_cluster_gives_the_same_inventory(tmp_path: Path, dask_client: Any) -> None:
    project = assay.init(tmp_path)
    _tabular_dataset(project)
    ds = project.dataset("t")
    local = aggregate(ds, "split=train", partition_rows=400)
    remote = aggregate(ds, "split=train", dask=dask_client, partition_rows=400)
    assert remote.items.result() == local.items.result()
    assert remote.splits.result() == local.splits.result()
    assert (
        remote.layer_classes["ground_truth"].result()
        == local.layer_classes["ground_truth"].result()
    )
    assert remote.categories["city"].result() == local.categories["city"].result()
    for name in ("big", "u"):
        a, b = local.features[name].result(), remote.features[name].result()
        for key in ("count", "missing", "min", "max", "mean", "var"):
            assert a[key] == pytest.approx(b[key], rel=1e-12), (name, key)
        for key in ("p25", "p50", "p75"):
            assert a[key] == pytest.approx(b[key], abs=(a["max"] - a["min"]) * 0.05)


# -- through the real importers and the CLI ------------------------------------------------


def _cli_stats(project: Path, *args: str) -> dict:
    from typer.testing import CliRunner

    from assay.cli import app

    result = CliRunner().invoke(app, ["-p", str(project), "stats", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_csv_inventory_matches_pandas(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "id": [f"h{i}" for i in range(2500)],
            "rooms": rng.integers(1, 8, 2500),
            "price": rng.lognormal(12, 0.5, 2500).round(2),
            "city": rng.choice(["Oslo", "Bergen"], 2500),
            "band": rng.choice(["low", "mid", "high"], 2500),
        }
    )
    frame.loc[rng.choice(2500, 40, replace=False), "price"] = np.nan
    csv = tmp_path / "houses.csv"
    frame.to_csv(csv, index=False)
    project = assay.init(tmp_path / "p")
    project.import_path(csv, label_column="band", key_column="id", batch_size=700)
    inv = _cli_stats(tmp_path / "p", "houses")
    assert inv["n_items"] == 2500
    assert inv["layers"][0]["classes"] == frame["band"].value_counts().to_dict()
    _check_numeric(inv["features"]["price"], frame["price"])
    _check_numeric(inv["features"]["rooms"], frame["rooms"].astype(float))
    assert inv["categorical"]["city"] == frame["city"].value_counts().to_dict()


def test_image_folder_inventory_matches_pillow(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(5)
    expected_means, sizes = [], {}
    for i in range(12):
        cls = "cat" if i % 3 else "dog"
        size = (20 + i, 10 + 2 * i)
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        folder = tmp_path / "pets" / cls
        folder.mkdir(parents=True, exist_ok=True)
        suffix = "png" if i % 2 else "jpg"
        Image.fromarray(pixels).save(folder / f"img{i}.{suffix}")
        with Image.open(folder / f"img{i}.{suffix}") as im:
            expected_means.append(np.asarray(im.convert("L"), dtype=float).mean())
        sizes[f"{size[0]}x{size[1]}"] = 1
    project = assay.init(tmp_path / "p")
    project.import_path(tmp_path / "pets")
    inv = _cli_stats(tmp_path / "p", "pets")
    assert inv["kinds"] == {"image": 12}
    assert inv["layers"][0]["classes"] == {"cat": 8, "dog": 4}
    assert inv["images"]["sizes"] == sizes
    assert inv["images"]["pixel_mean"]["mean"] == pytest.approx(np.mean(expected_means), rel=1e-6)
    assert inv["images"]["pixel_mean"]["max"] == pytest.approx(max(expected_means), rel=1e-6)


def test_jsonl_inventory_matches_python(tmp_path: Path) -> None:
    texts = ["good", "really bad", "fine, I guess", "good", "meh"]
    labels = ["pos", "neg", "pos", "pos", "neg"]
    path = tmp_path / "reviews.jsonl"
    path.write_text(
        "\n".join(json.dumps({"text": x, "label": y}) for x, y in zip(texts, labels, strict=True))
    )
    project = assay.init(tmp_path / "p")
    project.import_path(path, label_field="label")
    inv = _cli_stats(tmp_path / "p", "reviews")
    lengths = np.array([len(x) for x in texts], dtype=float)
    length = inv["text"]["length"]
    assert (length["count"], length["min"], length["max"]) == (5, lengths.min(), lengths.max())
    assert length["mean"] == pytest.approx(lengths.mean())
    assert inv["layers"][0]["classes"] == {"pos": 3, "neg": 2}
    assert inv["duplicates"] == {"n_groups": 1, "n_items": 2, "examples": [["0", "3"]]}


@pytest.mark.dask
def test_cli_stats_on_a_dask_scheduler(tmp_path: Path, dask_client: Any) -> None:
    project = assay.init(tmp_path / "p")
    _tabular_dataset(project)
    local = _cli_stats(tmp_path / "p", "t")
    remote = _cli_stats(tmp_path / "p", "t", "--dask", dask_client.scheduler.address)
    assert remote["n_items"] == local["n_items"]
    assert remote["layers"] == local["layers"]
    assert remote["features"]["big"]["mean"] == pytest.approx(local["features"]["big"]["mean"])
