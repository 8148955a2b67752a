"""Checks of the items themselves: tabular fields (pandera), image sizes and modes, text length.

Tabular fields are validated row by row with pandera while the inventory scans (one
:class:`FieldRows` aggregator for all the ``field`` expectations); the image and text checks
read the inventory's aggregates and query the failing items only when they fail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
import sqlalchemy as sa
from pandera.errors import SchemaErrors

from assay.checks.base import ITEM_CAP, Check, Context, Outcome, Params, register
from assay.stats.scan import ScanSpec
from assay.store import schema as t

CATEGORY_VALUES_MAX = 50  # a text field with more distinct values gets no value list


class FieldParams(Params):
    field: str
    dtype: Literal["number", "category"]
    min: float | None = None
    max: float | None = None
    nullable: bool = True
    values: list[str] | None = None


Rule = tuple[str, str, float | None, float | None, bool, tuple[str, ...] | None]


class FieldRows:
    """Rows that break the field rules, found by pandera chunk by chunk (mergeable: the
    count per field and its first failing item ids)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.rules = tuple(rules)
        self.counts: dict[str, int] = {r[0]: 0 for r in self.rules}
        self.first: dict[str, list[int]] = {r[0]: [] for r in self.rules}
        self._schemas: dict[str, pa.DataFrameSchema] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_schemas"] = None  # rebuilt where it runs
        return state

    def _schema(self, dtype: str) -> pa.DataFrameSchema:
        if self._schemas is None:
            self._schemas = {}
            for kind in ("number", "category"):
                columns = {}
                for name, d, low, high, nullable, values in self.rules:
                    if d != kind:
                        continue
                    checks = []
                    if low is not None:
                        checks.append(pa.Check.ge(low))
                    if high is not None:
                        checks.append(pa.Check.le(high))
                    if values is not None:
                        checks.append(pa.Check.isin(list(values)))
                    columns[name] = pa.Column(
                        float if kind == "number" else object,
                        checks=checks,
                        nullable=nullable,
                        coerce=kind == "number",
                    )
                self._schemas[kind] = pa.DataFrameSchema(columns)
        return self._schemas[dtype]

    def add_chunk(self, chunk: dict[str, Any], spec: ScanSpec) -> None:
        numeric = [r[0] for r in self.rules if r[1] == "number"]
        if numeric and "numbers" in chunk and len(chunk["numbers"]):
            frame = pd.DataFrame(chunk["numbers"], columns=list(spec.numeric))
            self._validate(frame.reindex(columns=numeric), chunk["numbers_ids"], "number")
        categorical = [r[0] for r in self.rules if r[1] == "category"]
        if categorical and chunk.get("fields"):
            rows = [[_text(f.get(name)) for name in categorical] for f in chunk["fields"]]
            frame = pd.DataFrame(rows, columns=categorical, dtype=object)
            self._validate(frame, chunk["fields_ids"], "category")

    def _validate(self, frame: pd.DataFrame, ids: Sequence[int], dtype: str) -> None:
        try:
            self._schema(dtype).validate(frame, lazy=True)
        except SchemaErrors as exc:
            cases = exc.failure_cases
            cases = cases[cases["index"].notna()]
            ids_array = np.asarray(ids, dtype=np.int64)
            for column, group in cases.groupby("column"):
                rows = np.unique(group["index"].astype(np.int64).to_numpy())
                name = str(column)
                self.counts[name] += len(rows)
                room = ITEM_CAP - len(self.first[name])
                if room > 0:
                    self.first[name] += ids_array[rows[:room]].tolist()

    def merge(self, other: FieldRows) -> FieldRows:
        for name in self.counts:
            self.counts[name] += other.counts[name]
            self.first[name] = sorted(self.first[name] + other.first[name])[:ITEM_CAP]
        return self


def _text(value: Any) -> Any:
    return None if value is None else str(value)


