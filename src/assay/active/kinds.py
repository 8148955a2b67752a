"""Suggestions by annotation kind: which strategies serve a layer of each kind, and who ranks.

Class layers are ranked by :func:`assay.active.ranking.rank_pool` with the strategies of
:mod:`assay.active.strategies`. A layer of another kind (boxes, tags, spans, numbers) is ranked
by the function its kind registers here with :func:`register`, with that kind's strategies
(box-uncertainty from predicted boxes' scores, a tag's margin, token entropy, interval width).
:class:`assay.active.api.Suggestions`, the CLI and the web's suggest form ask this module, so a
new kind needs no change in them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assay.active import strategies as st
from assay.active.ranking import Ranked
from assay.errors import InvalidParameter

__all__ = ["SUGGESTIONS", "KindSuggestions", "check_strategy_for", "register", "strategies_for"]


@dataclass(frozen=True)
class KindSuggestions:
    """How layers of one kind are ranked.

    ``rank(dataset, layer, *, strategy, batch, filter, seed, params)`` returns the
    :class:`Ranked` pool (``params``: the request's other settings, e.g. ``predictions``, the
    layer of a model's predictions the strategy reads). ``needs`` says, for messages, what the
    strategies need ("--predictions naming a layer of predicted boxes").
    """

    strategies: tuple[str, ...]
    rank: Callable[..., Ranked]
    needs: str = ""


#: kind name -> how its layers are ranked (class layers: not here, the default path).
SUGGESTIONS: dict[str, KindSuggestions] = {}


def register(kind: str, suggestions: KindSuggestions) -> None:
    """Make ``suggestions`` rank layers of annotation kind ``kind``."""
    SUGGESTIONS[kind] = suggestions
    st.KIND_STRATEGIES[kind] = suggestions.strategies


def strategies_for(value_kind: str) -> tuple[str, ...]:
    """The strategies a layer of ``value_kind`` accepts, ``auto`` first."""
    found = SUGGESTIONS.get(value_kind)
    return ("auto", *(found.strategies if found else st.STRATEGIES))


def check_strategy_for(strategy: str, value_kind: str, layer: str) -> None:
    """Refuse a strategy that does not fit the layer's kind, naming the ones that do."""
    allowed = strategies_for(value_kind)
    if strategy in allowed:
        return
    found = SUGGESTIONS.get(value_kind)
    needs = f" ({found.needs})" if found and found.needs else ""
    owner = next((k for k, s in st.KIND_STRATEGIES.items() if strategy in s), "classification")
    raise InvalidParameter(
        f"Strategy {strategy!r} ranks {owner} layers; layer {layer!r} holds {value_kind} "
        f"labels: use {', '.join(allowed)}{needs}."
    )


def _boxes(
    ds: Any, layer: str, *, strategy: str, batch: int, filter: str | None, seed: int,
    params: dict[str, Any],
) -> Ranked:  # fmt: skip
    from assay.active.boxes import rank_box_pool

    return rank_box_pool(
        ds, layer, strategy=strategy, predictions=params.get("predictions"), batch=batch,
        filter=filter, seed=seed,
    )  # fmt: skip


register(
    "boxes",
    KindSuggestions(
        ("random", "box-uncertainty"),
        _boxes,
        "with --predictions naming a layer of predicted boxes",
    ),
)


def _spans(
    ds: Any, layer: str, *, strategy: str, batch: int, filter: str | None, seed: int,
    params: dict[str, Any],
) -> Ranked:  # fmt: skip
    from assay.active.spans import rank_span_pool

    del params
    return rank_span_pool(ds, layer, strategy=strategy, batch=batch, filter=filter, seed=seed)


register(
    "spans",
    KindSuggestions(
        ("random", "token-entropy", "max-token-entropy"),
        _spans,
        "token entropy of the built-in token classifier trained on the annotated texts",
    ),
)


def _tags(
    ds: Any, layer: str, *, strategy: str, batch: int, filter: str | None, seed: int,
    params: dict[str, Any],
) -> Ranked:  # fmt: skip
    from assay.active.tags import rank_tag_pool

    return rank_tag_pool(
        ds, layer, strategy=strategy, predictions=params.get("predictions"), batch=batch,
        filter=filter, seed=seed,
    )  # fmt: skip


register(
    "tags",
    KindSuggestions(
        ("random", "tag-margin", "tag-mean-margin"),
        _tags,
        "optionally with --predictions naming a layer of tag probabilities",
    ),
)


def _numbers(
    ds: Any, layer: str, *, strategy: str, batch: int, filter: str | None, seed: int,
    params: dict[str, Any],
) -> Ranked:  # fmt: skip
    from assay.active.numbers import rank_number_pool

    del params
    return rank_number_pool(ds, layer, strategy=strategy, batch=batch, filter=filter, seed=seed)


register("number", KindSuggestions(("random", "interval-width"), _numbers))
