"""Agreement among a dataset's layers, measured against a reference resolved in the store.

The reference each annotator is rated against is a layer name or a consensus method computed
on the fly; by default the ``consensus`` layer when there is one (and it is not among the
layers compared), else majority vote. :meth:`assay.Dataset.agreement` calls this.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy.engine import Connection

from assay.labels.agreement import AgreementReport, agreement
from assay.labels.consensus import METHODS, consensus
from assay.labels.load import default_layers, load_matrix
from assay.labels.matrix import MISSING, LabelMatrix
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
    each annotator rated against ``reference`` (see the module docstring)."""
    with store.read() as conn:
        names = list(layers or default_layers(conn, dataset_id))
        matrix = load_matrix(conn, dataset_id, names, filter)
        reference = reference or default_reference(conn, dataset_id, names)
        ref_codes = (
            None
            if reference in METHODS
            else _layer_codes(conn, dataset_id, reference, filter, matrix)
        )
    if ref_codes is None:  # a consensus method: computed outside the read transaction
        ref_codes = consensus(matrix, reference).label
    return agreement(matrix, reference=ref_codes)


def default_reference(conn: Connection, dataset_id: int, layers: Sequence[str]) -> str:
    """The ``consensus`` layer when the dataset has one and it is not among ``layers``, else
    ``majority-vote``."""
    has = any(r.name == CONSENSUS_LAYER for r in queries.list_layers(conn, dataset_id))
    return CONSENSUS_LAYER if has and CONSENSUS_LAYER not in layers else "majority-vote"


def _layer_codes(
    conn: Connection, dataset_id: int, layer: str, filter: str | None, matrix: LabelMatrix
) -> np.ndarray:
    """The current codes of ``layer`` aligned with the matrix's items (MISSING where none)."""
    ref = load_matrix(conn, dataset_id, [layer], filter)
    codes = np.full(matrix.n_items, MISSING, dtype=np.int64)
    if not len(ref.item_ids):
        return codes
    pos = np.clip(np.searchsorted(ref.item_ids, matrix.item_ids), 0, len(ref.item_ids) - 1)
    hit = ref.item_ids[pos] == matrix.item_ids
    codes[hit] = ref.codes[pos[hit], 0]
    return codes
