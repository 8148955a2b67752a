"""The demo's multi-label dataset ``digit-tags``: 300 of scikit-learn's real 8x8 digits, each
tagged with properties of its digit (known, so the truth is exact), three SIMULATED
annotators with stated, structured habits, a consensus, review cases and a likely-mislabeled
check, all offline in a few seconds.

The tags (properties of the written digit, derived from its true class, not from pixels):
``even`` (0 2 4 6 8), ``prime`` (2 3 5 7), ``big`` (greater than 4: 5-9) and ``loop`` (has a
closed loop when written: 0 6 8 9). They are learnable from the pixels, overlap (a digit has
0 to 3 of them) and co-occur in telling ways (``loop`` and ``big``: 6 8 9), which the
statistics page shows.

The annotators (not people): ``alice`` careful (forgets 3 % of tags, adds 1 %), ``bob``
forgetful (forgets 25 % of the tags that apply, adds 3 %: forgetting is the common error in
multi-label work), ``carol`` confuses ``loop`` with ``big`` (on a third of the digits with a
loop she tags ``big`` instead) and otherwise forgets 8 %, adds 2 %.
"""

from __future__ import annotations

import numpy as np

from assay.progress import ProgressCallback, no_progress
from assay.project import Project

__all__ = ["ANNOTATORS", "DATASET", "TAGS", "add_tags", "digit_tags", "simulate_tag_annotators"]

DATASET = "digit-tags"
N_ITEMS = 300
SEED = 11
TAGS = ("even", "prime", "big", "loop")
_RULES = {
    "even": {0, 2, 4, 6, 8},
    "prime": {2, 3, 5, 7},
    "big": {5, 6, 7, 8, 9},
    "loop": {0, 6, 8, 9},
}
#: name -> (forget, add, (confused tag, given instead, rate) or None)
ANNOTATORS: dict[str, tuple[float, float, tuple[str, str, float] | None]] = {
    "alice": (0.03, 0.01, None),
    "bob": (0.25, 0.03, None),
    "carol": (0.08, 0.02, ("loop", "big", 0.33)),
}


def digit_tags(digit: int) -> list[str]:
    """The true tags of a digit, in tag order."""
    return [t for t in TAGS if digit in _RULES[t]]


def simulate_tag_annotators(truth: list[list[str]], seed: int = SEED) -> dict[str, list[list[str]]]:
    """Each annotator's tag sets for the items of ``truth``, by its habits (see the module)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[list[str]]] = {}
    for name, (forget, add, confused) in ANNOTATORS.items():
        sets: list[list[str]] = []
        for tags in truth:
            given = set(tags)
            if confused is not None and confused[0] in given and rng.random() < confused[2]:
                given.discard(confused[0])
                given.add(confused[1])
            given = {t for t in given if rng.random() >= forget}
            given |= {t for t in TAGS if t not in tags and rng.random() < add}
            sets.append([t for t in TAGS if t in given])
        out[name] = sets
    return out


def add_tags(project: Project, *, progress: ProgressCallback = no_progress) -> None:
    """The dataset ``digit-tags`` (once): the true tags in the layer ``tags``, the simulated
    annotators ``alice``, ``bob``, ``carol`` (each owning their layer), a per-tag vote
    consensus of them, review cases where they disagree, and bob's likely mislabeled tags
    found by cleanlab on out-of-fold one-vs-rest probabilities (layer ``bob_oof``)."""
    from sklearn.datasets import load_digits

    from assay.ingest.arrays import import_arrays
    from assay.labels.writes import LabelWrite

    if any(d["name"] == DATASET for d in project.datasets()):
        return
    bunch = load_digits()
    rng = np.random.default_rng(SEED)
    pick = np.sort(rng.choice(len(bunch.target), N_ITEMS, replace=False))
    images = np.rint(bunch.images[pick] * (255 / 16)).astype(np.uint8)
    digits = [int(d) for d in bunch.target[pick]]
    splits = np.where(rng.random(N_ITEMS) < 0.2, "test", "train")
    import_arrays(
        project.store, [(images, [None] * N_ITEMS)], dataset=DATASET,
        source="sklearn.datasets.load_digits (tags derived from the digit)", format="demo",
        total=N_ITEMS, splits=iter([str(s) for s in splits]), classes=list(TAGS),
        progress=progress,
    )  # fmt: skip
    ds = project.dataset(DATASET)
    ids = [int(r["id"]) for r in ds.items(limit=N_ITEMS)[0]]
    truth = [digit_tags(d) for d in digits]
    ds.create_layer(
        "tags", value_kind="tags", kind="human",
        description="The true tags: even, prime, big (> 4), loop (0 6 8 9) of the digit",
    )  # fmt: skip
    ds.set_labels([LabelWrite(i, v) for i, v in zip(ids, truth, strict=True)],
                  layer="tags", author="assay demo")  # fmt: skip
    for name, sets in simulate_tag_annotators(truth).items():
        forget, add, confused = ANNOTATORS[name]
        habit = f"forgets {forget:.0%} of tags, adds {add:.0%}" + (
            f", tags {confused[1]} instead of {confused[0]} {confused[2]:.0%} of the time"
            if confused
            else ""
        )
        ds.create_layer(name, value_kind="tags", kind="human", owner=name,
                        description=f"SIMULATED tag annotator (not a person): {habit}")  # fmt: skip
        ds.set_labels([LabelWrite(i, v) for i, v in zip(ids, sets, strict=True)],
                      layer=name, author=f"simulated-{name}")  # fmt: skip
    annotators = list(ANNOTATORS)
    ds.consensus(method="majority-vote", layers=annotators, into="consensus")
    ds.review_scan(layers=annotators, consensus_layer=None, actor="assay demo")
    run = ds.quality.find(layer="bob", actor="assay demo", progress=progress)
    ds.quality.to_review(run.run_id, actor="assay demo")
