"""Agreement among a dataset's layers, measured against a reference resolved in the store.

The layers' annotation kind (:mod:`assay.labels.kinds`) computes the agreement; layers of
different kinds are refused. The reference each annotator is rated against is a layer name or
a consensus method of the kind computed on the fly; by default the ``consensus`` layer when
there is one of the same kind (and it is not among the layers compared), else the kind's first
consensus method (majority vote for classification). :meth:`assay.Dataset.agreement` calls
this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from assay.labels.agreement import AgreementReport
from assay.labels.kinds import DEFAULT_KIND, AnnotationKind, get_kind
from assay.labels.load import default_layers, load_values
from assay.store import queries
from assay.store.engine import Store

CONSENSUS_LAYER = "consensus"


def layer_agreement(
    store: Store,
    dataset_id: int,
    layers: Sequence[str] | None = None,
    *,
    filter: str | None = None,
    reference: str | None = None,
) -> AgreementReport:
    """Agreement among ``layers`` (default: the human layers) over the slice ``filter``,
    each annotator rated against ``reference`` (see the module docstring). For classification
    layers the result is an :class:`AgreementReport`; another kind returns its own report."""
    with store.read() as conn:
        names = list(layers or default_layers(conn, dataset_id))
        kind, table = load_values(conn, dataset_id, names, filter)
        reference = reference or default_reference(conn, dataset_id, names, kind)
        ref: Any = reference  # a consensus method: computed outside the read transaction
        if reference is not None and reference not in kind.consensus_methods:
            ref = load_values(conn, dataset_id, [reference], filter, kind=kind)[1]
    report: AgreementReport = kind.agreement(table, reference=ref)
    return report


def default_reference(
    conn: Connection,
    dataset_id: int,
    layers: Sequence[str],
    kind: AnnotationKind | None = None,
) -> str | None:
    """The ``consensus`` layer when the dataset has one of ``kind`` (default classification)
    and it is not among ``layers``, else the kind's first consensus method (None if it has
    none)."""
    kind = kind or get_kind(DEFAULT_KIND)
    has = any(
        r.name == CONSENSUS_LAYER and r.value_kind == kind.name
        for r in queries.list_layers(conn, dataset_id)
    )
    if has and CONSENSUS_LAYER not in layers:
        return CONSENSUS_LAYER
    return kind.consensus_methods[0] if kind.consensus_methods else None
