"""The built-in demo: scikit-learn's digits (1,797 real 8x8 images), no download needed, and
a detection dataset of scenes made of those digits (their boxes known)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from assay.demo.numbers import add_numbers
from assay.demo.spans import add_spans
from assay.demo.tags import add_tags
from assay.ingest.arrays import import_arrays
from assay.progress import ProgressCallback, no_progress
from assay.project import Project, init

DATASET = "digits"
TEST_FRACTION = 0.2
# Simulated annotators (they are not people): each labels the digits from the true label with
# its own, stated error pattern (see assay.labels.simulate.PROFILES), so that agreement,
# consensus and the review queue have something real to show.
SIMULATED = ("careful", "confuser", "hasty")
SIMULATED_SEED = 7


def digits_arrays(random_state: int = 0) -> tuple[np.ndarray, list[str], list[str]]:
    """The digits as uint8 images (0-255), their labels and a seeded 80/20 train/test split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255 / 16)).astype(np.uint8)
    labels = [str(int(v)) for v in bunch.target]
    order = np.random.default_rng(random_state).permutation(len(labels))
    n_test = round(len(labels) * TEST_FRACTION)
    splits = np.full(len(labels), "train", dtype=object)
    splits[order[:n_test]] = "test"
    return images, labels, [str(s) for s in splits]


def build_demo(
    path: str | os.PathLike[str] = "assay-demo",
    *,
    db: str | None = None,
    progress: ProgressCallback = no_progress,
) -> Project:
    """Create (or reuse) the demo project: dataset ``digits`` with a ``ground_truth`` layer."""
    project = init(path, db=db)
    images, labels, splits = digits_arrays()
    split_iter: Iterator[str | None] = iter(splits)
    import_arrays(
        project.store,
        [(images, labels)],
        dataset=DATASET,
        source="sklearn.datasets.load_digits",
        format="demo",
        total=len(labels),
        splits=split_iter,
        progress=progress,
    )
    add_simulated_annotators(project)
    add_demo_model(project)
    add_scenes(project, progress=progress)
    add_spans(project, progress=progress)
    add_tags(project, progress=progress)
    add_numbers(project, progress=progress)
    config = project.root / "assay.toml"
    text = config.read_text(encoding="utf-8")
    if "[datasets]" not in text:  # commands without --dataset keep meaning the digits
        config.write_text(text.rstrip("\n") + f'\n[datasets]\ndefault = "{DATASET}"\n')
    return project


DEMO_RUN = "logreg-cv"


def add_demo_model(project: Project) -> None:
    """Cross-validate logistic regression on ``ground_truth`` (once, about a second), so the
    predictions page, label issues and suggestions have a model run to show."""
    ds = project.dataset(DATASET)
    if any(run["name"] == DEMO_RUN for run in ds.models.runs()):
        return
    ds.models.cross_validate(name=DEMO_RUN, folds=5, model="logreg", layer="ground_truth")


def add_simulated_annotators(project: Project) -> None:
    """Add the layers ``sim-careful``, ``sim-confuser`` and ``sim-hasty`` (once), a Dawid-Skene
    ``consensus`` layer over them and the review cases where they disagree."""
    from assay.labels.simulate import PROFILES, simulate
    from assay.labels.writes import LabelWrite

    ds = project.dataset(DATASET)
    names = [f"sim-{p}" for p in SIMULATED]
    if any(layer["name"] in names for layer in ds.layers()):
        return
    truth = ds.label_matrix(["ground_truth"])
    codes = simulate(
        truth.codes[:, 0].astype(np.int64), truth.n_classes, list(SIMULATED), SIMULATED_SEED
    )
    for j, (name, profile) in enumerate(zip(names, SIMULATED, strict=True)):
        ds.create_layer(
            name,
            kind="human",
            description=f"SIMULATED annotator (not a person), {PROFILES[profile].description}",
        )
        ds.set_labels(
            [
                LabelWrite(int(item_id), truth.classes[int(code)])
                for item_id, code in zip(truth.item_ids, codes[:, j], strict=True)
                if code >= 0
            ],
            layer=name,
            author=f"simulated-{profile}",
        )
    ds.consensus(method="dawid-skene", layers=names, into="consensus")
    ds.review_scan(layers=names, threshold=0.7, actor="assay demo")


