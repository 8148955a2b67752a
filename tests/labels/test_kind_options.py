"""The tags, spans and number kinds through the write path: layer options, values checked
against the dataset's classes, the item's text and the layer's range, diffs in the kind's words
(both backends: the options and texts come from the store)."""

from __future__ import annotations

import pytest

import assay
from assay.errors import InvalidParameter
from assay.ingest.staging import ImportJob, json_hash

TEXTS = ["Ada Lovelace met Babbage in London.", "Café au lait", "e\u0301 accent"]


def _texts(project: assay.Project) -> assay.Dataset:
    with ImportJob(
        project.store, "notes", source="mem", format="test", classes=["PER", "LOC", "x"]
    ) as job:
        for i, text in enumerate(TEXTS):
            job.add(
                {"external_key": f"t{i}", "kind": "text", "text": text,
                 "content_hash": json_hash({"t": text})},
                where=i + 2,
            )  # fmt: skip
        job.publish()
    return project.dataset("notes")


def test_spans_checked_against_the_text_and_the_overlap_option(project: assay.Project) -> None:
    ds = _texts(project)
    ds.create_layer("ner", value_kind="spans")
    spans = [{"start": 17, "end": 24, "class": "PER"}, {"start": 0, "end": 12, "class": "PER"}]
    ds.set_label("t0", spans, layer="ner", author="alice")
    assert ds.item("t0")["labels"]["ner"]["value"] == sorted(spans, key=lambda s: s["start"])
    with pytest.raises(InvalidParameter, match=r"span 1 \[30, 99\) is outside the text"):
        ds.set_label("t0", [{"start": 30, "end": 99, "class": "LOC"}], layer="ner", author="a")
    with pytest.raises(InvalidParameter, match="overlaps"):
        ds.set_label(
            "t0",
            [{"start": 0, "end": 12, "class": "PER"}, {"start": 4, "end": 12, "class": "PER"}],
            layer="ner",
            author="alice",
        )
    with pytest.raises(InvalidParameter, match="splits a character"):
        ds.set_label("t2", [{"start": 0, "end": 1, "class": "x"}], layer="ner", author="alice")
    with pytest.raises(InvalidParameter, match="unknown class 'ORG'"):
        ds.set_label("t1", [{"start": 0, "end": 4, "class": "ORG"}], layer="ner", author="a")
    nested = ds.create_layer("nested", value_kind="spans", options={"overlap": "true"})
    assert nested["options"] == {"overlap": True}
    both = [{"start": 0, "end": 12, "class": "PER"}, {"start": 4, "end": 12, "class": "PER"}]
    ds.set_label("t0", both, layer="nested", author="alice")
    copy = ds.copy_layer("nested", "nested2", author="alice")
    assert copy["options"] == {"overlap": True}
    # the first label stays; the refused writes left nothing behind
    assert len(ds.history("t0", layer="ner")) == 1


def test_numbers_keep_to_the_layers_range(project: assay.Project) -> None:
    ds = _texts(project)
    options = {"min": "1", "max": "5", "integer": "true", "unit": "★"}
    layer = ds.create_layer("stars", value_kind="number", options=options)
    assert layer["options"] == {"min": 1.0, "max": 5.0, "integer": True, "unit": "★"}
    ds.set_label("t0", 4, layer="stars", author="alice")
    ds.set_label("t0", 2, layer="stars", author="bob")
    with pytest.raises(InvalidParameter, match=r"7 is outside the layer's range \[1, 5\]"):
        ds.set_label("t1", 7, layer="stars", author="alice")
    with pytest.raises(InvalidParameter, match="not a whole number"):
        ds.set_label("t1", 2.5, layer="stars", author="alice")
    with pytest.raises(InvalidParameter, match="is a number, not 'four'"):
        ds.set_label("t1", "four", layer="stars", author="alice")
    with pytest.raises(InvalidParameter, match=r"min .* must be below max"):
        ds.create_layer("bad", value_kind="number", options={"min": 3, "max": 1})
    with pytest.raises(InvalidParameter, match="not 'colour'"):
        ds.create_layer("bad", value_kind="number", options={"colour": "red"})
    with pytest.raises(InvalidParameter, match="take no options"):
        ds.create_layer("bad", options={"min": 0})
    kind = assay.labels.kinds.get_kind("number")
    assert kind.diff(4.0, 2.0) == "4 -> 2 (-2)"


def test_tags_are_a_set_of_the_datasets_classes(project: assay.Project) -> None:
    ds = _texts(project)
    ds.create_layer("topics", value_kind="tags")
    ds.set_label("t0", ["LOC", "PER", "LOC"], layer="topics", author="alice")
    assert ds.item("t0")["labels"]["topics"]["value"] == ["PER", "LOC"]
    with pytest.raises(InvalidParameter, match="tag 'ORG' is not in the dataset's tag set"):
        ds.set_label("t0", ["ORG"], layer="topics", author="alice")
    kind = assay.labels.kinds.get_kind("tags")
    assert kind.parse("PER, LOC") == ["PER", "LOC"]
    assert kind.diff(["PER"], ["LOC"]) == "+LOC, -PER"


