"""The annotation-kind seam: a kind registered in a test is written, read back, compared and
shown through the library without any code of its own in the store, the CLI or the web app."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner

import assay
from assay.cli import app
from assay.errors import Conflict, InvalidParameter
from assay.labels.kinds import (
    KINDS,
    AnnotationKind,
    KindSchema,
    ValueTable,
    get_kind,
    kind_of_layers,
    register,
)
from assay.labels.kinds.classification import Classification
from assay.labels.writes import LabelWrite, current_labels_of
from assay.store import queries
from assay.store.engine import Store
from assay.store.migrate import HEAD, alembic_config, current_revision
from labelkit import make_dataset


@dataclass(frozen=True)
class NumberAgreement:
    """The toy kind's agreement: the mean absolute difference of two layers."""

    layers: list[str]
    n_common: int
    mean_abs_diff: float | None
    reference: Any

    def to_dict(self) -> dict[str, Any]:
        return {"layers": self.layers, "n_common": self.n_common, "mad": self.mean_abs_diff}


@dataclass(frozen=True)
class NumberConsensus:
    """The toy kind's consensus: the median of each item's numbers."""

    method: str
    layers: tuple[str, ...]
    values: dict[int, float]

    def summary(self) -> dict[str, Any]:
        return {"method": self.method, "layers": list(self.layers), "n_items": len(self.values),
                "mean_confidence": None, "low_confidence_threshold": 0.7,
                "n_low_confidence": 0, "annotator_quality": {}}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "values": self.values}


class ToyNumber(AnnotationKind):
    """A number per item, defined only here: what a next issue's kind would look like."""

    name: ClassVar[str] = "toy_number"
    noun: ClassVar[str] = "number"
    consensus_methods: ClassVar[tuple[str, ...]] = ("median",)
    calls: ClassVar[list[str]] = []

    def validate(self, value: Any, schema: KindSchema, item_id: int) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidParameter(f"Item {item_id}: a number, not {value!r}.")
        if not math.isfinite(value):
            raise InvalidParameter(f"Item {item_id}: a finite number.")
        return float(value)

    def show(self, value: Any) -> str:
        return f"{value:g}"

    def agreement(self, table: Any, *, reference: Any = None) -> NumberAgreement:
        self.calls.append("agreement")
        assert isinstance(table, ValueTable)
        a, b = (table.values[name] for name in table.layers[:2])
        common = sorted(set(a) & set(b))
        mad = sum(abs(a[i] - b[i]) for i in common) / len(common) if common else None
        return NumberAgreement(table.layers, len(common), mad, reference)

    def combine(
        self, table: Any, method: str, *, pred_probs: Any = None, seed: int = 0
    ) -> NumberConsensus:
        self.calls.append(f"combine:{method}")
        assert isinstance(table, ValueTable) and pred_probs is None
        values = {
            i: statistics.median(table.values[n][i] for n in table.layers if i in table.values[n])
            for i in table.item_ids
        }
        return NumberConsensus(method, tuple(table.layers), values)

    def consensus_writes(self, table: Any, result: Any) -> list[LabelWrite]:
        return [LabelWrite(i, v, confidence=1.0) for i, v in result.values.items()]


@pytest.fixture
def number_kind() -> Iterator[AnnotationKind]:
    """The toy kind, registered for one test."""
    kind = register(ToyNumber())
    ToyNumber.calls.clear()
    yield kind
    del KINDS[kind.name]


def test_the_registry_knows_classification_and_refuses_unknown_and_duplicate_kinds(
    ds: assay.Dataset,
) -> None:
    assert isinstance(get_kind("classification"), Classification)
    with pytest.raises(InvalidParameter, match="Unknown annotation kind 'polygons'"):
        get_kind("polygons")
    with pytest.raises(Conflict, match="registered already"):
        register(Classification())
    with pytest.raises(InvalidParameter, match="Unknown annotation kind"):
        ds.create_layer("alice", value_kind="polygons")
    assert "alice" not in [layer["name"] for layer in ds.layers()]
    assert ds.layer("ground_truth")["value_kind"] == "classification"
    assert ds.create_layer("bob")["value_kind"] == "classification"


