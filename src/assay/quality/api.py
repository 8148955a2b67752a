"""``ds.quality``: find likely mislabeled items, outliers and near-duplicates, list them, and
send them to the review queue."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.errors import DataFormatError, InvalidParameter
from assay.models.evaluation import EPS
from assay.progress import ProgressCallback, no_progress
from assay.quality import runs
from assay.quality.issues import (
    DataIssues,
    LabelIssues,
    check_pred_probs,
    find_data_issues,
    find_label_issues,
    given_labels,
)
from assay.quality.methods import DEFAULT_METHOD, check_method, methods_for
from assay.quality.specs import IssuesSpec

if TYPE_CHECKING:
    from collections.abc import Sequence

    from assay.handle import DatasetHandle as Dataset
    from assay.labels.matrix import LabelMatrix

__all__ = ["IssueRun", "LabelQuality"]

DEFAULT_LAYER = "ground_truth"
N_EVIDENCE = 5  # neighbours shown as evidence


@dataclass(frozen=True)
class IssueRun:
    """What one label-issue search found (the rows themselves are in the store)."""

    run_id: int
    run_name: str
    model_layer: str
    layer: str
    annotator_layers: list[str] | None
    filter: str | None  # the slice checked; None for every labeled item
    n_items: int  # items with a given label and probabilities
    n_issues: int  # likely mislabeled
    n_estimated: int  # cleanlab's estimate of the number of wrong labels
    n_outliers: int
    n_duplicates: int
    n_without_probs: int  # labeled items the model layer has no probabilities for
    features: str | None  # the featurizer behind outliers and duplicates, None if skipped
    computed_at: str  # ISO 8601, UTC
    method: str  # the label-issue method (assay.quality.methods) that scored and flagged
    stale: bool  # the probabilities came from a cross-validation whose labels changed since
    stale_message: str | None  # why they are stale, in words; None if they are not
    family: str = "classification"  # the check (assay.quality.methods.FAMILIES): or "boxes"
    n_suspects: dict[str, int] | None = None  # boxes: suspect boxes by kind

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class _Inputs:
    """Aligned arrays for one search: items, given labels, probabilities."""

    item_ids: np.ndarray
    labels: np.ndarray
    pred_probs: np.ndarray
    classes: list[str]
    class_ids: list[int]
    n_without_probs: int
    annotators: LabelMatrix | None


class LabelQuality:
    """Label quality of one dataset: ``dataset.quality``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    # ------------------------------------------------------------------------------------
    # Finding
    # ------------------------------------------------------------------------------------
    def find(
        self,
        spec: IssuesSpec | None = None,
        /,
        *,
        actor: str | None = None,
        progress: ProgressCallback | None = None,
        **options: Any,
    ) -> IssueRun:
        """Rank every labeled item by label quality and flag likely label errors, outliers and
        near-duplicates; the results are stored and returned as a summary.

        ``spec`` (:class:`assay.quality.specs.IssuesSpec`) or its fields as keywords say
        what to check: ``layer`` (default ``ground_truth``); ``model_layer``, a layer of
        out-of-fold probabilities (``assay predict --cv``) — without it, the latest
        cross-validation of ``layer`` is reused if its labels have not changed since (and
        ``reuse`` is true and ``model`` is ``auto``), otherwise ``folds``-fold
        cross-validation runs first with ``model`` (``auto``: a soft-voting ensemble of the
        built-in model for the data's kind, k-NN and extra trees, :mod:`assay.quality.ensemble`;
        from Python also an unfitted estimator); ``filter``, the slice; ``features``, also
        outliers and near-duplicates from the feature vectors; ``annotator_layers``, items two
        or more of them labeled are checked against CROWDLAB's consensus; ``method``, a name
        of :data:`assay.quality.methods.METHODS` (default: the default method), checked before
        anything else and stored with the search. ``open_cases`` is for
        :meth:`to_review` (the job opens cases after the search).

        Returns
        -------
        IssueRun
            The summary. ``stale`` is true when the probabilities are those of a
            cross-validation whose labels changed after it ran (``stale_message`` says so):
            search again with ``reuse=False`` and without ``model_layer`` to recompute them.

        Raises
        ------
        LayerNotFound
            ``layer``, ``model_layer`` or an annotator layer does not exist.
        InvalidParameter
            An unknown method, no labels to check, a model layer without probabilities, too
            few items per class.
        DataFormatError
            Stored probabilities of the wrong width or that do not sum to 1.
        """
        from assay.labels.kinds import get_kind
        from assay.labels.writes import default_author
        from assay.store import queries

        spec = IssuesSpec.of(spec, **options)
        layer, model_layer, filter = spec.layer, spec.model_layer, spec.filter
        with self.dataset.store.read() as conn:
            # The layer's annotation kind decides which checks apply (classification: METHODS).
            kind = get_kind(queries.get_layer(conn, self.dataset.id, layer).value_kind)
            methods_for(kind)
        report = progress or no_progress
        actor = actor or default_author()
        if kind.quality_check == "boxes":  # predicted boxes, cleanlab's object detection
            from assay.quality import boxes

            box_run = boxes.find_run(
                self.dataset, layer=layer, predictions=model_layer, filter=filter,
                method=spec.method, actor=actor, progress=report,
            )  # fmt: skip
            return self.run(box_run)
        if kind.quality_check == "spans":  # out-of-fold token tags, cleanlab's token check
            from assay.quality import spans

            span_run = spans.find_run(
                self.dataset, layer=layer, filter=filter, method=spec.method, actor=actor,
                progress=report, folds=spec.folds, seed=spec.seed,
            )  # fmt: skip
            return self.run(span_run)
        if kind.quality_check == "tags":  # cleanlab's multi-label check, per-tag evidence
            from assay.quality import tags

            tag_run = tags.find_run(
                self.dataset, layer=layer, predictions=model_layer, filter=filter,
                method=spec.method, actor=actor, progress=report, folds=spec.folds,
                seed=spec.seed,
            )  # fmt: skip
            return self.run(tag_run)
        if kind.quality_check == "number":  # a regressor's out-of-fold values, cleanlab
            from assay.quality import numbers

            number_run = numbers.find_run(
                self.dataset, layer=layer, predictions=model_layer, filter=filter,
                method=spec.method, actor=actor, progress=report,
                model=spec.model, folds=spec.folds, seed=spec.seed,
            )  # fmt: skip
            return self.run(number_run)
        method = check_method(spec.method or DEFAULT_METHOD)  # before any cross-validation
        run_id = None
        if model_layer is None and spec.reuse and spec.model == "auto":
            with self.dataset.store.read() as conn:
                found = runs.reusable_cv(conn, self.dataset.id, layer, filter)
            if found is not None:
                run_id, model_layer = found
        if model_layer is None:
            run_id, model_layer = self._cross_validate(spec, report)
        inputs = self._inputs(layer, model_layer, filter, spec.annotator_layers)
        report(0, None, "scoring label quality")
        label_issues = find_label_issues(inputs.labels, inputs.pred_probs, method=method)
        data_issues, feature_name = None, None
        if spec.features:
            report(0, None, "finding outliers and near-duplicates")
            data_issues, feature_name = self._data_issues(inputs)
        summary = self._summary(
            inputs, label_issues, data_issues, layer, model_layer, spec.annotator_layers, filter
        )
        summary["features"] = feature_name
        report(0, None, "saving")
        with self.dataset.store.write() as conn:
            if run_id is None:
                run_id = runs.run_for_layer(conn, self.dataset.id, model_layer)
            if run_id is None:
                run_id = runs.import_run(conn, self.dataset.id, model_layer, actor)
            note = runs.stale_note(conn, self.dataset.id, run_id)
            summary.update(stale=note is not None, stale_message=note)
            runs.save(conn, run_id, inputs.item_ids, _columns(inputs, label_issues, data_issues),
                      summary)  # fmt: skip
            row = runs.get_run(conn, self.dataset.id, run_id)
        return _issue_run(row)

    def _cross_validate(self, spec: IssuesSpec, report: ProgressCallback) -> tuple[int, str]:
        """Out-of-fold probabilities for ``spec.layer`` in a new model layer: (run id, layer)."""
        from assay.models.api import DatasetModels

        model = spec.model
        if isinstance(model, str) and model == "auto":
            from assay.quality.ensemble import default_model

            n_items = self._count_labels(spec.layer, spec.filter)
            model = default_model(n_items=n_items, seed=spec.seed)
        result = DatasetModels(self.dataset).cross_validate(
            layer=spec.layer, filter=spec.filter, model=model, folds=spec.folds,
            seed=spec.seed, progress=report,
        )  # fmt: skip
        return _run_and_layer(result)

    def _count_labels(self, layer: str, filter: str | None) -> int:
        from assay.labels.load import load_matrix

        with self.dataset.store.read() as conn:
            return load_matrix(conn, self.dataset.id, [layer], filter).n_items

    def _inputs(
        self,
        layer: str,
        model_layer: str,
        filter: str | None,
        annotator_layers: Sequence[str] | None,
    ) -> _Inputs:
        from assay.labels.load import load_matrix, load_probs
        from assay.store import queries

        ds = self.dataset
        with ds.store.read() as conn:
            names = list(annotator_layers) if annotator_layers else [layer]
            matrix = load_matrix(conn, ds.id, names, filter)
            queries.get_layer(conn, ds.id, model_layer)  # LayerNotFound before anything else
            if matrix.n_items == 0:
                raise InvalidParameter(
                    f"No labels to check: layer{'s' if len(names) > 1 else ''} "
                    f"{', '.join(names)} label no items{' of this slice' if filter else ''}. "
                    "Import or write labels first."
                )
            try:
                probs, found = load_probs(
                    conn, ds.id, model_layer, matrix.item_ids, matrix.n_classes
                )
            except ValueError as exc:  # a stored row of another width
                raise DataFormatError(
                    f"Layer {model_layer!r} has probabilities of the wrong width: the dataset "
                    f"has {matrix.n_classes} classes ({exc}). Predict again for these classes."
                ) from None
            class_ids = [c.id for c in queries.list_classes(conn, ds.id)]
        if not found.any():
            raise InvalidParameter(
                f"Layer {model_layer!r} has no class probabilities for the labeled items. Use "
                "a model layer from cross-validation (`assay predict --cv 5`), or leave out "
                "the model layer to cross-validate now."
            )
        matrix = matrix.rows(found)
        probs = probs[found]
        try:
            check_pred_probs(np.zeros(len(probs), np.int64), probs)
        except InvalidParameter as exc:
            raise DataFormatError(f"Layer {model_layer!r}: {exc}") from None
        labels = given_labels(matrix, probs)
        return _Inputs(
            item_ids=matrix.item_ids,
            labels=labels,
            pred_probs=probs,
            classes=matrix.classes,
            class_ids=class_ids,
            n_without_probs=int((~found).sum()),
            annotators=matrix if annotator_layers else None,
        )

    def _data_issues(self, inputs: _Inputs) -> tuple[DataIssues, str]:
        from assay.models.features import featurize

        feats = featurize(self.dataset, item_ids=inputs.item_ids).take(inputs.item_ids)
        return find_data_issues(feats.X, inputs.labels), feats.name

    def _summary(
        self,
        inputs: _Inputs,
        label: LabelIssues,
        data: DataIssues | None,
        layer: str,
        model_layer: str,
        annotator_layers: Sequence[str] | None,
        filter: str | None,
    ) -> dict[str, Any]:
        """The run's summary, with the evidence of every flagged item (by item id)."""
        flagged = label.is_issue.copy()
        threshold = None
        if data is not None:
            flagged |= data.is_outlier | (data.duplicate_of >= 0)
            if data.is_outlier.any():
                threshold = float(data.outlier_score[data.is_outlier].max())
        evidence: dict[str, Any] = {}
        for k in np.flatnonzero(flagged).tolist():
            entry: dict[str, Any] = {"confidence": round(float(label.confidence[k]), 6)}
            if data is not None:
                entry["neighbours"] = inputs.item_ids[data.neighbours[k, :N_EVIDENCE]].tolist()
            if inputs.annotators is not None:
                codes = inputs.annotators.codes[k]
                entry["annotators"] = {
                    name: inputs.classes[int(c)]
                    for name, c in zip(inputs.annotators.annotators, codes, strict=True)
                    if c >= 0
                }
            evidence[str(int(inputs.item_ids[k]))] = entry
        return {
            "layer": layer,
            "model_layer": model_layer,
            "annotator_layers": list(annotator_layers) if annotator_layers else None,
            "filter": filter,
            "method": label.method,
            "n_items": len(inputs.item_ids),
            "n_issues": int(label.is_issue.sum()),
            "n_estimated": label.n_estimated,
            "n_outliers": 0 if data is None else int(data.is_outlier.sum()),
            "n_duplicates": 0 if data is None else int((data.duplicate_of >= 0).sum()),
            "n_without_probs": inputs.n_without_probs,
            "outlier_threshold": threshold,
            "computed_at": datetime.now(UTC).isoformat(),
            "evidence": evidence,
        }

    # ------------------------------------------------------------------------------------
    # Reading
    # ------------------------------------------------------------------------------------
    def run(self, run: int | str | None = None) -> IssueRun:
        """The summary of a search: the model run ``run`` (id or name), default the latest."""
        with self.dataset.store.read() as conn:
            return _issue_run(runs.get_run(conn, self.dataset.id, run))

    def issues(
        self,
        run: int | str | None = None,
        *,
        kind: str = "label",
        limit: int = 50,
        after: str | None = None,
        only_issues: bool = True,
    ) -> list[dict[str, Any]]:
        """Flagged items, most likely first, with the evidence a reviewer needs.

        Parameters
        ----------
        run : int or str, optional
            The model run (id or name); default the latest search.
        kind : {"label", "outlier", "duplicate"}, default "label"
            Likely mislabeled items (lowest label quality first), outliers (most outlying
            first) or near-duplicates.
        limit : int, default 50
        after : str, optional
            The ``cursor`` of the last row of the previous page.
        only_issues : bool, default True
            With False, every item of the run: for ``label`` the full ranking, the flagged
            items first (by quality) and then the others (by quality), each row with its
            1-based ``rank``; for the other kinds every item by the same score.

        Returns
        -------
        list of dict
            ``item_id``, ``key``, ``given``, ``suggested``, ``quality``, ``score`` (1 -
            quality: higher is more suspect), ``confidence``, ``is_issue``, ``outlier_score``,
            ``is_outlier``, ``duplicate_of`` (a key), ``neighbours`` (keys and given labels),
            ``rank`` (None but in the full label ranking) and ``cursor``.
        """
        with self.dataset.store.read() as conn:
            row = runs.get_run(conn, self.dataset.id, run)
            info = runs.summary(row)
            return runs.page(
                conn, row.id, info, kind=kind, limit=limit, after=after, only_issues=only_issues
            )

    # ------------------------------------------------------------------------------------
    # Review
    # ------------------------------------------------------------------------------------
    def to_review(
        self,
        run: int | str | None = None,
        *,
        limit: int | None = None,
        top: int | None = None,
        actor: str | None = None,
    ) -> dict[str, Any]:
        """Open review cases for a search's findings: ``mislabel`` for likely label errors,
        ``outlier`` and ``duplicate`` for the data issues, most suspect first, with evidence.

        Parameters
        ----------
        run : int or str, optional
            The model run (id or name); default the latest search.
        limit : int, optional
            At most this many new cases per reason.
        top : int, optional
            ``mislabel`` cases for the ``top`` first items of the full label ranking (the
            flagged ones, then the lowest quality past the cut) instead of the flagged ones.
        actor : str, optional
            Who opens the cases.

        Returns
        -------
        dict
            Per reason, how many were found and opened; and the run.

        Raises
        ------
        InvalidParameter
            ``top`` below 1 (nothing is opened).

        Notes
        -----
        An item that already has an active case for the same reason is skipped, and so is one
        whose case for that reason a reviewer closed while it had the same label.
        """
        from assay.labels.writes import default_author
        from assay.quality.cases import check_top, open_issue_cases

        check_top(top)
        actor = actor or default_author()
        with self.dataset.store.write() as conn:
            row = runs.get_run(conn, self.dataset.id, run)
            return open_issue_cases(conn, self.dataset.id, row, limit=limit, top=top, actor=actor)


