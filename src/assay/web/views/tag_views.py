"""What the web pages show of tag layers (multi-label), shaped from the library's answers:
the predictions page's per-tag metrics (a case's tags at issue come with its evidence,
:func:`assay.labels.tag_agreement.case_tags`). The templates are
``templates/kinds/_tags_*.html``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from assay.dataset import Dataset
from assay.errors import InvalidParameter
from assay.models import tag_evaluation
from assay.store import queries

__all__ = ["evaluation"]


def evaluation(
    dataset: Dataset, layer: str, run: str, reference: str | None, filter: str | None,
    visible: Collection[str],
) -> dict[str, Any]:  # fmt: skip
    """``ds.models.evaluate`` of tag predictions against ``reference`` (default: the truth tag
    layer the user may see), with each tag's row ready for the page."""
    if reference is None:
        with dataset.store.read() as conn:
            reference = tag_evaluation.default_reference(conn, dataset.id, layer)
    if reference not in visible:
        raise InvalidParameter(f"No tag layer you may see to evaluate {layer!r} against.")
    result = dataset.models.evaluate(run, filter or None, reference_layer=reference)
    return {"ok": True, **result, "reference_layer": reference, "filter": filter or None}


def layer_stats(state: Any, who: Any, dataset: Dataset, filter: str | None) -> list[dict[str, Any]]:
    """The statistics of every tag layer the user may see (``kinds/_tags_stats.html``),
    cached until the dataset's labels change, with the co-occurrence matrix's cells shaded by
    their share of the row tag's count."""
    from assay.stats.kind_stats import layer_statistics
    from assay.store import reads

    visible = set(who.viewer.layer_names(dataset))
    with dataset.store.read() as conn:
        names = [
            r.name
            for r in queries.list_layers(conn, dataset.id)
            if r.value_kind == "tags" and r.name in visible
        ]
    out = []
    for name in names:
        key = (
            "tag-stats",
            dataset.id,
            name,
            filter or None,
            reads.data_version(dataset.store, dataset.id),
        )
        s = dict(state.stats.get(key, lambda n=name: layer_statistics(dataset, n, filter or None)))
        co = s["cooccurrence"]
        s["cells"] = [
            [{"n": n, "share": n / row[i] if row[i] else 0.0} for n in row]
            for i, row in enumerate(co["counts"])
        ]
        top = max(s["tags"].values(), default=0) or 1
        s["bars"] = [{"tag": t, "n": n, "width": 100 * n / top} for t, n in s["tags"].items()]
        out.append(s)
    return out