@register
class FieldCheck(Check):
    """A tabular field's type, range, missing values and allowed values (pandera)."""

    name = "field"
    reads = "items"
    params_model = FieldParams

    def validate(self, ctx: Context, params: Params) -> tuple[str, str] | None:
        assert isinstance(params, FieldParams)
        known = _schema(ctx)
        if params.field not in known:
            names = ", ".join(known) or "none (no tabular items)"
            return "field", f"no field {params.field!r} in the dataset; its fields are {names}."
        if known[params.field] != params.dtype:
            return "dtype", f"field {params.field!r} is a {known[params.field]} field."
        return None

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for name, summary in ctx.state.features.items():
            r = summary.result()
            if r["count"] == r["missing"]:
                continue
            out.append(
                {"field": name, "dtype": "number", "min": _num(r["min"]), "max": _num(r["max"]),
                 "nullable": bool(r["missing"])}
            )  # fmt: skip
        for name, cats in ctx.state.categories.items():
            counts = cats.result()["counts"]
            nullable = "(missing)" in counts
            values = sorted(k for k in counts if k != "(missing)")
            keep = values if len(values) <= CATEGORY_VALUES_MAX and not cats.other else None
            out.append({"field": name, "dtype": "category", "nullable": nullable, "values": keep})
        return out

    def chunk(self, ctx: Context, expectations: Sequence[Params]) -> FieldRows | None:
        rules: list[Rule] = []
        for p in expectations:
            assert isinstance(p, FieldParams)
            values = tuple(p.values) if p.values is not None else None
            rules.append((p.field, p.dtype, p.min, p.max, p.nullable, values))
        return FieldRows(rules) if rules else None

    def run(self, ctx: Context, params: FieldParams) -> Outcome:
        rows = ctx.chunks.get(self.name)
        assert isinstance(rows, FieldRows)
        n = rows.counts.get(params.field, 0)
        rule = _describe(params)
        if n:
            return Outcome.failed(
                f"{n} item(s) break field {params.field!r} ({rule})", n, rows.first[params.field]
            )
        return Outcome.passed(f"every item keeps field {params.field!r} ({rule})")


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _describe(p: FieldParams) -> str:
    parts = []
    if p.min is not None:
        parts.append(f">= {p.min:g}")
    if p.max is not None:
        parts.append(f"<= {p.max:g}")
    if p.values is not None:
        parts.append(f"one of {len(p.values)} values")
    parts.append("may be missing" if p.nullable else "never missing")
    return ", ".join(parts)


def _schema(ctx: Context) -> dict[str, str]:
    with ctx.read() as conn:
        schema = conn.execute(
            sa.select(t.datasets.c.schema).where(t.datasets.c.id == ctx.dataset.id)
        ).scalar()
    return {
        c["name"]: ("number" if c.get("dtype") == "number" else "category") for c in schema or []
    }


# -- images and text -------------------------------------------------------------------------


class ImageSizeParams(Params):
    sizes: list[str] | None = None  # "WxH"
    min_width: int | None = None
    max_width: int | None = None
    min_height: int | None = None
    max_height: int | None = None


SIZES_MAX = 20  # more distinct image sizes than this: a range is expected instead


@register
class ImageSize(Check):
    """Image sizes: one of a few known sizes, or within a range of widths and heights."""

    name = "image_size"
    reads = "items"
    params_model = ImageSizeParams

    def validate(self, ctx: Context, params: Params) -> tuple[str, str] | None:
        assert isinstance(params, ImageSizeParams)
        for size in params.sizes or []:
            if not _parse_size(size):
                return "sizes", f"{size!r} is not a size like '28x28' (width x height)."
        return None

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        counts = ctx.state.image_sizes.result()["counts"]
        if not counts:
            return []
        if len(counts) <= SIZES_MAX and not ctx.state.image_sizes.other:
            return [{"sizes": sorted(counts)}]
        w, h = ctx.state.images["width"].result(), ctx.state.images["height"].result()
        return [
            {"min_width": int(w["min"]), "max_width": int(w["max"]),
             "min_height": int(h["min"]), "max_height": int(h["max"])}
        ]  # fmt: skip

    def run(self, ctx: Context, params: ImageSizeParams) -> Outcome:
        i = t.items.c
        if not ctx.state.image_sizes.total:
            return Outcome.skipped("the dataset has no images")
        conditions: list[Any] = []
        if params.sizes is not None:
            allowed = [size for s in params.sizes if (size := _parse_size(s)) is not None]
            ok = sa.or_(*[sa.and_(i.width == w, i.height == h) for w, h in allowed])
            conditions.append(sa.not_(ok))
        for column, low, high in (
            (i.width, params.min_width, params.max_width),
            (i.height, params.min_height, params.max_height),
        ):
            if low is not None:
                conditions.append(column < low)
            if high is not None:
                conditions.append(column > high)
        if not conditions:
            return Outcome.skipped("no sizes and no range given")
        if not self._may_fail(ctx, params):
            return Outcome.passed(f"every image's size is as expected ({_size_rule(params)})")
        n, ids = ctx.item_ids(ctx.items_where(i.kind == "image", sa.or_(*conditions)))
        if not n:
            return Outcome.passed(f"every image's size is as expected ({_size_rule(params)})")
        return Outcome.failed(f"{n} image(s) of another size ({_size_rule(params)})", n, ids)

    def _may_fail(self, ctx: Context, p: ImageSizeParams) -> bool:
        """From the inventory's counts alone: could any image break the rule?"""
        sizes = ctx.state.image_sizes
        if sizes.other:
            return True
        if p.sizes is not None and set(sizes.counts) - set(p.sizes):
            return True
        w, h = ctx.state.images["width"].minmax, ctx.state.images["height"].minmax
        return any(
            low is not None and value is not None and value < low
            for low, value in ((p.min_width, w.min), (p.min_height, h.min))
        ) or any(
            high is not None and value is not None and value > high
            for high, value in ((p.max_width, w.max), (p.max_height, h.max))
        )


