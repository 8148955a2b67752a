"""What a suggestion list takes: :class:`SuggestSpec`, the one home of its parameters
(``ds.suggestions.suggest``'s face in the ``suggest`` job and ``assay suggest``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from assay.active.ranking import DEFAULT_BATCH, MAX_BATCH, check_strategy
from assay.models.specs import ModelName
from assay.specs import FILTER, SEED, LayerNames, Spec

__all__ = ["SuggestSpec"]


class SuggestSpec(Spec):
    """A ranked list of the items to label next in a layer."""

    layer: str = Field(
        min_length=1, max_length=200,
        description="The layer the labels will go to: its unlabeled items are the pool.",
    )  # fmt: skip
    strategy: str = Field(
        "auto", max_length=32,
        description="auto (cold start until two classes are labeled, then diverse), random, "
        "least-confidence, margin, entropy, diverse, kcenter, cold-start, activelab; for box "
        "layers: auto (box-uncertainty), box-uncertainty, random.",
    )  # fmt: skip
    batch: int = Field(DEFAULT_BATCH, ge=1, le=MAX_BATCH, description="How many items.")
    model: ModelName = Field(
        "auto", description="auto (fast logistic regression), logreg, hgb, or (admins) an "
        "import path.",
    )  # fmt: skip
    filter: str | None = FILTER
    seed: int = SEED
    featurizer: str = Field("auto", min_length=1, max_length=100, description="The features.")
    annotators: LayerNames | None = Field(
        None,
        description="For activelab: the annotator layers it weighs (default: the human ones).",
    )  # fmt: skip

    predictions: str | None = Field(
        None, min_length=1, max_length=200,
        description="For box layers: the layer of predicted boxes (with scores) whose "
        "uncertainty ranks the images (default: the only model box layer).",
    )  # fmt: skip

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        return check_strategy(value)
