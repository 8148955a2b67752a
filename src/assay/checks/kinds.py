"""The checks each annotation kind contributes: boxes inside their image, no empty tag sets,
spans inside their text, numbers in range.

Each is registered with the kinds of layers it applies to (``value_kinds``), so
``assay check --init`` proposes it for every layer of that kind and an expectations file
that names it on another layer is refused; nothing in ``checks/`` branches on a kind. A new
kind adds its checks here (or in its own module imported by ``checks/__init__``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assay.checks.base import (
    Check,
    Context,
    LayerParams,
    Outcome,
    failing_items,
    layer_values,
    register,
)
from assay.labels.kinds.boxes import box_problem


def _layers_of(ctx: Context, kinds: tuple[str, ...]) -> list[str]:
    return [name for name, row in ctx.layers.items() if row.value_kind in kinds]


def _outcome(n: int, ids: list[int], failed: str, passed: str) -> Outcome:
    return Outcome.failed(f"{n} {failed}", n, ids) if n else Outcome.passed(passed)


@register
class BoxesInside(Check):
    """Every box of a box layer has a positive size and lies inside its image."""

    name = "boxes_inside"
    reads = "layer"
    params_model = LayerParams
    value_kinds = ("boxes",)

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        return [{"layer": layer} for layer in _layers_of(ctx, self.value_kinds)]

    def run(self, ctx: Context, params: LayerParams) -> Outcome:
        def bad(boxes: list[dict[str, Any]], width: Any, height: Any) -> bool:
            if not boxes:
                return False
            xywh = np.array([[b["x"], b["y"], b["w"], b["h"]] for b in boxes], dtype=float)
            sizes = np.tile([width or np.nan, height or np.nan], (len(boxes), 1)).astype(float)
            return box_problem(xywh, sizes) is not None

        n, ids = failing_items(ctx, params.layer, bad, "width", "height")
        return _outcome(
            n, ids, "image(s) with a box outside the image or of no size",
            f"every box of {params.layer!r} is inside its image",
        )  # fmt: skip


@register
class TagsNotEmpty(Check):
    """No item of a tag layer has an empty set of tags."""

    name = "tags_not_empty"
    reads = "layer"
    params_model = LayerParams
    value_kinds = ("tags",)

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        out = []
        for layer in _layers_of(ctx, self.value_kinds):
            n, _ = failing_items(ctx, layer, lambda tags: not tags)
            if not n:  # as the data is: a layer that uses empty sets gets no such check
                out.append({"layer": layer})
        return out

    def run(self, ctx: Context, params: LayerParams) -> Outcome:
        n, ids = failing_items(ctx, params.layer, lambda tags: not tags)
        return _outcome(
            n, ids, "item(s) with no tags", f"every labeled item of {params.layer!r} has tags"
        )


@register
class SpansInside(Check):
    """Every span of a span layer is non-empty and inside its item's text."""

    name = "spans_inside"
    reads = "layer"
    params_model = LayerParams
    value_kinds = ("spans",)

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        return [{"layer": layer} for layer in _layers_of(ctx, self.value_kinds)]

    def run(self, ctx: Context, params: LayerParams) -> Outcome:
        def bad(spans: list[dict[str, Any]], length: Any) -> bool:
            limit = length if length is not None else float("inf")
            return any(not (0 <= s["start"] < s["end"] <= limit) for s in spans)

        n, ids = failing_items(ctx, params.layer, bad, "text_length")
        return _outcome(
            n, ids, "item(s) with a span outside the text or empty",
            f"every span of {params.layer!r} is inside its text",
        )  # fmt: skip


class NumberRangeParams(LayerParams):
    min: float | None = None
    max: float | None = None


@register
class NumbersInRange(Check):
    """Every value of a number layer is within ``min``..``max``."""

    name = "numbers_in_range"
    reads = "layer"
    params_model = NumberRangeParams
    value_kinds = ("number",)

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        out = []
        for layer in _layers_of(ctx, self.value_kinds):
            values = [v for chunk in layer_values(ctx, layer) for _, v, *_ in chunk]
            options = ctx.layers[layer].options or {}
            low = options.get("min", min(values) if values else None)
            high = options.get("max", max(values) if values else None)
            if low is not None or high is not None:
                out.append({"layer": layer, "min": _float(low), "max": _float(high)})
        return out

    def run(self, ctx: Context, params: NumberRangeParams) -> Outcome:
        low = params.min if params.min is not None else -np.inf
        high = params.max if params.max is not None else np.inf
        n, ids = failing_items(ctx, params.layer, lambda v: not (low <= float(v) <= high))
        return _outcome(
            n, ids, f"value(s) outside {low:g}..{high:g}",
            f"every value of {params.layer!r} is within {low:g}..{high:g}",
        )  # fmt: skip


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
