"""What a job can do: each kind names its parameters (validated when the job is submitted,
so a bad request is refused at once, not minutes later in a worker) and the library call
that does the work with a progress callback.

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

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from assay.access import Viewer, is_import_path
from assay.dataset import Dataset
from assay.errors import Conflict, InvalidParameter, hide_paths
from assay.ingest.archives import IMPORTS_DIR
from assay.ingest.detect import FILE_SUFFIXES
from assay.progress import ProgressCallback

if TYPE_CHECKING:
    from assay.project import Project

Name = Field(min_length=1, max_length=200)
OptionalText = Field(None, max_length=2000)


def _model_name(value: str, info: ValidationInfo) -> str:
    """A built-in model name, ``auto``, or an import path if the submitter is an admin
    (PermissionDenied otherwise: checked when the job is created, never imported here)."""
    if is_import_path(value):
        viewer = (info.context or {}).get("viewer")
        if isinstance(viewer, Viewer):
            viewer.check_model(value)
        return value
    from assay.models.estimators import BUILTIN

    if value not in ("auto", *BUILTIN):
        raise ValueError(
            f"unknown model {value!r}: use auto, {', '.join(BUILTIN)} or (admins) the import "
            "path of a scikit-learn classifier"
        )
    return value


ModelName = Annotated[str, Field(max_length=300), AfterValidator(_model_name)]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CrossValidate(_Params):
    """Out-of-fold probabilities into a model layer (``ds.models.cross_validate``)."""

    name: str | None = Field(None, max_length=200)
    folds: int = Field(5, ge=2, le=20)
    model: ModelName = "auto"
    layer: str = Field("ground_truth", min_length=1, max_length=200)
    filter: str | None = OptionalText
    search_seconds: float | None = Field(None, ge=0, le=24 * 3600)
    seed: int = Field(0, ge=0, le=2**31)


class Train(_Params):
    """One model on every labeled item of the slice (``ds.models.train``)."""

    name: str | None = Field(None, max_length=200)
    model: ModelName = "auto"
    layer: str = Field("ground_truth", min_length=1, max_length=200)
    filter: str | None = OptionalText
    search_seconds: float | None = Field(None, ge=0, le=24 * 3600)
    seed: int = Field(0, ge=0, le=2**31)


class Issues(_Params):
    """Rank label quality (cleanlab) and open review cases for the likely errors."""

    layer: str = Field("ground_truth", min_length=1, max_length=200)
    model_layer: str | None = Field(None, max_length=200)
    filter: str | None = OptionalText
    model: ModelName = "auto"
    folds: int = Field(5, ge=2, le=20)
    method: str | None = Field(
        None,
        max_length=100,
        description="A label-issue method (assay.quality.methods); default: the default one.",
    )
    open_cases: bool = True

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str | None) -> str | None:
        """An unknown method is refused when the job is created, not when it runs."""
        if value is None:
            return None
        from assay.quality.methods import check_method  # imports scikit-learn: only if asked

        return check_method(value)


class ReviewScan(_Params):
    """Open review cases where layers disagree or consensus is unsure."""

    layers: list[str] | None = Field(None, max_length=50)
    threshold: float = Field(0.7, ge=0, le=1)
    filter: str | None = OptionalText


class Consensus(_Params):
    """A consensus layer from the human layers."""

    method: Literal["majority-vote", "dawid-skene", "crowdlab"] = "dawid-skene"
    layers: list[str] | None = Field(None, max_length=50)
    model_layer: str | None = Field(None, max_length=200)
    into: str = Field("consensus", min_length=1, max_length=200)
    filter: str | None = OptionalText


class Suggest(_Params):
    """A ranked list of items to label next in a layer."""

    layer: str = Field(min_length=1, max_length=200)
    strategy: str = Field("auto", max_length=32)
    batch: int = Field(20, ge=1, le=10_000)
    model: ModelName = "auto"
    filter: str | None = OptionalText
    seed: int = Field(0, ge=0, le=2**31)


class Map(_Params):
    """A 2-D map of the items' feature vectors (UMAP) for the embedding map page."""

    featurizer: str = Field("auto", max_length=100)
    filter: str | None = OptionalText
    method: Literal["umap", "pca"] = "umap"
    seed: int = Field(0, ge=0, le=2**31)


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


class Import(_Params):
    """Import an uploaded file (a table, JSONL, IDX or an archive) into a dataset, new or
    not (``project.import_path``). Made by the upload endpoint, never by hand."""

    upload: str = Field(pattern=UPLOAD_NAME, max_length=64)
    filename: str = Field("", max_length=255)  # the client's name for it, shown only
    dataset: str = Name
    label_column: str | None = Field(None, max_length=200)
    key_column: str | None = Field(None, max_length=200)
    split: str | None = Field(None, max_length=64)


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
    params: type[_Params]
    permission: str
    run: Runner | ProjectRunner
    title: str
    on_project: bool = False
    check: Check | None = None


