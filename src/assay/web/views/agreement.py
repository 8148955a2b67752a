"""Agreement, the annotator-vs-annotator confusion matrix and consensus, over the web.

Agreement compares layers, so every layer it reads must be one the user may see: in blind
mode an annotator, who sees only their own layers, gets 403 rather than a statistic that
would tell them how others labeled. Reports are cached while the dataset's data version
(largest item and label ids) is unchanged.
"""

from __future__ import annotations

from typing import Any

from assay.dataset import Dataset
from assay.errors import InvalidParameter
from assay.labels.agreement import confusion
from assay.labels.box_agreement import class_confusion
from assay.labels.combine import ConsensusSpec
from assay.labels.kinds import kind_of_layers
from assay.labels.load import layer_rows, load_values
from assay.labels.reference import agreement_reference
from assay.store import filters, reads
from assay.web.auth import Principal
from assay.web.errors import Forbidden
from assay.web.state import AppState

BLIND = "In blind mode annotators do not see how other annotators labeled (agreement included)."


def _check_layers(who: Principal, dataset: Dataset, names: list[str]) -> None:
    visible = who.viewer.layer_names(dataset)
    hidden = [n for n in names if n not in visible]
    if hidden and who.viewer.blind:
        raise Forbidden(BLIND)
    if hidden:  # not blind: every layer is visible, so the name is unknown
        who.viewer.layer(dataset, hidden[0])  # LayerNotFound with a hint


def agreement_report(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    layers: list[str] | None,
    filter: str | None,
    reference: str | None = None,
) -> dict[str, Any]:
    """Agreement among ``layers`` (default: the human layers) over the slice ``filter``.

    Per-annotator quality is measured against ``reference``: a layer, or a consensus method
    computed on the fly (default: the ``consensus`` layer if there is one, see
    :func:`assay.labels.reference.agreement_reference`).
    """
    names = list(layers or dataset.default_layers())
    _check_layers(who, dataset, names)
    ref, is_layer = agreement_reference(dataset.store, dataset.id, names, reference)
    if is_layer and ref is not None:
        _check_layers(who, dataset, [ref])
    who.viewer.check_filter(dataset, filter)
    key = (
        "agreement",
        dataset.id,
        tuple(names),
        filter or None,
        ref,
        reads.data_version(dataset.store, dataset.id),
    )

    def compute() -> dict[str, Any]:
        report: dict[str, Any] = dataset.agreement(
            names, filter=filter or None, reference=ref
        ).to_dict()
        return report

    report = state.stats.get(key, compute)
    return {"ok": True, "layers": names, "filter": filter or None, "reference": ref, **report}


def cell_filter(a: str, x: str, b: str, y: str, base: str | None) -> str | None:
    """The grid filter for "layer a says x and layer b says y" (within ``base``), or None
    when a name cannot be written in the filter language (a comma, a bracket, a quote...)."""
    wanted = [filters.Clause("label", a, "=", x), filters.Clause("label", b, "=", y)]
    text = f"label[{a}]={x}, label[{b}]={y}"
    try:
        if filters.parse(text) != wanted:
            return None
    except InvalidParameter:
        return None
    return f"{text}, {base}" if base and base.strip() else text


def confusion_report(
    state: AppState,
    who: Principal,
    dataset: Dataset,
    *,
    a: str,
    b: str,
    filter: str | None,
) -> dict[str, Any]:
    """Class x class counts of layer ``a`` (rows) against layer ``b`` (columns), over the
    items both label, with the grid filter that opens the items behind each cell."""
    _check_layers(who, dataset, [a, b])
    who.viewer.check_filter(dataset, filter)
    if a == b:
        raise InvalidParameter("Choose two different layers to compare.")
    with dataset.store.read() as conn:
        boxes = kind_of_layers(layer_rows(conn, dataset.id, [a, b])).name == "boxes"
        table = load_values(conn, dataset.id, [a, b], filter or None)[1] if boxes else None
    if table is not None:  # box layers: the classes of the boxes matched by IoU; no filter
        classes, counts = class_confusion(table, a, b)
        return {
            "ok": True, "a": a, "b": b, "filter": filter or None, "kind": "boxes",
            "classes": classes, "matrix": counts.tolist(), "n_common": int(counts.sum()),
            "cell_filters": [[None for _ in classes] for _ in classes],
        }  # fmt: skip
    matrix = dataset.label_matrix([a, b], filter or None)
    counts = confusion(matrix, a, b)
    classes = list(matrix.classes)
    return {
        "ok": True,
        "a": a,
        "b": b,
        "filter": filter or None,
        "classes": classes,
        "matrix": counts.tolist(),
        "n_common": int(counts.sum()),
        "cell_filters": [[cell_filter(a, x, b, y, filter) for y in classes] for x in classes],
    }


def run_consensus(
    state: AppState, who: Principal, dataset: Dataset, spec: ConsensusSpec
) -> dict[str, Any]:
    """Compute a consensus and write it to the consensus layer ``spec.into``, as the
    signed-in user.

    The library refuses an ``into`` that is not a consensus layer (an annotator's, an import)
    and by default combines one layer per person; the answer names the layers it used.
    """
    names = list(spec.layers or dataset.default_layers())
    _check_layers(who, dataset, names + ([spec.model_layer] if spec.model_layer else []))
    who.viewer.check_filter(dataset, spec.filter)
    result = dataset.consensus(
        spec.model_copy(update={"layers": names, "filter": spec.filter or None}),
        author=who.user.username,
    )
    return {"ok": True, **result.summary(), "into": spec.into}