def _parse_size(text: str) -> tuple[int, int] | None:
    parts = text.lower().split("x")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _size_rule(p: ImageSizeParams) -> str:
    if p.sizes is not None:
        return "sizes " + ", ".join(p.sizes)
    return (
        f"width {p.min_width if p.min_width is not None else '...'}-"
        f"{p.max_width if p.max_width is not None else '...'}, height "
        f"{p.min_height if p.min_height is not None else '...'}-"
        f"{p.max_height if p.max_height is not None else '...'}"
    )


class ImageModeParams(Params):
    channels: list[int]  # 1: grey, 3: RGB, 4: RGBA


@register
class ImageMode(Check):
    """Image modes, by their number of channels (1 grey, 3 RGB, 4 with alpha)."""

    name = "image_mode"
    reads = "items"
    params_model = ImageModeParams

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        counts = ctx.state.image_channels.result()["counts"]
        return [{"channels": sorted(int(c) for c in counts)}] if counts else []

    def run(self, ctx: Context, params: ImageModeParams) -> Outcome:
        counts = ctx.state.image_channels.result()["counts"]
        if not counts:
            return Outcome.skipped("the dataset has no images")
        allowed = {str(c) for c in params.channels}
        if set(counts) <= allowed:
            return Outcome.passed(f"every image has {_channels(params.channels)}")
        i = t.items.c
        query = ctx.items_where(i.kind == "image", i.channels.not_in(params.channels))
        n, ids = ctx.item_ids(query)
        return Outcome.failed(f"{n} image(s) without {_channels(params.channels)}", n, ids)


def _channels(values: list[int]) -> str:
    """``1 channel``, ``3 channels``, ``1 or 3 channels``."""
    return " or ".join(str(v) for v in values) + (" channel" if values == [1] else " channels")


class TextLengthParams(Params):
    min: int | None = None
    max: int | None = None


@register
class TextLength(Check):
    """The length of text items, in characters."""

    name = "text_length"
    reads = "items"
    params_model = TextLengthParams

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        r = ctx.state.text_length.minmax
        if r.min is None or r.max is None:
            return []
        return [{"min": int(r.min), "max": int(r.max)}]

    def run(self, ctx: Context, params: TextLengthParams) -> Outcome:
        r = ctx.state.text_length.minmax
        if r.min is None or r.max is None:
            return Outcome.skipped("the dataset has no text items")
        rule = f"{params.min if params.min is not None else 0}-{params.max or '...'} characters"
        low_ok = params.min is None or r.min >= params.min
        high_ok = params.max is None or r.max <= params.max
        if low_ok and high_ok:
            return Outcome.passed(f"every text is {rule} long")
        i = t.items.c
        conditions = []
        if params.min is not None:
            conditions.append(i.text_length < params.min)
        if params.max is not None:
            conditions.append(i.text_length > params.max)
        n, ids = ctx.item_ids(ctx.items_where(i.kind == "text", sa.or_(*conditions)))
        return Outcome.failed(f"{n} text(s) not {rule} long", n, ids)
