"""What a job can do: each kind names its parameters (validated when the job is submitted,
so a bad request is refused at once, not minutes later in a worker) and the library call
that does the work with a progress callback.

The parameters are the operation's spec, defined once in its library package
(:class:`assay.models.specs.CrossValidateSpec`, :class:`assay.labels.combine.ConsensusSpec`,
...): the CLI and the web API take the same one.

Parameters are checked against who submits the job (a :class:`assay.access.Viewer`, passed as
the validation context ``{"viewer": ...}``): a model import path is for admins only, so the
worker never imports a module an annotator or a reviewer named; without a viewer (the
library, the worker re-reading a stored job) nothing is refused for its author.

Kinds: ``cross-validate`` and ``train`` (models), ``issues`` (label-issue scan, opening
review cases), ``review-scan`` (disagreement cases), ``consensus``, ``suggest`` (what to
label next), ``map`` (the embedding map), and ``import`` (a file uploaded to the web app,
into a dataset that may not exist yet: it runs on the project, not on a dataset).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError

from assay.access import Viewer
from assay.active.specs import SuggestSpec
from assay.dataset import Dataset
from assay.errors import Conflict, DatasetNotFound, InvalidParameter, LayerNotFound, hide_paths
from assay.ingest.archives import IMPORTS_DIR
from assay.ingest.detect import FILE_SUFFIXES
from assay.ingest.specs import ImportSpec
from assay.labels.combine import ConsensusSpec
from assay.maps.specs import MapSpec
from assay.models.specs import CrossValidateSpec, TrainSpec
from assay.progress import ProgressCallback
from assay.quality.specs import IssuesSpec
from assay.review.scan import ReviewScanSpec
from assay.specs import Spec, first_problem

if TYPE_CHECKING:
    from assay.project import Project

# Uploads wait here for their import job; the job deletes its file when it ends.
UPLOADS_DIR = Path(".assay") / "uploads"
# An upload is stored under a random name with the suffix the importer knows it by
# (assay.ingest.detect.FILE_SUFFIXES: one table for detection and uploads).
_STORED = "|".join(
    re.escape(s) for s in sorted({stored for _, stored in FILE_SUFFIXES.values()}, key=len)[::-1]
)
UPLOAD_NAME = rf"^[0-9a-f]{{32}}(?:{_STORED})$"


def uploads_dir(project_root: Path) -> Path:
    """``<project>/.assay/uploads/`` (created if missing)."""
    folder = Path(project_root) / UPLOADS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_path(project_root: Path, name: str) -> Path:
    """The path of a stored upload, refusing any name that is not one the server made (so a
    job can only ever read a file from the uploads folder)."""
    folder = uploads_dir(project_root)
    path = folder / name
    real = os.path.realpath(folder)
    if not re.match(UPLOAD_NAME, name) or os.path.dirname(os.path.realpath(path)) != real:
        raise InvalidParameter(f"{name!r} is not an uploaded file of this project.")
    return path


class Import(ImportSpec):
    """Import an uploaded file (a table, JSONL, IDX or an archive) into a dataset, new or
    not (``project.import_path``). Made by the upload endpoint, never by hand: the import
    options of :class:`assay.ingest.specs.ImportSpec` and which upload goes where."""

    upload: str = Field(pattern=UPLOAD_NAME, max_length=64)
    filename: str = Field("", max_length=255)  # the client's name for it, shown only
    dataset: str = Field(min_length=1, max_length=200)
    layer: str | None = Field(
        None, min_length=1, max_length=200,
        description="A lone COCO .json: the layer its boxes (or predictions) go to.",
    )  # fmt: skip


def lone_coco_json(project: Project, dataset: str, layer: str | None, filename: str) -> Dataset:
    """The dataset a lone COCO ``.json`` upload adds boxes to: it must exist (the file holds
    boxes of its images, not the images) and the layer must be named. Checked when the file
    is uploaded and again by the job."""
    name = filename or "The .json file"
    try:
        ds = project.dataset(dataset)
    except DatasetNotFound:
        raise InvalidParameter(
            f"{name}: a lone COCO .json adds boxes (or predictions) to the images of an existing "
            f"dataset, and there is no dataset {dataset!r}; upload a .zip of the images with "
            "their instances .json to create it."
        ) from None
    if not layer:
        raise InvalidParameter(
            f"{name}: name the layer its boxes go to (the Layer field; predictions in the COCO "
            "results format go to a model layer of that name)."
        )
    return ds


Runner = Callable[[Dataset, Any, str, ProgressCallback], dict[str, Any]]
ProjectRunner = Callable[["Project", Any, str, ProgressCallback], dict[str, Any]]
Check = Callable[[Dataset, Any, Viewer], None]


@dataclass(frozen=True)
class Kind:
    """A kind of job: its parameters, the permission needed to start it, and its runner.

    A kind ``on_project`` runs on the project (its runner gets the Project, and the job may
    have no dataset yet); the others run on the job's dataset. ``check`` refuses, when the
    job is submitted, parameters its submitter may not use on the dataset (beyond the
    filter, which :func:`check_access` checks for every kind).
    """

    name: str
    params: type[Spec]
    permission: str
    run: Runner | ProjectRunner
    title: str
    on_project: bool = False
    check: Check | None = None


def _cross_validate(ds: Dataset, p: CrossValidateSpec, who: str, progress: ProgressCallback) -> Any:
    run = ds.models.cross_validate(p, progress=progress)
    return {"run": run.get("name"), "layer": run.get("layer"), "metrics": run.get("metrics")}


def _check_model_layer(ds: Dataset, p: TrainSpec, viewer: Viewer) -> None:
    """A detector for a box layer, a classifier for a class layer (refused at submission;
    a missing layer is the worker's to report, as before)."""
    from assay.models.detection.cv import check_fits

    with contextlib.suppress(LayerNotFound):
        check_fits(ds, p)


def _train(ds: Dataset, p: TrainSpec, who: str, progress: ProgressCallback) -> Any:
    run = ds.models.train(p, progress=progress)
    return {"run": run.get("name"), "metrics": run.get("metrics")}


def _issues(ds: Dataset, p: IssuesSpec, who: str, progress: ProgressCallback) -> Any:
    found = ds.quality.find(p, actor=who, progress=progress)
    out = found.to_dict()
    if p.open_cases:
        progress(0, None, "opening review cases")
        out["review"] = ds.quality.to_review(actor=who)
    return out


def _review_scan(ds: Dataset, p: ReviewScanSpec, who: str, progress: ProgressCallback) -> Any:
    progress(0, None, "comparing layers")
    return ds.review_scan(p, actor=who).to_dict()


def _consensus(ds: Dataset, p: ConsensusSpec, who: str, progress: ProgressCallback) -> Any:
    progress(0, None, f"computing {p.method} consensus")
    result = ds.consensus(p, author=who)
    return {**result.summary(), "into": p.into}


def _suggest(ds: Dataset, p: SuggestSpec, who: str, progress: ProgressCallback) -> Any:
    made = ds.suggestions.suggest(p, author=who, progress=progress)
    return made.to_dict()


def _check_suggest(ds: Dataset, p: SuggestSpec, viewer: Viewer) -> None:
    """Suggestions go to a layer the submitter may write, and that is not frozen; the
    annotator layers activelab weighs are ones the submitter may see."""
    layer = viewer.writable_layer(ds, p.layer)
    if layer.frozen:
        raise Conflict(f"Layer {layer.name!r} is frozen: nothing more will be labeled in it.")
    for name in p.annotators or ():
        viewer.layer(ds, name)


def _map(ds: Dataset, p: MapSpec, who: str, progress: ProgressCallback) -> Any:
    return ds.maps.compute(p, author=who, progress=progress)


def _import(project: Project, p: Import, who: str, progress: ProgressCallback) -> Any:
    path = upload_path(project.root, p.upload)
    try:
        if not path.is_file():
            raise InvalidParameter(
                f"The uploaded file {p.filename or p.upload!r} is gone; upload it again."
            )
        if path.suffix == ".json" and p.format in (None, "coco"):
            ds = lone_coco_json(project, p.dataset, p.layer, p.filename)
            assert p.layer is not None  # checked just above
            done = ds.import_coco_json(
                path, layer=p.layer, author=who, progress=progress, source_name=p.filename or None
            )
            return {**done, "dataset": ds.name, "dataset_id": ds.id, "filename": p.filename,
                    "n_new_items": 0}  # fmt: skip
        result = project.import_path(
            path, dataset=p.dataset, format=p.format, progress=progress, **p.options()
        )
    except Exception as exc:  # its message names the file as the uploader knows it
        exc.args = (_named_as_uploaded(str(exc), project.root, path, p.filename),)
        raise
    finally:
        path.unlink(missing_ok=True)  # imported or not, the upload is not kept
    return {
        **dataclasses.asdict(result),
        "dataset_id": project.dataset(result.dataset).id,
        "filename": p.filename,
    }


def _named_as_uploaded(message: str, root: Path, upload: Path, filename: str) -> str:
    """The message with the upload's path, and its extraction folder's, replaced by the
    client's name for the file (``data.zip/images/cat/1.png``): no server path."""
    name = filename or "the upload"
    extracted = re.escape(os.fspath(Path(root) / IMPORTS_DIR)) + r"[/\\][0-9a-f]{32}"
    message = re.sub(extracted, lambda _: name, message)
    return hide_paths(message, {upload: name, root: ""})


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "cross-validate",
            CrossValidateSpec,
            "review",
            _cross_validate,
            "Cross-validate a model",
            check=_check_model_layer,
        ),
        Kind("train", TrainSpec, "review", _train, "Train a model", check=_check_model_layer),
        Kind("issues", IssuesSpec, "review", _issues, "Find label issues"),
        Kind("review-scan", ReviewScanSpec, "review", _review_scan, "Scan for disagreements"),
        Kind("consensus", ConsensusSpec, "review", _consensus, "Compute consensus"),
        Kind(
            "suggest",
            SuggestSpec,
            "label",
            _suggest,
            "Suggest what to label next",
            check=_check_suggest,
        ),
        Kind("map", MapSpec, "review", _map, "Compute the embedding map"),
        Kind("import", Import, "manage_users", _import, "Import a file", on_project=True),
    )
}


