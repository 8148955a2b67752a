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

__all__ = ["evaluation", "is_tag_layer"]


def is_tag_layer(dataset: Dataset, layer: str) -> bool:
    """True when ``layer`` holds tags (its evaluation is per tag, not per class)."""
    with dataset.store.read() as conn:
        try:
            return bool(queries.get_layer(conn, dataset.id, layer).value_kind == "tags")
        except Exception:  # an unknown layer: the class path says what is wrong
            return False


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
