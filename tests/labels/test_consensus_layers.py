"""Consensus and agreement read from the store and written back as a consensus layer."""

from __future__ import annotations

import numpy as np
import pytest
import sqlalchemy as sa

import assay
from assay.errors import InvalidParameter
from assay.labels.writes import LabelWrite
from assay.store import schema as t

CLASSES = ["cat", "dog", "bird"]


@pytest.fixture
def crowd(ds: assay.Dataset) -> assay.Dataset:
    """Three annotators on 20 items (truth = ground_truth): good, good with 2 slips, and a
    random one; plus a model layer with probabilities that favour the truth."""
    rng = np.random.default_rng(3)
    truth = [CLASSES[i % 3] for i in range(20)]
    labels = {
        "good": truth,
        "slips": [("bird" if i in (4, 9) else c) for i, c in enumerate(truth)],
        "random": [CLASSES[int(k)] for k in rng.integers(0, 3, 20)],
    }
    for name, values in labels.items():
        ds.create_layer(name)
        ds.set_labels([(f"k{i}", c) for i, c in enumerate(values)], layer=name, author=name)
    ds.create_layer("model", kind="model")
    writes = []
    for i, c in enumerate(truth):
        probs = [0.1, 0.1, 0.1]
        probs[CLASSES.index(c)] = 0.8
        writes.append(LabelWrite(ds.item(f"k{i}")["id"], c, probs=probs))
    ds.set_labels(writes, layer="model", author="model-run-1")
    return ds


def _consensus_rows(ds: assay.Dataset) -> int:
    with ds.store.read() as conn:
        layer = conn.execute(sa.select(t.layers.c.id).where(t.layers.c.name == "consensus"))
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(t.labels.c.layer_id == layer.scalar())
            ).scalar_one()
        )


def test_dawid_skene_consensus_is_written_with_confidence(crowd: assay.Dataset) -> None:
    layers = ["good", "slips", "random"]
    result = crowd.consensus(method="dawid-skene", layers=layers)
    assert len(result.item_ids) == 20
    item = crowd.item("k1")["labels"]["consensus"]
    assert item["label"] == "dog" and 0 < item["confidence"] <= 1  # good and slips say dog
    agreeing = [crowd.item(f"k{i}")["labels"]["consensus"]["label"] for i in range(20)]
    assert sum(a == CLASSES[i % 3] for i, a in enumerate(agreeing)) >= 18
    assert item["probs"] is not None and abs(sum(item["probs"]) - 1) < 1e-6
    assert crowd.layer("consensus")["kind"] == "consensus"
    assert crowd.layer("consensus")["origin"]["method"] == "dawid-skene"
    assert _consensus_rows(crowd) == 20
    crowd.consensus(method="dawid-skene", layers=layers)  # nothing changed: no new label rows
    assert _consensus_rows(crowd) == 20
    quality = result.annotator_quality
    assert min(quality, key=quality.__getitem__) == "random"


def test_crowdlab_needs_and_uses_a_model_layer(crowd: assay.Dataset) -> None:
    layers = ["good", "slips", "random"]
    with pytest.raises(InvalidParameter, match="model"):
        crowd.consensus(method="crowdlab", layers=layers)
    result = crowd.consensus(method="crowdlab", layers=layers, model_layer="model", into="crowdlab")
    assert crowd.layer("crowdlab")["kind"] == "consensus"
    assert [crowd.item(f"k{i}")["labels"]["crowdlab"]["label"] for i in range(6)] == [
        "cat",
        "dog",
        "bird",
        "cat",
        "dog",
        "bird",
    ]
    assert min(result.annotator_quality, key=result.annotator_quality.__getitem__) == "random"


def test_agreement_against_a_reference_layer(crowd: assay.Dataset) -> None:
    report = crowd.agreement(["good", "slips", "random"], reference="ground_truth").to_dict()
    quality = {q["annotator"]: q for q in report["annotator_quality"]}
    assert quality["good"]["accuracy"] == 1.0
    assert quality["slips"]["accuracy"] == pytest.approx(18 / 20)
    sliced = crowd.agreement(["good", "slips"], filter="split=train").to_dict()
    assert sliced["n_items"] == 10
    with pytest.raises(InvalidParameter):
        crowd.agreement(["good"])
