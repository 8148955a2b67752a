"""What an embedding map takes: :class:`MapSpec`, the one home of its parameters
(:func:`assay.maps.compute_map`'s face in the ``map`` job and ``assay map``)."""

from __future__ import annotations

from pydantic import Field, field_validator

from assay.specs import FILTER, SEED, Spec

__all__ = ["METHODS", "MapSpec"]

METHODS = ("umap", "pca")


class MapSpec(Spec):
    """A 2-D map of the items' feature vectors (UMAP, else PCA)."""

    featurizer: str = Field(
        "auto", min_length=1, max_length=100,
        description="auto (by item kind), pixels, minilm, tabular, or imported vectors.",
    )  # fmt: skip
    filter: str | None = FILTER
    method: str = Field(
        "umap", json_schema_extra={"enum": list(METHODS)},
        description="umap (needs assay[map]; PCA without it) or pca (quick, linear).",
    )  # fmt: skip
    n_neighbors: int = Field(15, ge=2, le=200, description="UMAP: neighbours per point.")
    min_dist: float = Field(0.1, ge=0, le=1, description="UMAP: how tightly points pack.")
    seed: int = SEED

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in METHODS:
            raise ValueError(f"Unknown map method {value!r}; use one of {', '.join(METHODS)}")
        return value
