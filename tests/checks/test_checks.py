"""Data checks (issue 19): expectations inferred from the data, run, failing with the items
named, skipped when they cannot run, bad files named by line, and imports gated by them."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import assay
from assay import checks
from assay.errors import ChecksFailed, DataFormatError, InvalidParameter
from assay.project import Project
from assay.store import schema as t
from helpers import count, demo_copy

sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

# 40 rows, 2 classes in equal shares, 2 splits; no row repeats another's fields.
ROWS = [
    f"r{i},{10 + i},{0.5 + i / 100:.2f},{'red' if i % 3 else 'blue'},{'a' if i % 2 else 'b'},"
    f"{'train' if i < 30 else 'test'}"
    for i in range(40)
]
CSV = "id,size,weight,colour,label,split\n" + "\n".join(ROWS) + "\n"


@pytest.fixture
def project(tmp_path: Path, store_url: str) -> Any:
    with assay.init(tmp_path / "project", db=store_url) as p:
        yield p


@pytest.fixture
def demo_project(tmp_path_factory: pytest.TempPathFactory, _demo_template: Path) -> Any:
    project = demo_copy(_demo_template, tmp_path_factory)
    yield project
    project.close()


def table(project: Project, tmp_path: Path, text: str = CSV, **options: Any) -> Any:
    path = tmp_path / "rows.csv"
    path.write_text(text)
    project.import_path(
        path, dataset="rows", label_column="label", key_column="id", split_column="split",
        **options,
    )  # fmt: skip
    return project.dataset("rows")


def by_name(report: checks.Report) -> dict[str, checks.Result]:
    return {r.name: r for r in report.results}


def keys(result: checks.Result) -> list[str]:
    return [i["key"] for i in result.items]


def write_expectations(ds: Any, text: str) -> Path:
    path = checks.expectations_path(ds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- init, then check ------------------------------------------------------------------------


def test_init_then_check_passes_and_the_report_is_kept(project: Project, tmp_path: Path) -> None:
    ds = table(project, tmp_path)

    path = checks.init_expectations(ds)
    report = checks.run_checks(ds)

    text = path.read_text()
    assert path == project.root / "checks" / "rows.toml"
    assert 'check = "field"' in text and 'field = "size"' in text and "max = 49.0" in text
    assert 'values = ["blue", "red"]' in text
    assert report.passed and report.counts["fail"] == 0, report.to_dict()
    names = by_name(report)
    assert {"field-size", "field-colour", "ground_truth-balance", "leakage"} <= set(names)
    assert names["field-size"].status == "pass"
    latest = checks.latest_report(ds)
    assert latest is not None and latest.to_dict() == report.to_dict()
    with pytest.raises(assay.errors.Conflict, match="exists already"):
        checks.init_expectations(ds)


@sqlite_only
def test_field_out_of_range_fails_with_its_items(project: Project, tmp_path: Path) -> None:
    ds = table(project, tmp_path)
    checks.init_expectations(ds)
    table(project, tmp_path, "id,size,weight,colour,label,split\nbig,500,0.6,red,a,train\n"
          "odd,12,0.6,green,b,train\n")  # fmt: skip

    names = by_name(checks.run_checks(ds))

    assert names["field-size"].status == "fail"
    assert (names["field-size"].n_items, keys(names["field-size"])) == (1, ["big"])
    assert keys(names["field-colour"]) == ["odd"]
    assert "one of 2 values" in names["field-colour"].message
    # The same rows through partitions on forked workers, merged: the same answer.
    from assay.checks.fields import FieldRows
    from assay.stats.inventory import aggregate

    rules = FieldRows([("size", "number", None, 49.0, False, None),
                       ("colour", "category", None, None, True, ("blue", "red"))])  # fmt: skip
    state = aggregate(ds, n_jobs=2, partition_rows=15, extra=(rules,))
    merged = state.extra[0]
    assert isinstance(merged, FieldRows)
    assert merged.counts == {"size": 1, "colour": 1}
    assert merged.first["size"] == [names["field-size"].items[0]["id"]]


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@sqlite_only
def test_mnist_like_set_passes_and_an_odd_image_fails(project: Project, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist-like"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(rng.integers(0, 256, (60, 28, 28))))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(60) % 10))
    project.import_path(folder, dataset="mnist")
    ds = project.dataset("mnist")

    checks.init_expectations(ds)
    report = checks.run_checks(ds)

    assert report.passed, report.to_dict()
    names = by_name(report)
    assert names["image_size"].message.endswith("(sizes 28x28)")
    assert names["image_mode"].status == "pass"
    with project.store.write() as conn:
        conn.execute(
            t.items.update()
            .where(t.items.c.dataset_id == ds.id, t.items.c.external_key == "7")
            .values(width=32)
        )
    failed = by_name(checks.run_checks(ds))["image_size"]
    assert (failed.status, keys(failed)) == ("fail", ["7"])


def test_demo_init_then_check_passes(demo_project: Any) -> None:
    ds = demo_project.dataset("digits")
    checks.init_expectations(ds)
    report = checks.run_checks(ds)
    assert report.passed, [r.message for r in report.failures]
    assert {"agreement", "ground_truth-class_set", "leakage"} <= set(by_name(report))


# -- failures name their items ---------------------------------------------------------------


def test_a_relabel_that_breaks_balance_fails_naming_the_relabelled(
    project: Project, tmp_path: Path
) -> None:
    ds = table(project, tmp_path)
    checks.init_expectations(ds)
    relabelled = [f"r{i}" for i in range(1, 13, 2)]  # six 'a' rows become 'b': 35% / 65%
    ds.set_labels([(k, "b") for k in relabelled], layer="ground_truth")

    result = by_name(checks.run_checks(ds))["ground_truth-balance"]

    assert result.status == "fail"
    assert "a: 35.0% (expected 50.0%)" in result.message
    assert result.n_items == 26  # the items of the class grown past its share
    assert set(keys(result)[:6]) == set(relabelled)  # the latest labels first


def test_an_import_with_a_new_class_fails_naming_its_items(
    project: Project, tmp_path: Path
) -> None:
    ds = table(project, tmp_path)
    checks.init_expectations(ds)
    table(project, tmp_path, "id,size,weight,colour,label,split\nn1,11,0.6,red,c,train\n",
          add_classes=True)  # fmt: skip

    result = by_name(checks.run_checks(ds))["ground_truth-class_set"]

    assert (result.status, result.n_items, keys(result)) == ("fail", 1, ["n1"])
    assert "new class(es) c" in result.message


def test_a_train_test_duplicate_is_leakage(project: Project, tmp_path: Path) -> None:
    ds = table(project, tmp_path)
    checks.init_expectations(ds)
    # The same fields as r3 (a train row), under another key, in the test split.
    table(project, tmp_path, "id,size,weight,colour,label,split\ncopy,13,0.53,blue,a,test\n")

    result = by_name(checks.run_checks(ds))["leakage"]

    assert result.status == "fail"
    assert sorted(keys(result)) == ["copy", "r3"]


@sqlite_only
def test_a_drop_in_agreement_fails_naming_the_disagreements(
    project: Project, tmp_path: Path
) -> None:
    ds = table(project, tmp_path)
    for name in ("ann1", "ann2"):
        ds.create_layer(name)
        ds.set_labels([(f"r{i}", "a" if i % 2 else "b") for i in range(40)], layer=name)
    ds.set_labels([("r0", "a")], layer="ann2")  # one disagreement: 97.5%
    path = write_expectations(
        ds, '[agree]\ncheck = "agreement"\nlayers = ["ann1", "ann2"]\nmin = 0.9\n'
    )
    assert by_name(checks.run_checks(ds))["agree"].status == "pass"

    ds.set_labels([(f"r{i}", "a") for i in range(2, 12, 2)], layer="ann2")
    result = by_name(checks.run_checks(ds))["agree"]

    assert result.status == "fail" and "85.0% (min 90.0%)" in result.message
    assert sorted(keys(result)) == sorted(["r0", "r2", "r4", "r6", "r8", "r10"])
    assert result.line == 1 and path.exists()


def test_agreement_of_tags_and_numbers_is_the_kinds_own_figure(
    project: Project, tmp_path: Path
) -> None:
    """A floor on agreement between tag (or number) annotators reads the kind's own figure
    (Krippendorff's alpha), inferred a little under today's, and fails naming the items where
    they disagree once one annotator drifts."""
    ds = table(project, tmp_path)
    rng = np.random.default_rng(3)
    truth = {f"r{i}": sorted({"a", "b"} & {str(t) for t in rng.choice(["a", "b", "c"], 2)})
             for i in range(40)}  # fmt: skip
    for name in ("t1", "t2", "t3"):
        ds.create_layer(name, value_kind="tags")
        ds.set_labels([(k, v) for k, v in truth.items()], layer=name)
    ds.set_labels([("r0", ["a", "b"] if truth["r0"] != ["a", "b"] else ["b"])], layer="t3")
    text = checks.init_expectations(ds).read_text()
    assert '[agreement]\ncheck = "agreement"' in text
    result = by_name(checks.run_checks(ds))["agreement"]
    assert result.status == "pass" and "Krippendorff's alpha over the tags" in result.message

    drifted = list(truth)[1:21]
    ds.set_labels([(k, [] if truth[k] else ["a"]) for k in drifted], layer="t3")
    result = by_name(checks.run_checks(ds))["agreement"]
    assert result.status == "fail", result.message
    # The items named are where they disagree: the drifted ones (and r0), no other.
    assert result.n_items == len(drifted) + 1 and set(keys(result)) <= {*drifted, "r0"}


# -- skipped is not passed -------------------------------------------------------------------


@sqlite_only
def test_checks_that_cannot_run_are_skipped_with_the_reason(
    project: Project, tmp_path: Path
) -> None:
    ds = table(project, tmp_path)
    write_expectations(
        ds,
        '[agree]\ncheck = "agreement"\nlayers = ["ground_truth"]\nmin = 0.9\n\n'
        '[issues]\ncheck = "label_issues"\nlayer = "ground_truth"\nmax = 0.1\n\n'
        '[texts]\ncheck = "text_length"\nmax = 100\n',
    )

    report = checks.run_checks(ds)

    assert report.counts == {"pass": 0, "fail": 0, "skipped": 3}
    names = by_name(report)
    assert "at least 2 annotators" in names["agree"].message
    assert "no label-issue search" in names["issues"].message
    assert names["texts"].message == "the dataset has no text items"


# -- bad expectations files name the line ----------------------------------------------------


@sqlite_only
@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[a]\ncheck = "coverage"\nlayer = "ground_truth"\nmin = 0.5\n\n[b]\ncheck = "colour"\n',
         7, "unknown check 'colour'"),
        ('[a]\ncheck = "coverage"\nlayer = "ground_truth"\nmin = "high"\n', 4, "min:"),
        ('[a]\ncheck = "coverage"\n\nlayer = "nobody"\nmin = 0.5\n', 4, "no layer 'nobody'"),
        ('[a]\ncheck = "coverage"\nlayer = "ground_truth"\n', 1, "min: missing"),
        ('[a]\ncheck = "coverage"\nlayer = "ground_truth"\nmin = 0.5\nmax = 1\n', 5,
         "unknown parameter"),
        ('[a]\ncheck = "field"\nfield = "age"\ndtype = "number"\n', 3, "no field 'age'"),
        ('[a]\ncheck = "boxes_inside"\nlayer = "ground_truth"\n', 3, "holds classification"),
        ('check = "coverage"\n', 1, "outside any table"),
    ],
)  # fmt: skip
def test_a_bad_expectations_file_names_the_line(
    project: Project, tmp_path: Path, text: str, line: int, words: str
) -> None:
    ds = table(project, tmp_path)
    path = write_expectations(ds, text)
    with pytest.raises(DataFormatError) as caught:
        checks.run_checks(ds)
    message = str(caught.value)
    assert message.startswith(f"{path}, line {line}: "), message
    assert words in message


@sqlite_only
def test_no_expectations_file_says_how_to_make_one(project: Project, tmp_path: Path) -> None:
    ds = table(project, tmp_path)
    with pytest.raises(InvalidParameter, match="assay check --init --dataset rows"):
        checks.run_checks(ds)


# -- imports gated by the checks -------------------------------------------------------------


def snapshot(project: Project) -> tuple[Any, ...]:
    with project.store.read() as conn:
        labels = conn.execute(
            sa.select(t.labels.c.item_id, t.labels.c.class_id).order_by(t.labels.c.id)
        ).all()
        items = conn.execute(sa.select(t.items.c.external_key).order_by(t.items.c.id)).all()
    return (labels, items, count(project, t.classes), count(project, t.layers))


@pytest.mark.parametrize("use_process", [False, True])
def test_an_import_with_check_refuses_to_publish_and_leaves_the_dataset(
    project: Project, tmp_path: Path, use_process: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.ingest import sinks, staging

    started: list[Any] = []  # the publishing transaction in this process, or a forked writer's
    monkeypatch.setattr(
        staging, "ProcessSink", lambda job: started.append(job) or sinks.ProcessSink(job)
    )
    ds = table(project, tmp_path)
    checks.init_expectations(ds)
    before = snapshot(project)
    new = tmp_path / "new.csv"
    new.write_text("id,size,weight,colour,label,split\nn1,11,0.6,red,c,train\n"
                   "n2,12,0.6,red,a,train\n")  # fmt: skip

    started.clear()
    with pytest.raises(ChecksFailed) as caught:
        project.import_path(new, dataset="rows", label_column="label", key_column="id",
                            split_column="split", add_classes=True, check=True, batch_size=1,
                            use_process=use_process)  # fmt: skip

    assert "ground_truth-class_set" in str(caught.value) and "n1" in str(caught.value)
    assert len(started) == (1 if use_process else 0)
    assert snapshot(project) == before
    assert project.imports(1)[0]["state"] == "failed"
    # Without the failing row it passes, and publishes.
    new.write_text("id,size,weight,colour,label,split\nn2,12,0.6,red,a,train\n")
    project.import_path(new, dataset="rows", label_column="label", key_column="id",
                        split_column="split", check=True)  # fmt: skip
    assert ds.count() == 41


@sqlite_only
def test_the_cli_exits_non_zero_on_a_failure_and_prints_json(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.cli import app

    ds = table(project, tmp_path)
    monkeypatch.chdir(project.root)
    runner = CliRunner()
    made = runner.invoke(app, ["check", "--init", "--dataset", "rows"])
    assert made.exit_code == 0, made.output
    passed = runner.invoke(app, ["check", "--dataset", "rows", "--json"])
    assert passed.exit_code == 0 and json.loads(passed.stdout)["passed"] is True
    ds.set_labels([(f"r{i}", "b") for i in range(1, 21, 2)], layer="ground_truth")

    failed = runner.invoke(app, ["check", "--dataset", "rows"])

    assert failed.exit_code == 1
    assert "fail" in failed.stdout and "ground_truth-balance" in failed.stdout
    new = tmp_path / "new.csv"
    new.write_text("id,size,weight,colour,label,split\nn1,11,0.6,red,c,train\n")
    refused = runner.invoke(
        app, ["import", str(new), "--dataset", "rows", "--label-column", "label",
              "--key-column", "id", "--split-column", "split", "--add-classes", "--check"],
    )  # fmt: skip
    assert refused.exit_code == 1 and "Not imported" in refused.output
    assert ds.count() == 40


# -- checks an annotation kind contributes ---------------------------------------------------


@sqlite_only
def test_kinds_contribute_their_checks(project: Project, tmp_path: Path) -> None:
    ds = table(project, tmp_path)
    ds.create_layer("tags", value_kind="tags")
    ds.create_layer("size", value_kind="number")
    for k in range(4):
        ds.set_label(f"r{k}", ["a"] if k % 2 else ["a", "b"], layer="tags")
        ds.set_label(f"r{k}", float(k), layer="size")
    text = checks.init_expectations(ds).read_text()
    assert '[tags-tags_not_empty]\ncheck = "tags_not_empty"' in text
    assert (
        '[size-numbers_in_range]\ncheck = "numbers_in_range"\nlayer = "size"\nmin = 0.0\nmax = 3.0'
        in text
    )
    assert checks.run_checks(ds).passed

    ds.set_label("r5", [], layer="tags")
    ds.set_label("r6", 7.5, layer="size")
    names = by_name(checks.run_checks(ds))

    assert (names["tags-tags_not_empty"].status, keys(names["tags-tags_not_empty"])) == (
        "fail", ["r5"])  # fmt: skip
    assert keys(names["size-numbers_in_range"]) == ["r6"]
    assert "outside 0..3" in names["size-numbers_in_range"].message


@sqlite_only
def test_boxes_and_spans_inside_their_item(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 28, 28))))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.array([0, 1, 2])))
    project.import_path(folder, dataset="imgs")
    images = project.dataset("imgs")
    images.create_layer("boxes", value_kind="boxes")
    images.set_label("1", [{"class": "1", "x": 10, "y": 10, "w": 8, "h": 8}], layer="boxes")
    texts_file = tmp_path / "t.jsonl"
    texts_file.write_text('{"id": "t1", "text": "hello world"}\n{"id": "t2", "text": "bye"}\n')
    project.import_path(texts_file, dataset="texts", key_field="id")
    texts = project.dataset("texts")
    with project.store.write() as conn:
        conn.execute(t.classes.insert().values(dataset_id=texts.id, name="GREET", position=0))
    texts.create_layer("spans", value_kind="spans")
    texts.set_label("t1", [{"class": "GREET", "start": 0, "end": 5}], layer="spans")
    for ds in (images, texts):
        checks.init_expectations(ds)
        assert checks.run_checks(ds).passed
    assert 'check = "boxes_inside"' in checks.expectations_path(images).read_text()
    assert 'check = "spans_inside"' in checks.expectations_path(texts).read_text()

    with project.store.write() as conn:  # the items measured again, smaller
        i = t.items.c
        conn.execute(t.items.update().where(i.external_key == "1").values(width=14))
        conn.execute(t.items.update().where(i.external_key == "t1").values(text_length=3))

    boxes = by_name(checks.run_checks(images))["boxes-boxes_inside"]
    spans = by_name(checks.run_checks(texts))["spans-spans_inside"]
    assert (boxes.status, keys(boxes)) == ("fail", ["1"])
    assert (spans.status, keys(spans)) == ("fail", ["t1"])
    # Width 14 breaks image_size too; text_length 3 is within the inferred 3..11.
    assert by_name(checks.run_checks(images))["image_size"].status == "fail"


def save_search(project: Project, ds: Any, flagged: list[str]) -> None:
    """A label-issue search's results, stored as ``quality`` stores them (for speed: the
    search itself is tested in tests/quality)."""
    from datetime import UTC, datetime

    from assay.quality import runs

    if "m" not in {layer["name"] for layer in ds.layers()}:
        ds.create_layer("m", kind="model")
    with project.store.write() as conn:
        ids = dict(
            conn.execute(
                sa.select(t.items.c.external_key, t.items.c.id).where(t.items.c.dataset_id == ds.id)
            ).all()
        )
        run_id = runs.import_run(conn, ds.id, "m", "test")
        item_ids = np.array(sorted(ids.values()))
        flagged_ids = {ids[k] for k in flagged}
        is_issue = np.array([i in flagged_ids for i in item_ids])
        quality = np.where(is_issue, 0.1, 0.9) - item_ids / 1e6
        columns = {"given_class_id": None, "suggested_class_id": None, "quality": quality,
                   "is_issue": is_issue, "loss": 1 - quality}  # fmt: skip
        summary = {"layer": "ground_truth", "n_items": len(item_ids), "n_issues": len(flagged),
                   "computed_at": datetime.now(UTC).isoformat()}  # fmt: skip
        runs.save(conn, run_id, item_ids, columns, summary)


def test_the_share_of_label_issues_has_a_ceiling(project: Project, tmp_path: Path) -> None:
    ds = table(project, tmp_path)
    save_search(project, ds, ["r7"])  # 2.5%
    text = checks.init_expectations(ds).read_text()
    assert (
        '[ground_truth-label_issues]\ncheck = "label_issues"\nlayer = "ground_truth"\nmax = 0.035'
        in text
    )
    assert checks.run_checks(ds).passed

    save_search(project, ds, ["r7", "r9", "r20", "r33"])  # 10%
    result = by_name(checks.run_checks(ds))["ground_truth-label_issues"]

    assert result.status == "fail" and "10.00% of 'ground_truth'" in result.message
    assert (result.n_items, sorted(keys(result))) == (4, ["r20", "r33", "r7", "r9"])


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("digits", "digits"),
        ("mnist-test_2", "mnist-test_2"),
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd"),
        ("a/b", "a%2Fb"),
        ("..", "%2E."),
    ],
)
def test_an_expectations_file_stays_in_the_checks_folder(name: str, stem: str) -> None:
    """A dataset name is a file name only once encoded: '/' and a leading '.' never make a
    path outside checks/, and plain names read as they are."""
    from assay.checks.expectations import file_stem

    assert file_stem(name) == stem
    assert "/" not in file_stem(name) and not file_stem(name).startswith(".")


def test_a_long_dataset_name_gets_a_file_name_a_file_system_takes() -> None:
    from assay.checks.expectations import MAX_STEM, file_stem

    long_a, long_b = "é" * 200, "é" * 199 + "e"
    assert len(file_stem(long_a).encode()) <= MAX_STEM
    assert file_stem(long_a) != file_stem(long_b)