def get_kind(name: str) -> Kind:
    """The kind of that name, or InvalidParameter listing the kinds there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise InvalidParameter(
            f"Unknown job kind {name!r}: use one of {', '.join(KINDS)}."
        ) from None


def validate(
    kind: str, params: dict[str, Any] | None, *, viewer: Viewer | None = None
) -> dict[str, Any]:
    """The job's parameters checked and with defaults filled in (InvalidParameter naming the
    bad field otherwise, PermissionDenied for what ``viewer`` may not ask for), as stored in
    the job row."""
    spec = get_kind(kind)
    try:
        checked = spec.params.model_validate(params or {}, context={"viewer": viewer})
        return checked.model_dump()
    except ValidationError as exc:
        where, message = first_problem(exc)
        raise InvalidParameter(
            f"Job {kind!r}: parameter {where!r}: {message} ({len(exc.errors())} problem(s))."
        ) from None


def check_access(dataset: Dataset, kind: str, params: dict[str, Any], viewer: Viewer) -> None:
    """Refuse (PermissionDenied, Conflict...) checked parameters that ``viewer`` may not use on
    the dataset: a filter reading a layer they may not see, and the kind's own ``check``."""
    spec = get_kind(kind)
    viewer.check_filter(dataset, params.get("filter"))
    if spec.check is not None:
        spec.check(dataset, spec.params.model_validate(params), viewer)