SCENES = "scenes"
N_SCENES = 300
SCENES_SEED = 17
SCENES_RUN = "detector-cv"
# Simulated box annotators (not people), each with a stated habit: alice is careful, bob
# misses boxes and confuses look-alike digits, carol draws sloppy (shifted) boxes and the odd
# box around nothing. Their errors are recorded by assay.labels.scenes, so the agreement,
# consensus, review and label-issue pages have something real to find.
BOX_ANNOTATORS = {
    "alice": {"miss": 0.03, "shift": 0.04, "swap": 0.03, "spurious": 0.02},
    "bob": {"miss": 0.12, "shift": 0.05, "swap": 0.10, "spurious": 0.02},
    "carol": {"miss": 0.04, "shift": 0.20, "shift_by": 0.45, "swap": 0.04, "spurious": 0.08},
}
# The demo's detector: components (seconds, F1 ~0.95 on these clean scenes). CenterNet is not
# run here although torch is usually there: three folds of it on 300 scenes took 13 minutes on
# a busy 2-core machine and, cut to 12 epochs to fit, found a quarter of the boxes at score
# 0.5; a demo must build in about a minute. `assay predict --cv 5 --layer boxes --model
# centernet` (a few minutes) trains it on the demo's scenes.
SCENES_FOLDS = 5
SCENES_DETECTOR = "components"


def add_scenes(project: Project, *, progress: ProgressCallback = no_progress) -> None:
    """The detection dataset ``scenes`` (once): 300 scenes of digits on a 96 x 96 canvas,
    the true boxes in the layer ``boxes``, the simulated annotators ``alice``, ``bob`` and
    ``carol`` (each owning their layer), and out-of-fold predicted boxes of the built-in
    ``components`` detector in the model layer ``detector-cv``."""
    from assay.labels.scenes import BoxNoise, make_scenes, simulate_box_annotators
    from assay.labels.writes import LabelWrite

    if not any(d["name"] == SCENES for d in project.datasets()):
        scenes = make_scenes(N_SCENES, seed=SCENES_SEED)
        order = np.random.default_rng(SCENES_SEED).permutation(N_SCENES)
        splits = np.full(N_SCENES, "train", dtype=object)
        splits[order[: round(N_SCENES * TEST_FRACTION)]] = "test"
        import_arrays(
            project.store, [(scenes.images, [None] * N_SCENES)], dataset=SCENES,
            source="assay.labels.scenes.make_scenes", format="demo", total=N_SCENES,
            splits=iter([str(v) for v in splits]), classes=scenes.classes, progress=progress,
        )  # fmt: skip
        ds = project.dataset(SCENES)
        ids = [int(r["id"]) for r in ds.items(limit=N_SCENES)[0]]
        noise = {name: BoxNoise(**habits) for name, habits in BOX_ANNOTATORS.items()}
        simulated = simulate_box_annotators(scenes, noise, seed=SCENES_SEED)
        truth = "The true boxes of the scenes (known by construction)"
        ds.create_layer("boxes", value_kind="boxes", kind="human", description=truth)
        ds.set_labels([LabelWrite(i, b) for i, b in zip(ids, scenes.boxes, strict=True)],
                      layer="boxes", author="assay demo")  # fmt: skip
        for name, per_image in simulated.labels.items():
            ds.create_layer(
                name, value_kind="boxes", kind="human", owner=name,
                description=f"SIMULATED box annotator (not a person): {BOX_ANNOTATORS[name]}",
            )  # fmt: skip
            ds.set_labels([LabelWrite(i, b) for i, b in zip(ids, per_image, strict=True)],
                          layer=name, author=f"simulated-{name}")  # fmt: skip
    ds = project.dataset(SCENES)
    if any(run["name"] == SCENES_RUN for run in ds.models.runs()):
        return
    ds.models.cross_validate(
        name=SCENES_RUN, folds=SCENES_FOLDS, model=SCENES_DETECTOR, layer="boxes",
        progress=progress,
    )  # fmt: skip
    # What the annotators' boxes make: a fused consensus, the images where they disagree, and
    # bob's likely mistakes as the detector sees them, all in the review queue.
    annotators = list(BOX_ANNOTATORS)
    ds.consensus(method="majority", layers=annotators, into="consensus")
    ds.review_scan(layers=annotators, consensus_layer=None, actor="assay demo")
    run = ds.quality.find(layer="bob", model_layer=SCENES_RUN, actor="assay demo")
    ds.quality.to_review(run.run_id, actor="assay demo")