def test_classification_shows_and_diffs_in_its_own_words(ds: assay.Dataset) -> None:
    kind = get_kind("classification")
    assert kind.show("cat") == "cat" and kind.to_json("cat") == "cat"
    assert kind.diff("cat", "cat") is None
    assert kind.diff(None, "cat") == "added cat"
    assert kind.diff("cat", "dog") == "cat -> dog"
    ds.create_layer("alice")
    with pytest.raises(InvalidParameter, match="a class label is a class name"):
        ds.set_label("k0", 3, layer="alice")  # type: ignore[arg-type]


def test_a_new_kind_is_written_read_back_and_compared_by_its_own_agreement(
    ds: assay.Dataset, number_kind: AnnotationKind
) -> None:
    info = ds.create_layer("alice", value_kind="toy_number")
    assert info["value_kind"] == "toy_number" and info["kind"] == "human"
    ds.create_layer("bob", value_kind="toy_number")
    for key, a, b in (("k0", 1.5, 2.5), ("k1", 4, 4), ("k2", 7, None)):
        ds.set_label(key, a, layer="alice", author="alice")  # type: ignore[arg-type]
        if b is not None:
            ds.set_label(key, b, layer="bob", author="bob")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="a number"):
        ds.set_label("k3", "cat", layer="alice", author="alice")

    labels = ds.item("k0")["labels"]
    assert labels["alice"]["value"] == 1.5 and labels["alice"]["label"] == "1.5"
    assert labels["ground_truth"]["value"] == labels["ground_truth"]["label"] == "cat"
    ds.set_label("k0", 2, layer="alice", author="alice")  # type: ignore[arg-type]
    ds.set_label("k2", None, layer="alice", author="alice")
    assert [h["label"] for h in ds.history("k0", layer="alice")] == ["1.5", "2"]
    assert [h["value"] for h in ds.history("k2", layer="alice")] == [7.0, None]
    assert "alice" not in ds.item("k2")["labels"]

    report = ds.agreement(["alice", "bob"])
    assert ToyNumber.calls == ["agreement"]
    assert report.to_dict() == {"layers": ["alice", "bob"], "n_common": 2, "mad": 0.25}
    assert report.reference == "median"  # type: ignore[attr-defined]  # the kind's default

    scanned = ds.review_scan(layers=["alice", "bob"], consensus_layer=None)
    assert (scanned.disagreement_found, scanned.disagreement_opened) == (1, 1)
    (case,), _ = ds.review.list()
    assert case["item_key"] == "k0" and case["label"] is None  # the kind stores no class
    assert case["evidence"] == {
        "labels": {"alice": 2.0, "bob": 2.5},
        "agreement": 0.5,
        "value_kind": "toy_number",
    }

    copy = ds.copy_layer("alice", "alice2", author="alice")
    assert copy["value_kind"] == "toy_number"
    assert ds.item("k1")["labels"]["alice2"]["value"] == 4.0


def test_a_new_kind_is_combined_by_its_own_consensus_into_a_layer_of_its_kind(
    ds: assay.Dataset, number_kind: AnnotationKind
) -> None:
    for name, values in (("alice", (1, 4, 7)), ("bob", (3, 4, None)), ("carol", (2, 10, 9))):
        ds.create_layer(name, owner=name, value_kind="toy_number")
        for key, value in zip(("k0", "k1", "k2"), values, strict=True):
            if value is not None:
                ds.set_label(key, value, layer=name, author=name)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="toy_number layers have no consensus method "
                       "'dawid-skene'; choose one of: median"):  # fmt: skip
        ds.consensus(layers=["alice", "bob"], into=None)
    # ("mean" is the number kind's: a name no kind registers.)
    with pytest.raises(InvalidParameter, match="unknown consensus method 'geometric'"):
        ds.consensus(method="geometric", layers=["alice", "bob"])
    with pytest.raises(InvalidParameter, match="do not apply to toy_number layers"):
        ds.consensus(method="median", layers=["alice", "bob"], model_layer="ground_truth")
    ds.consensus(method="majority-vote", layers=["ground_truth"], into="consensus")
    with pytest.raises(InvalidParameter, match="'consensus' holds classification labels"):
        ds.consensus(method="median", layers=["alice", "bob"])
    assert ToyNumber.calls == []

    result = ds.consensus(method="median", into="numbers")  # one layer per person
    assert ToyNumber.calls == ["combine:median"]
    assert result.summary()["layers"] == ["alice", "bob", "carol"]
    layer = ds.layer("numbers")
    assert (layer["kind"], layer["value_kind"]) == ("consensus", "toy_number")
    assert layer["origin"]["method"] == "median"
    got = {key: ds.item(key)["labels"]["numbers"] for key in ("k0", "k1", "k2")}
    assert {key: (r["value"], r["label"]) for key, r in got.items()} == {
        "k0": (2.0, "2"),
        "k1": (4.0, "4"),
        "k2": (8.0, "8"),
    }
    assert got["k0"]["author"] == "consensus:median"
    with pytest.raises(InvalidParameter, match="kind human"):
        ds.consensus(method="median", into="alice")


