"""Evaluation of predictions by their annotation kind: the one place that picks the measures.

Class predictions are measured by :func:`assay.models.pipeline.evaluate` (accuracy, calibration,
confusion, conformal sets). Predictions of another kind (boxes: COCO's mAP; tags: per-tag F1;
spans: entity-level F1; numbers: MAE, RMSE, R²) are measured by the function their kind
registers here with :func:`register`; :meth:`assay.models.api.Models.evaluate` asks
:func:`evaluator_for` which one applies, so the CLI, the API and the web need no change for a
new kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.store import schema as t

__all__ = ["CLASS_ONLY_OPTIONS", "EVALUATORS", "evaluator_for", "register", "source_kind"]

#: kind name -> evaluate(dataset, source, filter, **options) -> JSON report (with ``kind``).
EVALUATORS: dict[str, Callable[..., dict[str, Any]]] = {}
#: Options only the class evaluation takes; dropped before another kind's evaluator is called.
CLASS_ONLY_OPTIONS = ("coverage", "seed")


def register(kind: str, evaluate: Callable[..., dict[str, Any]]) -> None:
    """Make ``evaluate`` the evaluation of predictions of annotation kind ``kind``."""
    EVALUATORS[kind] = evaluate


def source_kind(conn: Connection, dataset_id: int, source: str) -> str | None:
    """The annotation kind of what ``source`` predicts: the kind of a model run's predictions
    layer, or of the layer named ``source``; None when neither exists (the class path then
    says what is wrong) or the run keeps no layer."""
    r, la = t.model_runs.c, t.layers.c
    run = conn.execute(
        sa.select(r.layer_id).where(r.dataset_id == dataset_id, r.name == source)
    ).first()
    if run is not None:
        if run.layer_id is None:
            return None
        return conn.execute(sa.select(la.value_kind).where(la.id == run.layer_id)).scalar()
    return conn.execute(
        sa.select(la.value_kind).where(la.dataset_id == dataset_id, la.name == source)
    ).scalar()


def evaluator_for(
    conn: Connection, dataset_id: int, source: str
) -> Callable[..., dict[str, Any]] | None:
    """The registered evaluation of ``source``'s kind; None for class predictions."""
    kind = source_kind(conn, dataset_id, source)
    return None if kind is None else EVALUATORS.get(kind)


def _boxes(ds: Any, source: str, filter: str | None = None, **options: Any) -> dict[str, Any]:
    from assay.models.box_evaluation import evaluate_source

    return evaluate_source(ds, source, filter, **options)


register("boxes", _boxes)


def _spans(ds: Any, source: str, filter: str | None = None, **options: Any) -> dict[str, Any]:
    from assay.models.span_evaluation import evaluate_source

    return evaluate_source(ds, source, filter, **options)


register("spans", _spans)


def _tags(ds: Any, source: str, filter: str | None = None, **options: Any) -> dict[str, Any]:
    from assay.models.tag_evaluation import evaluate_tags

    return evaluate_tags(ds, source, filter, **options)


register("tags", _tags)


def _numbers(ds: Any, source: str, filter: str | None = None, **options: Any) -> dict[str, Any]:
    from assay.models.number_evaluation import evaluate_source

    return evaluate_source(ds, source, filter, **options)


register("number", _numbers)
