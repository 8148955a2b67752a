"""What a training and a cross-validation take: :class:`TrainSpec` and
:class:`CrossValidateSpec`, the one home of their parameters (``ds.models.train``, the
``train`` and ``cross-validate`` jobs, ``assay train`` and ``assay predict --cv``).

A model is named (``auto``, a built-in, or, for admins only, the import path of a
scikit-learn classifier) or, from Python, given as an unfitted estimator. Who may name an
import path is checked against the validation context's ``viewer`` (an
:class:`assay.access.Viewer`): without one (the library, a stored job read back) nothing is
refused for its author, and nothing is ever imported here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, PlainValidator, ValidationInfo

from assay.access import Viewer, is_import_path
from assay.specs import FILTER, SEED, Spec

__all__ = ["FOLDS", "LAYER", "MODEL", "CrossValidateSpec", "ModelName", "TrainSpec"]

MAX_MODEL_NAME = 300


def _model(value: Any, info: ValidationInfo) -> Any:
    """A built-in model name, ``auto``, an import path if the submitter is an admin
    (PermissionDenied otherwise), or (from Python) an unfitted estimator."""
    if not isinstance(value, str):
        if isinstance(value, (bytes, int, float, list, dict)) or not hasattr(value, "fit"):
            raise ValueError("a model is a name or an unfitted scikit-learn estimator")
        return value
    if len(value) > MAX_MODEL_NAME:
        raise ValueError(f"a model name has at most {MAX_MODEL_NAME} characters")
    if is_import_path(value):
        viewer = (info.context or {}).get("viewer")
        if isinstance(viewer, Viewer):
            viewer.check_model(value)
        return value
    from assay.models.detection.base import DETECTORS
    from assay.models.estimators import BUILTIN

    if value not in ("auto", *BUILTIN, *DETECTORS):
        raise ValueError(
            f"unknown model {value!r}: use auto, {', '.join(BUILTIN)}, (box layers) "
            f"{', '.join(DETECTORS)} or (admins) the import path of a scikit-learn classifier"
        )
    return value


ModelName = Annotated[Any, PlainValidator(_model, json_schema_input_type=str)]

# Fields shared with other specs (label-issue scans cross-validate too).
MODEL = Field(
    "auto",
    description="auto (the CNN for images with torch, else logistic regression; gradient "
    "boosting for tables; for a box layer centernet with torch, else components), logreg, hgb, "
    "cnn, the detectors centernet and components (box layers), or (admins) a classifier's "
    "import path such as sklearn.svm.SVC.",
)
LAYER = Field(
    "ground_truth", min_length=1, max_length=200, description="Learn the labels of this layer."
)
FOLDS = Field(
    5, ge=2, le=20, description="Folds: each item is predicted by a model that never saw it."
)


class TrainSpec(Spec):
    """One model fitted on every labeled item of the slice, saved as a run."""

    name: str | None = Field(None, max_length=200, description="The run's name (default: made up).")
    model: ModelName = MODEL
    layer: str = LAYER
    filter: str | None = FILTER
    params: dict[str, Any] | None = Field(
        None, max_length=50, description='Model parameters (e.g. {"C": 0.5}).'
    )
    search_seconds: float | None = Field(
        None, gt=0, le=24 * 3600,
        description="Search hyper-parameters with Optuna for about this long first.",
    )  # fmt: skip
    featurizer: str = Field(
        "auto", min_length=1, max_length=100,
        description="auto, pixels, minilm, tabular or imported vectors.",
    )  # fmt: skip
    seed: int = SEED


class CrossValidateSpec(TrainSpec):
    """Out-of-fold probabilities for every labeled item of the slice, into a model layer
    named after the run."""

    folds: int = FOLDS