def test_current_labels_of_some_items_in_some_layers_are_shown_by_their_kind(
    project: assay.Project, ds: assay.Dataset, number_kind: AnnotationKind
) -> None:
    other = make_dataset(project, "other", n=3)
    ids = [int(r["id"]) for r in ds.items(limit=100)[0]]
    ds.create_layer("alice", owner="alice")
    ds.create_layer("sizes", value_kind="toy_number")
    ds.set_labels([(ids[0], "dog"), (ids[1], None)], layer="alice", author="alice")
    ds.set_label(ids[0], 2.5, layer="sizes", author="bob")  # type: ignore[arg-type]
    ds.set_label(ids[1], 1, layer="sizes", author="bob")  # type: ignore[arg-type]
    ds.set_label(ids[1], None, layer="sizes", author="bob", note="unsure")
    with project.store.read() as conn:
        layer_ids = {r.name: r.id for r in queries.list_layers(conn, ds.id)}
    wanted = [layer_ids["alice"], layer_ids["sizes"], layer_ids["ground_truth"]]
    got = current_labels_of(project.store, ds.id, ids[:3], wanted)
    alice, sizes, truth = (got[ids[0]][layer_ids[n]] for n in ("alice", "sizes", "ground_truth"))
    assert (alice["label"], alice["value"], alice["author"]) == ("dog", "dog", "alice")
    assert (sizes["label"], sizes["value"], sizes["layer"]) == ("2.5", 2.5, "sizes")
    assert (truth["label"], truth["value"]) == ("cat", "cat")
    cleared = got[ids[1]][layer_ids["sizes"]]  # a cleared label is there, with no value
    assert (cleared["label"], cleared["value"], cleared["note"]) == (None, None, "unsure")
    assert layer_ids["alice"] not in got[ids[2]]  # never labeled in the layer
    # Another dataset's items are no items of this one.
    other_ids = [int(r["id"]) for r in other.items()[0]]
    assert current_labels_of(project.store, ds.id, other_ids, wanted) == {}
    # The items page shows each item's label as its layer's kind shows it.
    page, _ = ds.items(layer="sizes", limit=2)
    assert [r["label"] for r in page] == ["2.5", None]


def test_the_cli_shows_a_new_kind_as_the_kind_says(
    project: assay.Project, ds: assay.Dataset, number_kind: AnnotationKind
) -> None:
    ds.create_layer("alice", value_kind="toy_number")
    ds.set_label("k0", 1.25, layer="alice", author="alice")  # type: ignore[arg-type]
    argv = ["-p", str(project.root), "--db", project.store.url, "label", "history", "k0"]
    result = CliRunner().invoke(app, [*argv, "--layer", "alice"])
    assert result.exit_code == 0, result.output
    assert "1.25" in result.output
    result = CliRunner().invoke(app, [*argv, "--json"])
    assert [(h["layer"], h["label"], h["value"]) for h in json.loads(result.output)] == [
        ("ground_truth", "cat", "cat"),
        ("alice", "1.25", 1.25),
    ]


def test_the_cli_makes_and_lists_layers_of_a_kind(
    project: assay.Project, ds: assay.Dataset, number_kind: AnnotationKind
) -> None:
    argv = ["-p", str(project.root), "--db", project.store.url, "layer"]
    made = CliRunner().invoke(app, [*argv, "create", "sizes", "--value-kind", "toy_number"])
    assert made.exit_code == 0, made.output
    assert "of toy_number labels" in made.output
    refused = CliRunner().invoke(app, [*argv, "create", "shapes", "--value-kind", "polygons"])
    assert refused.exit_code != 0 and "Unknown annotation kind 'polygons'" in refused.output
    assert CliRunner().invoke(app, [*argv, "create", "plain"]).exit_code == 0
    listed = CliRunner().invoke(app, [*argv, "list", "--json"])
    kinds = {r["name"]: r["value_kind"] for r in json.loads(listed.output)}
    assert kinds == {"ground_truth": "classification", "sizes": "toy_number",
                     "plain": "classification"}  # fmt: skip
    table = CliRunner(env={"COLUMNS": "200"}).invoke(app, [*argv, "list"])
    assert "value kind" in table.output and "toy_number" in table.output


