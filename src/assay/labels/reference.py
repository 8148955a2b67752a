"""Agreement among a dataset's layers, measured against a reference resolved in the store.

The layers' annotation kind (:mod:`assay.labels.kinds`) computes the agreement; layers of
different kinds are refused. The reference each annotator is rated against is a layer name or
a consensus method of the kind computed on the fly; by default the ``consensus`` layer when
there is one of the same kind (and it is not among the layers compared), else the kind's first
consensus method (majority vote for classification). :meth:`assay.Dataset.agreement` calls
this.

A consensus method is computed leave-one-out: each layer is rated against the consensus of the
OTHER layers, never a vote its own label takes part in (with two layers that disagree, a vote
of both is a tie that one of them would always win); items where the other layers tie are left
out of that layer's rating and counted (``n_ties``). The report's ``reference_rule`` says which
reference was used, in words the faces show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from assay.labels.agreement import AgreementReport
from assay.labels.kinds import DEFAULT_KIND, AnnotationKind, get_kind, kind_of_layers
from assay.labels.load import default_layers, layer_rows, load_values
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
        ref: Any
        ref, is_layer = _resolve(conn, dataset_id, names, kind, reference)
        if is_layer:  # else a consensus method: computed outside the read transaction
            ref = load_values(conn, dataset_id, [ref], filter, kind=kind)[1]
    report: AgreementReport = kind.agreement(table, reference=ref)
    return report


def agreement_reference(
    store: Store, dataset_id: int, layers: Sequence[str], reference: str | None = None
) -> tuple[str | None, bool]:
    """What :func:`layer_agreement` of ``layers`` rates each annotator against: ``reference``
    or the default (see :func:`default_reference`), and whether it is a layer (True) or a
    consensus method of the layers' kind (False). For a face that must check, before it asks
    for the agreement, that the reference is a layer one may see."""
    with store.read() as conn:
        kind = kind_of_layers(layer_rows(conn, dataset_id, layers))
        return _resolve(conn, dataset_id, layers, kind, reference)


def _resolve(
    conn: Connection,
    dataset_id: int,
    layers: Sequence[str],
    kind: AnnotationKind,
    reference: str | None,
) -> tuple[str | None, bool]:
    """``reference`` or the default, and whether it names a layer (not a consensus method)."""
    reference = reference or default_reference(conn, dataset_id, layers, kind)
    known = (*kind.consensus_methods, *kind.agreement_references)
    return reference, reference is not None and reference not in known


def default_reference(
    conn: Connection,
    dataset_id: int,
    layers: Sequence[str],
    kind: AnnotationKind | None = None,
) -> str | None:
    """The ``consensus`` layer when the dataset has one of ``kind`` (default classification)
    and it is not among ``layers``, else the kind's first own reference
    (:attr:`AnnotationKind.agreement_references`) or first consensus method (None if it has
    neither)."""
    kind = kind or get_kind(DEFAULT_KIND)
    has = any(
        r.name == CONSENSUS_LAYER and r.value_kind == kind.name
        for r in queries.list_layers(conn, dataset_id)
    )
    if has and CONSENSUS_LAYER not in layers:
        return CONSENSUS_LAYER
    if kind.agreement_references:  # a cheaper default of the kind's own (boxes: "others")
        return kind.agreement_references[0]
    return kind.consensus_methods[0] if kind.consensus_methods else None
