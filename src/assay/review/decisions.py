"""What a reviewer may decide on a case: the choices the review page offers, asked of the kind.

A case about a class offers the dataset's classes. A case about a value of another kind asks
the kind (:meth:`~assay.labels.kinds.AnnotationKind.decision_choices` and
:meth:`~assay.labels.kinds.AnnotationKind.decision_entry`): between annotators, ``accept``
(the tags most of them gave, the median of their numbers, the fused boxes, the spans voted
for) and each annotator's value; on a label-quality case, ``accept`` (the suggestion applied
to the value now). Where the kind lets a reviewer write a value of their own (a tag set, a
number within the layers' range), ``entry`` says how. Every choice is one that
:func:`assay.review.queue.transition` takes as its ``label``, so the faces need not know the
kinds: they show the choices and send the one picked (or the value written, as text the
kind's ``parse`` reads).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assay.errors import InvalidParameter
from assay.labels.kinds import get_kind
from assay.review.rules import case_kind, compared_layers, kind_case

__all__ = ["decision_options"]


def decision_options(
    case: Mapping[str, Any],
    labels: Mapping[str, Mapping[str, Any]],
    layer_options: Mapping[str, Mapping[str, Any]],
    classes: Sequence[str],
    *,
    layer: str | None,
    target: str,
) -> dict[str, Any]:
    """The decisions on ``case`` (see the module doc): ``kind`` (None: a class), ``choices``
    (``[{"choice", "text", "what", "value"}]``, the first the default), ``suggested`` (the
    choice "accept the suggestion" sends; None: the case's suggested class, if any) and
    ``entry`` (how a value of one's own is written; None: it is not, here).

    ``labels``: the item's current label records by layer (with ``value``); ``layer_options``:
    each layer's options; ``layer``: the layer at issue (None: a case between layers);
    ``target``: where the decision is written."""
    name = case_kind(case)
    if name is None:
        return {
            "kind": None,
            "choices": [{"choice": c, "text": c, "what": c, "value": c} for c in classes],
            "suggested": None,
            "entry": None,
        }
    kind = get_kind(name)
    if kind_case(case):
        layers = compared_layers(case)
        values = {
            n: labels[n]["value"] for n in layers if labels.get(n, {}).get("value") is not None
        }
        choices = kind.decision_choices(values, layers)
        about = layers
    else:
        current = labels.get(target, {}).get("value")
        choices = []
        try:
            accepted = kind.accept(current, case.get("evidence") or {})
        except InvalidParameter:
            accepted = None
        if accepted is not None:
            choices.append(
                {
                    "choice": "accept",
                    "text": f"the suggestion: {kind.brief(accepted)}",
                    "what": "the suggestion",
                    "value": kind.to_json(accepted),
                }
            )
        about = [layer or target]
    entry = kind.decision_entry([layer_options.get(n) or {} for n in about], classes)
    return {
        "kind": name,
        "choices": choices,
        "suggested": "accept" if any(c["choice"] == "accept" for c in choices) else None,
        "entry": entry,
    }