def _run_and_layer(result: Any) -> tuple[int, str]:
    """(run id, layer name) from what ``ds.models.cross_validate`` returns."""
    if isinstance(result, dict):
        return int(result["id"]), str(result["layer"])
    return int(result.id), str(result.layer)


def _columns(
    inputs: _Inputs, label: LabelIssues, data: DataIssues | None
) -> dict[str, np.ndarray | None]:
    ids = np.asarray(inputs.class_ids, dtype=np.int64)
    given = np.where(inputs.labels >= 0, ids[np.maximum(inputs.labels, 0)], -1)
    return {
        "given_class_id": given,
        "suggested_class_id": ids[label.suggested],
        "quality": label.quality,
        "loss": _losses(inputs.labels, inputs.pred_probs),
        "is_issue": label.is_issue,
        "outlier_score": None if data is None else data.outlier_score,
        "duplicate_of": None
        if data is None
        else np.where(data.duplicate_of >= 0, inputs.item_ids[data.duplicate_of], -1),
    }


def _losses(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Each item's log loss, -ln p(given label) (as evaluation computes it); NaN, stored as
    NULL, where there is no given label."""
    rows = np.arange(len(labels))
    p = np.asarray(pred_probs, np.float64)[rows, np.maximum(labels, 0)]
    return np.where(labels >= 0, -np.log(np.clip(p, EPS, 1.0)), np.nan)


def _issue_run(row: Any) -> IssueRun:
    info = runs.summary(row)
    return IssueRun(
        run_id=int(row.id),
        run_name=row.name,
        model_layer=info["model_layer"],
        layer=info["layer"],
        annotator_layers=info["annotator_layers"],
        filter=info.get("filter"),
        n_items=info["n_items"],
        n_issues=info["n_issues"],
        n_estimated=info["n_estimated"],
        n_outliers=info["n_outliers"],
        n_duplicates=info["n_duplicates"],
        n_without_probs=info["n_without_probs"],
        features=info.get("features"),
        computed_at=info["computed_at"],
        method=info["method"],
        stale=bool(info["stale"]),
        stale_message=info["stale_message"],
        family=info.get("family", "classification"),
        n_suspects=info.get("n_suspects"),
    )
