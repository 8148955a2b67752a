"""Consensus over the store: choose the layers, load them, combine, write the consensus layer.

:func:`assay.labels.consensus.consensus` works on a label matrix; this module is what
``Dataset.consensus`` (and through it the CLI, the web app and the ``consensus`` job) runs:

* the layers are the ones named, or by default one human layer per person
  (:func:`assay.labels.load.default_layers`), and the result says which it used;
* the result goes only into a consensus layer: never into a person's, an import or a model
  layer (:func:`assay.labels.layers.check_system_target`), checked before computing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, field_validator
from sqlalchemy.engine import Connection

from assay.errors import InvalidParameter
from assay.labels.consensus import METHODS, ConsensusResult, consensus
from assay.labels.layers import check_system_target, ensure_layer
from assay.labels.load import default_layers, load_matrix, load_probs
from assay.labels.matrix import LabelMatrix
from assay.labels.writes import LabelWrite, write_labels
from assay.specs import FILTER, SEED, LayerName, LayerNames, Spec
from assay.store.engine import Store

__all__ = ["ConsensusSpec", "combine_layers"]


class ConsensusSpec(Spec):
    """A consensus of several layers (``Dataset.consensus``, the ``consensus`` job, ``assay
    consensus`` and ``POST /datasets/{name}/consensus``)."""

    method: str = Field(
        "dawid-skene", json_schema_extra={"enum": list(METHODS)},
        description="majority-vote, dawid-skene or crowdlab (crowdlab needs model_layer).",
    )  # fmt: skip
    layers: LayerNames | None = Field(
        None, description="The layers to combine (default: one per person)."
    )
    filter: str | None = FILTER
    model_layer: LayerName | None = Field(
        None,
        description="A model layer with probabilities (CROWDLAB needs one).",
    )  # fmt: skip
    into: LayerName | None = Field(
        "consensus",
        description="The consensus layer to write (made if new); null writes nothing.",
    )  # fmt: skip
    seed: int = SEED

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in METHODS:
            raise ValueError(
                f"unknown consensus method {value!r}; choose one of: {', '.join(METHODS)}"
            )
        return value


def combine_layers(
    store: Store, dataset_id: int, spec: ConsensusSpec, *, author: str | None = None
) -> ConsensusResult:
    """The consensus ``spec`` asks for, written into ``spec.into`` unless it is None.

    The layers are ``spec.layers`` or, by default, one human layer per person; the result's
    ``layers`` names those combined. ``author`` is recorded on the labels written (default
    ``consensus:METHOD``).

    Raises
    ------
    InvalidParameter
        ``into`` is not a consensus layer (or not a name one may have), there are no labels,
        or CROWDLAB has no model layer.
    """
    method, into, filter, model_layer = spec.method, spec.into, spec.filter, spec.model_layer
    with store.read() as conn:
        if into is not None:
            check_system_target(conn, dataset_id, into, "consensus")
        names = list(spec.layers or default_layers(conn, dataset_id))
        matrix, pred_probs = _inputs(conn, dataset_id, method, names, filter, model_layer)
    result = consensus(matrix, method, pred_probs=pred_probs, seed=spec.seed)
    if into is not None:
        _write(store, dataset_id, matrix, result, into, author=author, filter=filter)
    return result


def _inputs(
    conn: Connection,
    dataset_id: int,
    method: str,
    names: list[str],
    filter: str | None,
    model_layer: str | None,
) -> tuple[LabelMatrix, np.ndarray | None]:
    """The label matrix of ``names`` and the model probabilities (None without a model)."""
    matrix = load_matrix(conn, dataset_id, names, filter)
    pred_probs = None
    if model_layer is not None:
        pred_probs, found = load_probs(
            conn, dataset_id, model_layer, matrix.item_ids, matrix.n_classes
        )
        if not found.all():
            if method == "crowdlab":
                matrix = matrix.rows(found)
                pred_probs = pred_probs[found]
            else:
                pred_probs = None
    elif method == "crowdlab":
        raise InvalidParameter(
            "CROWDLAB needs model probabilities: pass model_layer (a model layer)."
        )
    if matrix.n_items == 0:
        raise InvalidParameter(f"The layers {', '.join(names)} have no labels to combine.")
    return matrix, pred_probs


def _write(
    store: Store,
    dataset_id: int,
    matrix: LabelMatrix,
    result: ConsensusResult,
    into: str,
    *,
    author: str | None,
    filter: str | None,
) -> None:
    """Write the labels into the consensus layer ``into`` (made if new); unchanged items
    get no new row."""
    writes = [
        LabelWrite(
            int(item_id),
            matrix.classes[int(code)],
            probs=None if result.probs is None else _normalized(result.probs[k]),
            confidence=float(np.clip(result.confidence[k], 0.0, 1.0)),
        )
        for k, (item_id, code) in enumerate(zip(matrix.item_ids, result.label, strict=True))
        if code >= 0
    ]
    names = list(result.layers)
    with store.write() as conn:
        ensure_layer(
            conn,
            dataset_id,
            into,
            kind="consensus",
            description=f"Consensus of {', '.join(names)}",
            origin={"method": result.method, "layers": names, "filter": filter},
        )
        write_labels(
            conn,
            dataset_id,
            into,
            writes,
            author=author or f"consensus:{result.method}",
            skip_unchanged=True,
        )


def _normalized(row: Any) -> list[float]:
    """A probability row clipped to [0, 1] and scaled to sum to 1 (all zeros stay zeros)."""
    values = np.clip(np.asarray(row, dtype=np.float64), 0.0, 1.0)
    total = values.sum()
    return (values / total).tolist() if total > 0 else values.tolist()