def test_a_snapshot_diff_of_a_new_kind_speaks_its_words(
    ds: assay.Dataset, number_kind: AnnotationKind
) -> None:
    ds.create_layer("alice", value_kind="toy_number")
    for key, value in (("k0", 1), ("k1", 2), ("k2", 3)):
        ds.set_label(key, value, layer="alice", author="alice")  # type: ignore[arg-type]
    assert ds.snapshot("before")["n_labels"] == 20 + 3
    ds.set_label("k0", 1.5, layer="alice", author="alice")  # type: ignore[arg-type]
    ds.set_label("k1", 2, layer="alice", author="alice")  # type: ignore[arg-type]  # the same
    ds.set_label("k2", None, layer="alice", author="alice")
    ds.set_label("k3", 4, layer="alice", author="alice")  # type: ignore[arg-type]
    ds.set_label("k4", "bird", layer="ground_truth", author="alice")
    d = ds.diff("before").to_dict()
    alice = next(layer for layer in d["layers"] if layer["layer"] == "alice")
    assert (alice["relabeled"], alice["added"], alice["removed"], alice["flows"]) == (1, 1, 1, [])
    assert [(i["layer"], i["key"], i["was"], i["now"], i["change"]) for i in d["items"]] == [
        ("ground_truth", "k4", "dog", "bird", "dog -> bird"),
        ("alice", "k0", "1", "1.5", "1 -> 1.5"),
        ("alice", "k2", "3", None, "removed 3"),
        ("alice", "k3", None, "4", "added 4"),
    ]
    assert d["per_class"] == {"bird": {"gained": 1, "lost": 0}, "dog": {"gained": 0, "lost": 1}}


def test_layers_of_different_kinds_are_not_compared_or_combined(
    ds: assay.Dataset, number_kind: AnnotationKind
) -> None:
    ds.create_layer("alice", value_kind="toy_number")
    ds.set_label("k0", 1, layer="alice", author="alice")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="labels of different kinds"):
        ds.agreement(["ground_truth", "alice"])
    with pytest.raises(InvalidParameter, match="labels of different kinds"):
        ds.consensus(method="majority-vote", layers=["ground_truth", "alice"], into=None)
    with pytest.raises(InvalidParameter, match="toy_number labels, not classification"):
        ds.agreement(["ground_truth"], reference="alice")
    with pytest.raises(InvalidParameter, match="no consensus method for toy_number"):
        AnnotationKind.combine(number_kind, ValueTable("toy_number", [], []), "median")
    with pytest.raises(InvalidParameter, match="no label-quality check for toy_number"):
        ds.quality.find(layer="alice", model_layer="ground_truth", features=False)
    with pytest.raises(InvalidParameter, match="different kinds"):
        with ds.store.read() as conn:
            layers = conn.execute(sa.text("SELECT name, value_kind FROM layers")).all()
        kind_of_layers(layers)


def test_the_migration_makes_existing_layers_classification(store_url: str) -> None:
    store = Store(store_url)
    config = alembic_config(store)
    with store.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")  # the PostgreSQL test database comes migrated
        command.upgrade(config, "0007")
    with store.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO datasets (id, name, description, created_at, state)"
                " VALUES (1, 'old', '', CURRENT_TIMESTAMP, 'ready')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO layers (id, dataset_id, name, kind, frozen, created_at)"
                " VALUES (1, 1, 'ground_truth', 'import', false, CURRENT_TIMESTAMP)"
            )
        )
    with store.write() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    assert current_revision(store) == HEAD
    with store.read() as conn:
        assert conn.execute(sa.text("SELECT value_kind FROM layers")).scalar() == "classification"
    with store.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
    assert current_revision(store) == "0007"
    store.close()