def _cross_validate(ds: Dataset, p: CrossValidate, who: str, progress: ProgressCallback) -> Any:
    run = ds.models.cross_validate(
        p.name, folds=p.folds, model=p.model, layer=p.layer, filter=p.filter,
        search_seconds=p.search_seconds, seed=p.seed, progress=progress,
    )  # fmt: skip
    return {"run": run.get("name"), "layer": run.get("layer"), "metrics": run.get("metrics")}


def _train(ds: Dataset, p: Train, who: str, progress: ProgressCallback) -> Any:
    run = ds.models.train(
        p.name, model=p.model, layer=p.layer, filter=p.filter,
        search_seconds=p.search_seconds, seed=p.seed, progress=progress,
    )  # fmt: skip
    return {"run": run.get("name"), "metrics": run.get("metrics")}


def _issues(ds: Dataset, p: Issues, who: str, progress: ProgressCallback) -> Any:
    from assay.quality.methods import DEFAULT_METHOD

    found = ds.quality.find(
        layer=p.layer, model_layer=p.model_layer, filter=p.filter, model=p.model, folds=p.folds,
        method=p.method or DEFAULT_METHOD, actor=who, progress=progress,
    )  # fmt: skip
    out = found.to_dict()
    if p.open_cases:
        progress(0, None, "opening review cases")
        out["review"] = ds.quality.to_review(actor=who)
    return out


def _review_scan(ds: Dataset, p: ReviewScan, who: str, progress: ProgressCallback) -> Any:
    progress(0, None, "comparing layers")
    found = ds.review_scan(layers=p.layers, threshold=p.threshold, filter=p.filter, actor=who)
    return found.to_dict()


def _consensus(ds: Dataset, p: Consensus, who: str, progress: ProgressCallback) -> Any:
    progress(0, None, f"computing {p.method} consensus")
    result = ds.consensus(
        p.method, layers=p.layers, filter=p.filter, model_layer=p.model_layer, into=p.into,
        author=who,
    )  # fmt: skip
    labeled = result.label >= 0
    return {
        "method": p.method,
        "into": p.into,
        "layers": list(result.layers),
        "n_items": int(labeled.sum()),
        "mean_confidence": float(result.confidence[labeled].mean()) if labeled.any() else None,
        "annotator_quality": result.to_dict()["annotator_quality"],
    }


def _suggest(ds: Dataset, p: Suggest, who: str, progress: ProgressCallback) -> Any:
    made = ds.suggestions.suggest(
        p.layer, strategy=p.strategy, batch=p.batch, model=p.model, filter=p.filter,
        seed=p.seed, author=who, progress=progress,
    )  # fmt: skip
    return made.to_dict()


def _check_suggest(ds: Dataset, p: Suggest, viewer: Viewer) -> None:
    """Suggestions go to a layer the submitter may write, and that is not frozen."""
    layer = viewer.writable_layer(ds, p.layer)
    if layer.frozen:
        raise Conflict(f"Layer {layer.name!r} is frozen: nothing more will be labeled in it.")


def _map(ds: Dataset, p: Map, who: str, progress: ProgressCallback) -> Any:
    return ds.maps.compute(
        featurizer=p.featurizer, filter=p.filter, method=p.method, seed=p.seed,
        author=who, progress=progress,
    )  # fmt: skip


def _import(project: Project, p: Import, who: str, progress: ProgressCallback) -> Any:
    path = upload_path(project.root, p.upload)
    try:
        if not path.is_file():
            raise InvalidParameter(
                f"The uploaded file {p.filename or p.upload!r} is gone; upload it again."
            )
        given = {"label_column": p.label_column, "key_column": p.key_column, "split": p.split}
        options = {k: v for k, v in given.items() if v}
        result = project.import_path(path, dataset=p.dataset, progress=progress, **options)
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
        Kind("cross-validate", CrossValidate, "review", _cross_validate, "Cross-validate a model"),
        Kind("train", Train, "review", _train, "Train a model"),
        Kind("issues", Issues, "review", _issues, "Find label issues"),
        Kind("review-scan", ReviewScan, "review", _review_scan, "Scan for disagreements"),
        Kind("consensus", Consensus, "review", _consensus, "Compute consensus"),
        Kind(
            "suggest",
            Suggest,
            "label",
            _suggest,
            "Suggest what to label next",
            check=_check_suggest,
        ),
        Kind("map", Map, "review", _map, "Compute the embedding map"),
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
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        message = first["msg"].removeprefix("Value error, ")  # a validator's own words
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
