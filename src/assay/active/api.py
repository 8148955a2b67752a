"""``ds.suggestions``: what to label next in a layer, kept as ranked lists in the store.

::

    s = Suggestions(ds)                      # ds.suggestions
    s.suggest("alice", strategy="auto", batch=50)
    s.next("alice")                          # the next unlabeled suggested items, in order
    ...                                      # labels arrive in layer "alice"
    s.refresh("alice")                       # retrain on the labels so far and re-rank
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from assay.active import lists
from assay.active.kinds import SUGGESTIONS, check_strategy_for
from assay.active.pool import annotator_codes, load_pool
from assay.active.ranking import Ranked, check_batch, rank_pool
from assay.active.specs import SuggestSpec
from assay.errors import InvalidParameter
from assay.progress import ProgressCallback, no_progress
from assay.store import queries

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

__all__ = ["SuggestionList", "Suggestions"]


@dataclass(frozen=True)
class SuggestionList:
    """One ranked list of items to label next in a layer, and how it was made."""

    list_id: int
    layer: str
    state: str  # running, ready, superseded, failed
    requested: str  # the strategy asked for ("auto", "margin", ...)
    strategy: str | None  # the strategy that ranked the items (after any fallback)
    model: str | None  # whose probabilities ranked them; None without a model
    featurizer: str | None
    batch: int
    seed: int
    filter: str | None
    n_pool: int | None  # unlabeled items when the list was made
    n_labeled: int | None  # labeled items the model learned from
    notes: list[str]  # fallbacks and clamps, in words
    error: str | None
    created_by: str
    created_at: str  # ISO 8601, UTC
    finished_at: str | None
    n_suggestions: int = 0
    n_done: int = 0  # suggestions whose item is now labeled in the layer

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return asdict(self)


class Suggestions:
    """Active-learning suggestions of one dataset: ``dataset.suggestions``."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def suggest(
        self,
        spec: SuggestSpec | str,
        /,
        *,
        author: str | None = None,
        progress: ProgressCallback | None = None,
        **options: Any,
    ) -> SuggestionList:
        """Rank the items not yet labeled in a layer and store the first ``batch`` as a list.

        ``spec`` is a :class:`assay.active.specs.SuggestSpec`, or the layer's name with the
        spec's other fields as keywords: ``strategy`` (``auto``: cold start while fewer than
        two classes are labeled, then diverse; see :mod:`assay.active.strategies`), ``batch``
        (clamped, with a warning, to the pool's size), ``model`` (retrained on the layer's
        labels; ``auto`` is fast logistic regression, :mod:`assay.active.model`; from Python
        also an unfitted estimator), ``filter`` (suggest only from this slice), ``seed``,
        ``featurizer`` and ``annotators`` (for ``activelab``: the annotator layers it weighs,
        default the human layers). For a box layer, ``predictions`` names the layer of
        predicted boxes whose scores rank the images (``box-uncertainty``, what ``auto``
        means there; see :mod:`assay.active.boxes`).

        Returns
        -------
        SuggestionList
            The stored list; its ``notes`` say if the strategy fell back or the batch was
            clamped (also raised as ``UserWarning``).

        Raises
        ------
        LayerNotFound
            No such layer.
        EmptyPool
            Every item of the slice is already labeled in ``layer``.
        SuggestionsBusy
            A list for ``layer`` is being computed right now.
        InvalidParameter
            Unknown strategy, a bad batch, a dataset without classes.
        """
        if isinstance(spec, str):
            spec = SuggestSpec.of(layer=spec, **options)
        else:
            spec = SuggestSpec.of(spec, **options)
        params = {
            "model": _model_param(spec.model),
            "featurizer": spec.featurizer,
            "annotators": spec.annotators,
        }
        if spec.predictions:
            params["predictions"] = spec.predictions
        return self._run(
            spec.layer, spec.strategy, spec.batch, spec.model, spec.filter, spec.seed, params,
            author, progress,
        )  # fmt: skip

    def refresh(
        self,
        layer: str,
        *,
        batch: int | None = None,
        author: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> SuggestionList:
        """Retrain on the labels the layer has now and re-rank, with the settings of the
        layer's latest list (strategy as asked, model, filter, seed; ``batch`` may change).

        Raises
        ------
        ListNotFound
            The layer has no list to refresh yet (call ``suggest`` first).
        SuggestionsBusy
            A list for ``layer`` is being computed right now.
        """
        if batch is not None:
            check_batch(batch)
        with self.dataset.store.read() as conn:
            layer_row = queries.get_layer(conn, self.dataset.id, layer)
            row = lists.latest(conn, self.dataset.id, layer_row.id, ("ready", "superseded"))
        if row is None:
            raise lists.ListNotFound(
                f"Layer {layer!r} has no suggestions to refresh yet; make a list first with "
                f"`assay suggest --layer {layer}` (or ds.suggestions.suggest({layer!r}))."
            )
        params = lists.as_dict(row.params)
        return self._run(
            layer,
            row.requested,
            batch or row.batch,
            params.get("model") or "auto",
            row.filter,
            row.seed,
            params,
            author,
            progress,
        )

    def _run(
        self,
        layer: str,
        strategy: str,
        batch: int,
        model: str | Any,
        filter: str | None,
        seed: int,
        params: dict[str, Any],
        author: str | None,
        progress: ProgressCallback | None,
    ) -> SuggestionList:
        """Claim the layer, rank, store; a failure marks the list failed and re-raises."""
        from assay.labels.writes import default_author

        ds = self.dataset
        with ds.store.write() as conn:
            layer_row = queries.get_layer(conn, ds.id, layer)
            check_strategy_for(strategy, layer_row.value_kind, layer)
            list_id = lists.claim(
                conn,
                ds.id,
                layer_row,
                requested=strategy,
                batch=batch,
                seed=seed,
                filter=filter,
                params=params,
                author=author or default_author(),
            )
        try:
            ranked, featurizer = self._rank(
                layer, strategy, batch, model, filter, seed, params, progress or no_progress
            )
        except BaseException as exc:
            with ds.store.write() as conn:
                lists.fail(conn, list_id, f"{type(exc).__name__}: {exc}")
            raise
        with ds.store.write() as conn:
            lists.fill(
                conn,
                list_id,
                item_ids=ranked.item_ids,
                scores=ranked.selection.scores,
                reasons=ranked.selection.reasons,
                values=_result_values(ranked, featurizer),
            )
        return self.get(list_id)

    def _rank(
        self,
        layer: str,
        strategy: str,
        batch: int,
        model: str | Any,
        filter: str | None,
        seed: int,
        params: dict[str, Any],
        progress: ProgressCallback,
    ) -> tuple[Ranked, str | None]:
        with self.dataset.store.read() as conn:
            value_kind = queries.get_layer(conn, self.dataset.id, layer).value_kind
        if value_kind in SUGGESTIONS:
            progress(0, None, f"ranking ({strategy})")
            ranked = SUGGESTIONS[value_kind].rank(
                self.dataset,
                layer,
                strategy=strategy,
                batch=batch,
                filter=filter,
                seed=seed,
                params=params,
            )
            return ranked, None
        data = load_pool(
            self.dataset,
            layer,
            filter=filter,
            featurizer=params.get("featurizer") or "auto",
            progress=progress,
        )
        annotators = None
        if strategy == "activelab":
            annotators = annotator_codes(
                self.dataset, params.get("annotators"), filter, data.item_ids
            )
        progress(0, None, f"ranking ({strategy})")
        ranked = rank_pool(
            data,
            layer=layer,
            strategy=strategy,
            batch=batch,
            model=model,
            seed=seed,
            annotators=annotators,
        )
        return ranked, data.featurizer

    # ----------------------------------------------------------------------------------------
    # Reading
    # ----------------------------------------------------------------------------------------
    def get(self, list_id: int) -> SuggestionList:
        """One list by id, with its counts of suggestions and of those done."""
        with self.dataset.store.read() as conn:
            row = lists.get_list(conn, self.dataset.id, list_id)
            n, done = lists.counts(conn, row.id, row.layer_id)
        return _to_list(row, n, done)

    def current(self, layer: str) -> SuggestionList | None:
        """The layer's newest ready list (the one ``next`` serves), or None."""
        with self.dataset.store.read() as conn:
            layer_row = queries.get_layer(conn, self.dataset.id, layer)
            row = lists.latest(conn, self.dataset.id, layer_row.id, ("ready",))
            if row is None:
                return None
            n, done = lists.counts(conn, row.id, row.layer_id)
        return _to_list(row, n, done)

    def lists(self, layer: str | None = None, *, limit: int = 20) -> list[SuggestionList]:
        """The dataset's lists (of one layer), newest first, with their counts."""
        with self.dataset.store.read() as conn:
            layer_id = queries.get_layer(conn, self.dataset.id, layer).id if layer else None
            rows = lists.list_lists(conn, self.dataset.id, layer_id, limit)
            out = []
            for row in rows:
                n, done = lists.counts(conn, row.id, row.layer_id)
                out.append(_to_list(row, n, done))
        return out

    def items(
        self,
        layer: str | None = None,
        *,
        list_id: int | None = None,
        after: int | None = None,
        limit: int = 100,
        pending_only: bool = False,
    ) -> list[dict[str, Any]]:
        """Rows of a list (default: the layer's current one) in rank order: rank, item_id,
        key, score, reason, done, label. ``after`` is a rank (keyset paging)."""
        _check_limit(limit)
        with self.dataset.store.read() as conn:
            row = self._list_row(conn, layer, list_id)
            if row is None:
                return []
            return lists.rows(
                conn, row.id, row.layer_id, after_rank=after, limit=limit, pending_only=pending_only
            )

    def next(
        self, layer: str, after: int | None = None, *, limit: int = 10
    ) -> list[dict[str, Any]]:
        """The next suggested items not yet labeled in ``layer``, in rank order.

        ``after`` is an item id (the one just shown or skipped): the items ranked below it
        come next. An item the current list does not hold (e.g. after a refresh) starts from
        the top. Empty when the layer has no ready list or every suggestion is done.
        """
        _check_limit(limit)
        with self.dataset.store.read() as conn:
            row = self._list_row(conn, layer, None)
            if row is None:
                return []
            after_rank = lists.rank_of(conn, row.id, after) if after is not None else None
            return lists.rows(
                conn, row.id, row.layer_id, after_rank=after_rank, limit=limit, pending_only=True
            )

    def _list_row(self, conn: Any, layer: str | None, list_id: int | None) -> Any:
        if list_id is not None:
            return lists.get_list(conn, self.dataset.id, list_id)
        if layer is None:
            raise InvalidParameter("Name a layer or a list id.")
        layer_row = queries.get_layer(conn, self.dataset.id, layer)
        return lists.latest(conn, self.dataset.id, layer_row.id, ("ready",))


def _model_param(model: str | Any) -> str:
    if isinstance(model, str):
        return model
    raise InvalidParameter(
        "Suggestions store the model by name so a refresh can retrain it: pass a built-in "
        "name (auto, logreg, hgb, cnn) or an import path such as sklearn.svm.SVC."
    )


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise InvalidParameter(
            f"The 'limit' parameter must be an int in the range [1, 10000]. Got {limit!r} instead."
        )


def _result_values(ranked: Ranked, featurizer: str | None) -> dict[str, Any]:
    return {
        "strategy": ranked.strategy,
        "model": ranked.model,
        "featurizer": featurizer,
        "n_pool": ranked.n_pool,
        "n_labeled": ranked.n_labeled,
        "notes": ranked.notes,
    }


def _to_list(row: Any, n: int, done: int) -> SuggestionList:
    return SuggestionList(
        list_id=row.id,
        layer=row.layer,
        state=row.state,
        requested=row.requested,
        strategy=row.strategy,
        model=row.model,
        featurizer=row.featurizer,
        batch=row.batch,
        seed=row.seed,
        filter=row.filter,
        n_pool=row.n_pool,
        n_labeled=row.n_labeled,
        notes=lists.as_list(row.notes),
        error=row.error,
        created_by=row.created_by,
        created_at=row.created_at.isoformat(),
        finished_at=row.finished_at.isoformat() if row.finished_at else None,
        n_suggestions=n,
        n_done=done,
    )
