"""Consensus over the store: choose the layers, load them, combine, write the consensus layer.

:func:`assay.labels.consensus.consensus` works on a label matrix; this module is what
``Dataset.consensus`` (and through it the CLI, the web app and the ``consensus`` job) runs:

* the layers are the ones named, or by default one human layer per person
  (:func:`assay.labels.load.default_layers`), and the result says which it used;
* the result goes only into a consensus layer of that kind: never into a person's, an import
  or a model layer (:func:`assay.labels.layers.check_system_target`), checked before
  computing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, field_validator
from sqlalchemy.engine import Connection

from assay.errors import InvalidParameter
from assay.labels.kinds import AnnotationKind, Combined, consensus_methods, kind_of_layers
from assay.labels.layers import check_system_target, ensure_layer
from assay.labels.load import default_layers, layer_rows, load_probs, load_values
from assay.labels.writes import write_labels
from assay.specs import FILTER, SEED, LayerName, LayerNames, Spec
from assay.store.engine import Store

__all__ = ["ConsensusSpec", "combine_layers"]


def _methods_enum(schema: dict[str, Any]) -> None:
    """The JSON schema's ``enum`` of ``method``: the methods of the kinds registered now."""
    schema["enum"] = list(consensus_methods())


class ConsensusSpec(Spec):
    """A consensus of several layers (``Dataset.consensus``, the ``consensus`` job, ``assay
    consensus`` and ``POST /datasets/{name}/consensus``)."""

    method: str = Field(
        "dawid-skene", json_schema_extra=_methods_enum,
        description="majority-vote, dawid-skene or crowdlab (crowdlab needs model_layer) for "
        "classification layers; wbf or majority (weighted boxes fusion) for box layers.",
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
        known = consensus_methods()
        if value not in known:
            raise ValueError(
                f"unknown consensus method {value!r}; choose one of: {', '.join(known)}"
            )
        return value


def combine_layers(
    store: Store, dataset_id: int, spec: ConsensusSpec, *, author: str | None = None
) -> Combined:
    """The consensus ``spec`` asks for, written into ``spec.into`` unless it is None.

    The layers are ``spec.layers`` or, by default, one human layer per person; the result's
    ``layers`` names those combined. Their annotation kind combines them
    (:meth:`AnnotationKind.combine`) and says what to write; the consensus layer holds values
    of that kind. ``author`` is recorded on the labels written (default ``consensus:METHOD``).

    Raises
    ------
    InvalidParameter
        ``into`` is not a consensus layer of the layers' kind (or not a name one may have),
        the layers' kind has no method ``spec.method``, there are no labels, or CROWDLAB has
        no model layer.
    """
    method, into, filter = spec.method, spec.into, spec.filter
    with store.read() as conn:
        names = list(spec.layers or default_layers(conn, dataset_id))
        kind = kind_of_layers(layer_rows(conn, dataset_id, names))
        _check_method(kind, method)
        if into is not None:
            _check_target(conn, dataset_id, into, kind)
        table, pred_probs = _inputs(conn, dataset_id, kind, spec, names)
    result = kind.combine(table, method, pred_probs=pred_probs, seed=spec.seed)
    if into is not None:
        _write(store, dataset_id, kind, table, result, into, author=author, filter=filter)
    return result


def _check_method(kind: AnnotationKind, method: str) -> None:
    """InvalidParameter unless ``method`` is a consensus method of ``kind``."""
    if method in kind.consensus_methods:
        return
    if not kind.consensus_methods:
        raise InvalidParameter(f"There is no consensus method for {kind.name} layers yet.")
    raise InvalidParameter(
        f"{kind.name} layers have no consensus method {method!r}; choose one of: "
        f"{', '.join(kind.consensus_methods)}."
    )


def _check_target(conn: Connection, dataset_id: int, into: str, kind: AnnotationKind) -> None:
    """Refuse ``into`` unless it is (or may become) a consensus layer of ``kind``."""
    row = check_system_target(conn, dataset_id, into, "consensus")
    if row is not None and row.value_kind != kind.name:
        raise InvalidParameter(
            f"Layer {into!r} holds {row.value_kind} labels; a consensus of {kind.name} layers "
            "goes into a consensus layer of that kind: name another one with into."
        )


def _inputs(
    conn: Connection, dataset_id: int, kind: AnnotationKind, spec: ConsensusSpec, names: list[str]
) -> tuple[Any, np.ndarray | None]:
    """The values of ``names`` as ``kind`` loads them and, for a kind that stores a class, the
    model probabilities (None without a model layer)."""
    table = load_values(conn, dataset_id, names, spec.filter, kind=kind)[1]
    pred_probs = None
    if spec.model_layer is not None:
        if not kind.stores_class:
            raise InvalidParameter(
                f"A model layer's class probabilities do not apply to {kind.name} layers; "
                "leave model_layer out."
            )
        pred_probs, found = load_probs(
            conn, dataset_id, spec.model_layer, table.item_ids, table.n_classes
        )
        if not found.all():
            if spec.method == "crowdlab":
                table = table.rows(found)
                pred_probs = pred_probs[found]
            else:
                pred_probs = None
    elif spec.method == "crowdlab":
        raise InvalidParameter(
            "CROWDLAB needs model probabilities: pass model_layer (a model layer)."
        )
    if table.n_items == 0:
        raise InvalidParameter(f"The layers {', '.join(names)} have no labels to combine.")
    return table, pred_probs


def _write(
    store: Store,
    dataset_id: int,
    kind: AnnotationKind,
    table: Any,
    result: Combined,
    into: str,
    *,
    author: str | None,
    filter: str | None,
) -> None:
    """Write the labels ``kind`` makes of ``result`` into the consensus layer ``into`` (made
    if new, of that kind); unchanged items get no new row."""
    writes = kind.consensus_writes(table, result)
    names = list(result.layers)
    with store.write() as conn:
        ensure_layer(
            conn,
            dataset_id,
            into,
            kind="consensus",
            value_kind=kind.name,
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