def test_a_decision_between_layers_is_a_value_of_the_kind() -> None:
    kind = assay.labels.kinds.get_kind("tags")
    values = {"a": ["PER"], "b": ["PER", "LOC"], "c": ["PER"]}
    assert kind.decide("accept", values, ["a", "b", "c"]) == (
        ["PER"],
        "the tags most of a, b, c gave",
    )
    assert kind.decide("b", values, ["a", "b", "c"])[0] == ["PER", "LOC"]
    assert kind.decide("LOC, x", values, ["a", "b", "c"])[0] == ["LOC", "x"]
    with pytest.raises(InvalidParameter, match="Layer 'd' has no label"):
        kind.decide("d", values, ["a", "b", "c", "d"])
    number = assay.labels.kinds.get_kind("number")
    assert number.accept(3.0, {"suggested_value": 4.5}) == 4.5
    with pytest.raises(InvalidParameter, match="suggests no number"):
        number.accept(3.0, {})


def test_each_kinds_case_offers_its_own_decisions() -> None:
    """What the review page lists for a case is asked of the kind: a tags case offers the
    majority, each annotator's set and an edited set of the classes, never a class name; a
    number case the median, each value and a value within the layers' (widest) range; a span
    case the vote and each layer; a label-quality case the suggestion applied; a class case
    the classes."""
    from assay.review.decisions import decision_options

    def case(kind: str, labels: dict[str, object], **evidence: object) -> dict[str, object]:
        return {
            "reason": "disagreement",
            "evidence": {"value_kind": kind, "labels": labels, **evidence},
        }

    def now(values: dict[str, object]) -> dict[str, dict[str, object]]:
        return {n: {"value": v} for n, v in values.items()}

    tags = {"a": ["PER"], "b": ["PER", "LOC"], "c": ["PER"]}
    found = decision_options(
        case("tags", tags), now(tags), {}, ["PER", "LOC", "x"], layer=None, target="reviewed"
    )
    assert [(c["choice"], c["text"]) for c in found["choices"]] == [
        ("accept", "majority: PER"),
        ("a", "a: PER"),
        ("b", "b: PER, LOC"),
        ("c", "c: PER"),
    ]
    assert found["suggested"] == "accept"
    assert found["entry"] == {
        "input": "set",
        "options": ["PER", "LOC", "x"],
        "text": "an edited tag set",
    }

    values = {"a": 200.0, "b": 219.0, "c": 208.0}
    options = {
        "a": {"min": 25.0, "max": 346.0, "integer": True},
        "b": {"min": 0.0, "max": 300.0, "integer": True},
        "c": {"min": 25.0, "max": 346.0},
    }
    found = decision_options(
        case("number", values), now(values), options, [], layer=None, target="reviewed"
    )
    assert [(c["choice"], c["value"]) for c in found["choices"]] == [
        ("accept", 208.0),
        ("a", 200.0),
        ("b", 219.0),
        ("c", 208.0),
    ]
    assert found["choices"][0]["text"] == "median: 208"
    entry = found["entry"]
    assert (entry["min"], entry["max"], entry["step"]) == (0.0, 346.0, "any")  # c takes fractions

    spans = {"a": [{"start": 0, "end": 3, "class": "PER"}], "b": []}
    found = decision_options(
        case("spans", spans, span_layers=["a", "b"]),
        now(spans),
        {},
        ["PER"],
        layer=None,
        target="reviewed",
    )
    assert [c["text"] for c in found["choices"]][1:] == ["a: 1 span: PER", "b: (no spans)"]
    assert found["choices"][0]["text"].startswith("vote: ") and found["entry"] is None

    suspects = [{"tag": "LOC", "kind": "missing"}, {"tag": "x", "kind": "wrong"}]
    issue = {
        "reason": "mislabel",
        "evidence": {"tag_layers": ["bob"], "layer": "bob", "suspect_tags": suspects},
    }
    found = decision_options(
        issue, now({"bob": ["PER", "x"]}), {}, ["PER", "LOC", "x"], layer="bob", target="bob"
    )
    assert found["choices"] == [
        {
            "choice": "accept",
            "text": "the suggestion: PER, LOC",
            "what": "the suggestion",
            "value": ["PER", "LOC"],
        }
    ]

    found = decision_options(
        {"reason": "mislabel", "evidence": {}}, {}, {}, ["cat", "dog"], layer="gt", target="gt"
    )
    assert found["kind"] is None and [c["choice"] for c in found["choices"]] == ["cat", "dog"]
