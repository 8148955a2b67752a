"""What a label-issue scan takes: :class:`IssuesSpec`, the one home of its parameters (the
``issues`` job, ``assay issues --scan`` and the jobs page)."""

from __future__ import annotations

from pydantic import Field, field_validator

from assay.models.specs import FOLDS, LAYER, MODEL, ModelName
from assay.specs import FILTER, SEED, LayerName, LayerNames, Spec

__all__ = ["IssuesSpec"]


class IssuesSpec(Spec):
    """Rank label quality, flag likely label errors, outliers and near-duplicates, and (as a
    job) open review cases for them (``ds.quality.find`` and ``ds.quality.to_review``)."""

    layer: str = LAYER
    model_layer: LayerName | None = Field(
        None,
        description="A layer of out-of-fold probabilities (for a box layer: of predicted "
        "boxes with scores, required); default: the latest cross-validation of layer if its "
        "labels have not changed since, else a new one.",
    )  # fmt: skip
    filter: str | None = FILTER
    annotator_layers: LayerNames | None = Field(
        None,
        description="Annotator layers: items several of them labeled are checked against "
        "CROWDLAB's consensus.",
    )  # fmt: skip
    model: ModelName = MODEL
    folds: int = FOLDS
    seed: int = SEED
    method: str | None = Field(
        None, max_length=100,
        description="A label-issue method (assay.quality.methods); default: the default one.",
    )  # fmt: skip
    features: bool = Field(True, description="Also find outliers and near-duplicates.")
    reuse: bool = Field(
        True, description="Reuse an up-to-date cross-validation of layer (false: a new one)."
    )
    open_cases: bool = Field(True, description="Open review cases for what is found.")

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str | None) -> str | None:
        """An unknown method is refused when the spec is made, not when it runs."""
        if value is None:
            return None
        from assay.quality.methods import check_method  # imports scikit-learn: only if asked

        return check_method(value, any_family=True)
