"""Checks of the labels: class set, coverage, class balance, agreement between annotators,
the share of likely label issues, and no exact duplicates across splits (leakage).

Counts come from the inventory's aggregates (one scan for every check); the items behind a
failure are read with one small query, only when the check fails.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sqlalchemy as sa

from assay.checks.base import (
    Check,
    Context,
    LayerParams,
    Outcome,
    Params,
    register,
    round_down,
    round_up,
    share,
)
from assay.errors import InvalidParameter, NotFound
from assay.labels.kinds import get_kind
from assay.labels.load import default_layers, load_values
from assay.labels.reference import layer_agreement
from assay.stats.aggregators import Categories
from assay.store import schema as t

CLASSIFICATION = ("classification",)


def _classes(ctx: Context, layer: str) -> dict[str, int]:
    cats = ctx.state.layer_classes.get(layer, Categories())
    return dict(cats.counts)


def _layer_labels(ctx: Context, layer: str, *conditions: Any) -> sa.Select[Any]:
    """Item ids of ``layer``'s current labels meeting ``conditions``, latest labels first
    (so a failure names the changes that made it first)."""
    h = t.label_heads.c
    return (
        sa.select(h.item_id)
        .where(h.layer_id == ctx.layers[layer].id, *conditions)
        .order_by(h.label_id.desc())
    )


def _class_ids(ctx: Context, names: set[str]) -> list[int]:
    c = t.classes.c
    with ctx.read() as conn:
        rows = conn.execute(sa.select(c.id, c.name).where(c.dataset_id == ctx.dataset.id))
        return [int(r.id) for r in rows if r.name in names]


class ClassSetParams(LayerParams):
    classes: list[str]


@register
class ClassSet(Check):
    """A layer's labels use only these classes (a new class is a failure)."""

    name = "class_set"
    reads = "layer"
    params_model = ClassSetParams
    value_kinds = CLASSIFICATION

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        out = []
        for layer in _inferred(ctx):
            counts = _classes(ctx, layer)
            if ctx.layers[layer].value_kind in CLASSIFICATION and counts:
                out.append({"layer": layer, "classes": sorted(counts, key=_natural)})
        return out

    def run(self, ctx: Context, params: ClassSetParams) -> Outcome:
        counts = _classes(ctx, params.layer)
        if not counts:
            return Outcome.skipped(f"layer {params.layer!r} has no labels")
        extra = set(counts) - set(params.classes)
        if not extra:
            return Outcome.passed(f"{params.layer!r} uses only its {len(params.classes)} classes")
        h = t.label_heads.c
        query = _layer_labels(ctx, params.layer, h.class_id.in_(_class_ids(ctx, extra)))
        n, ids = ctx.item_ids(query)
        names = ", ".join(sorted(extra, key=_natural))
        return Outcome.failed(f"{params.layer!r} has labels of new class(es) {names}", n, ids)


def _inferred(ctx: Context) -> list[str]:
    """The layers ``--init`` writes label expectations for: people's, imports and consensus,
    not model layers (a model's labels are what it predicts, recomputed by every run)."""
    return [name for name, row in ctx.layers.items() if row.kind != "model"]


def _natural(name: str) -> tuple[int, Any]:
    return (0, int(name)) if name.isdigit() else (1, name)


class CoverageParams(LayerParams):
    min: float


@register
class Coverage(Check):
    """The share of items a layer labels is at least ``min``."""

    name = "coverage"
    reads = "layer"
    params_model = CoverageParams

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        out = []
        for layer in _inferred(ctx):
            labeled = self._labeled(ctx, layer)
            if labeled:
                out.append({"layer": layer, "min": round_down(share(labeled, ctx.n_items))})
        return out

    def _labeled(self, ctx: Context, layer: str) -> int:
        if layer in ctx.state.box_layers:
            return int(ctx.state.box_layers[layer].result()["n_annotated"])
        if ctx.layers[layer].value_kind in CLASSIFICATION:
            return int(ctx.state.layer_classes.get(layer, Categories()).total)
        h, lab = t.label_heads.c, t.labels.c
        query = (
            sa.select(sa.func.count())
            .select_from(t.label_heads.join(t.labels, lab.id == h.label_id))
            .where(h.layer_id == ctx.layers[layer].id, lab.value.is_not(None))
        )
        with ctx.read() as conn:
            return int(conn.execute(query).scalar() or 0)

    def run(self, ctx: Context, params: CoverageParams) -> Outcome:
        labeled = self._labeled(ctx, params.layer)
        measured = share(labeled, ctx.n_items)
        text = (
            f"{params.layer!r} labels {100 * measured:.2f}% of the items "
            f"(min {100 * params.min:.2f}%)"
        )
        if measured >= params.min:
            return Outcome.passed(text)
        h = t.label_heads.c
        i = t.items.c
        labeled_ids = sa.select(h.item_id).where(
            h.layer_id == ctx.layers[params.layer].id, h.class_id.is_not(None)
        )
        if ctx.layers[params.layer].value_kind not in CLASSIFICATION:
            labeled_ids = sa.select(h.item_id).where(h.layer_id == ctx.layers[params.layer].id)
        _, ids = ctx.item_ids(ctx.items_where(i.id.not_in(labeled_ids)))
        return Outcome.failed(text, ctx.n_items - labeled, ids)


class BalanceParams(LayerParams):
    shares: dict[str, float]
    tolerance: float = 0.05


@register
class Balance(Check):
    """Each class's share of a layer's labels stays within ``tolerance`` of its expected share."""

    name = "balance"
    reads = "layer"
    params_model = BalanceParams
    value_kinds = CLASSIFICATION

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        out = []
        for layer in _inferred(ctx):
            counts = _classes(ctx, layer)
            total = sum(counts.values())
            if ctx.layers[layer].value_kind in CLASSIFICATION and len(counts) > 1:
                shares = {k: round(counts[k] / total, 4) for k in sorted(counts, key=_natural)}
                out.append({"layer": layer, "shares": shares, "tolerance": 0.05})
        return out

    def run(self, ctx: Context, params: BalanceParams) -> Outcome:
        counts = _classes(ctx, params.layer)
        total = sum(counts.values())
        if not total:
            return Outcome.skipped(f"layer {params.layer!r} has no labels")
        off = {}
        for name in set(counts) | set(params.shares):
            measured = counts.get(name, 0) / total
            expected = params.shares.get(name, 0.0)
            if abs(measured - expected) > params.tolerance + 1e-12:
                off[name] = (measured, expected)
        if not off:
            return Outcome.passed(
                f"every class of {params.layer!r} within {params.tolerance:g} of its share"
            )
        listed = "; ".join(
            f"{k}: {100 * m:.1f}% (expected {100 * e:.1f}%)"
            for k, (m, e) in sorted(off.items(), key=lambda kv: _natural(kv[0]))
        )
        # The items named: the latest labels of the classes grown past their share.
        over = {k for k, (m, e) in off.items() if m > e}
        h = t.label_heads.c
        ids: list[int] = []
        n = 0
        if over:
            n, ids = ctx.item_ids(
                _layer_labels(ctx, params.layer, h.class_id.in_(_class_ids(ctx, over)))
            )
        return Outcome.failed(f"class balance of {params.layer!r} off: {listed}", n, ids)


class AgreementParams(Params):
    layers: list[str] | None = None  # default: one human layer per person
    min: float


@register
class Agreement(Check):
    """Agreement between annotators (percent agreement over items labeled twice or more) is
    at least ``min``. Skipped, with the reason, when it cannot be measured."""

    name = "agreement"
    reads = "labels"
    params_model = AgreementParams

    def validate(self, ctx: Context, params: Params) -> tuple[str, str] | None:
        assert isinstance(params, AgreementParams)
        for layer in params.layers or []:
            if layer not in ctx.layers:
                known = ", ".join(sorted(ctx.layers)) or "none"
                return "layers", f"no layer {layer!r} in {ctx.dataset.name!r} ({known})."
        return None

    def _measure(
        self, ctx: Context, layers: list[str] | None
    ) -> tuple[float | None, str, tuple[str, str] | None]:
        """The kind's agreement figure over ``layers`` (``AnnotationKind.agreement_measure``:
        percent agreement for classes, alpha for tags and numbers, F1 for spans and boxes),
        or None and why; with the measure's key and name."""
        try:
            with ctx.read() as conn:
                names = list(layers or default_layers(conn, ctx.dataset.id))
            report = layer_agreement(ctx.dataset.store, ctx.dataset.id, names)
        except (InvalidParameter, NotFound) as exc:
            return None, str(exc), None
        row = ctx.layers.get(names[0]) if names else None
        measure = get_kind(row.value_kind).agreement_measure if row is not None else None
        if measure is None:
            return None, "these layers' kind reports no agreement figure", None
        value: Any = report.to_dict() if hasattr(report, "to_dict") else report
        for part in measure[0].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, int | float) or not math.isfinite(value):
            return None, f"no {measure[1]} over these layers", measure
        return float(value), "", measure

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        with ctx.read() as conn:
            layers = default_layers(conn, ctx.dataset.id)
        value, _, measure = self._measure(ctx, layers)
        if value is None or measure is None:
            return []
        floor = round_down(value - 0.05, 2)
        return [{"layers": layers, "min": max(0.0, floor) if value >= 0 else floor}]

    def run(self, ctx: Context, params: AgreementParams) -> Outcome:
        value, why, measure = self._measure(ctx, params.layers)
        if value is None or measure is None:
            return Outcome.skipped(f"agreement cannot be measured: {why}")
        if measure[0] == "percent_agreement":
            text = f"percent agreement {100 * value:.1f}% (min {100 * params.min:.1f}%)"
        else:
            text = f"{measure[1]} {value:.3f} (min {params.min:.3f})"
        if value >= params.min:
            return Outcome.passed(text)
        with ctx.read() as conn:
            layers = params.layers or default_layers(conn, ctx.dataset.id)
            kind, table = load_values(conn, ctx.dataset.id, layers)
        found = sorted(kind.disagreements(table), key=lambda d: (d.agreement, d.item_id))
        return Outcome.failed(text, len(found), [d.item_id for d in found])


class LabelIssuesParams(LayerParams):
    max: float


@register
class LabelIssues(Check):
    """The share of a layer's labels the latest label-issue search flags is at most ``max``
    (skipped when no search ran on the layer)."""

    name = "label_issues"
    reads = "labels"
    params_model = LabelIssuesParams

    def _latest(self, ctx: Context) -> tuple[int, dict[str, Any]] | None:
        from assay.quality import runs

        with ctx.read() as conn:
            try:
                row = runs.get_run(conn, ctx.dataset.id)
            except NotFound:
                return None
            return int(row.id), runs.summary(row)

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        latest = self._latest(ctx)
        if latest is None or latest[1].get("layer") not in ctx.layers:
            return []
        info = latest[1]
        measured = share(int(info["n_issues"]), int(info["n_items"]))
        return [{"layer": info["layer"], "max": min(1.0, round_up(measured + 0.01, 3))}]

    def run(self, ctx: Context, params: LabelIssuesParams) -> Outcome:
        latest = self._latest(ctx)
        if latest is None:
            return Outcome.skipped("no label-issue search has run (assay quality find)")
        run_id, info = latest
        if info.get("layer") != params.layer:
            return Outcome.skipped(
                f"the latest label-issue search checked layer {info.get('layer')!r}, "
                f"not {params.layer!r}"
            )
        measured = share(int(info["n_issues"]), int(info["n_items"]))
        text = (
            f"{100 * measured:.2f}% of {params.layer!r} likely mislabeled "
            f"(max {100 * params.max:.2f}%)"
        )
        if info.get("stale"):
            text += " (the search is stale: labels changed since)"
        if measured <= params.max:
            return Outcome.passed(text)
        lq = t.label_quality.c
        query = (
            sa.select(lq.item_id)
            .where(lq.run_id == run_id, lq.is_issue.is_(True))
            .order_by(lq.quality, lq.item_id)
        )
        n, ids = ctx.item_ids(query)
        return Outcome.failed(text, n, ids)


def _n_splits(ctx: Context) -> int:
    """How many named splits the dataset's items are in."""
    return sum(1 for s in ctx.state.splits.counts if s != "(none)")


class LeakageParams(Params):
    max_items: int = 0  # items with an exact duplicate in another split allowed


@register
class Leakage(Check):
    """No item has an exact duplicate (same content hash) in another split."""

    name = "leakage"
    reads = "items"
    params_model = LeakageParams

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        if _n_splits(ctx) < 2:
            return []
        return [{"max_items": len(self._leaked(ctx))}]

    def _leaked(self, ctx: Context) -> list[int]:
        """Items with an exact duplicate in another split, by group, biggest group first."""
        groups = ctx.state.duplicates.groups()
        if not groups:
            return []
        ids = np.concatenate(groups)
        splits: dict[int, str | None] = {}
        i = t.items.c
        with ctx.read() as conn:
            for start in range(0, len(ids), 10_000):
                part = [int(x) for x in ids[start : start + 10_000]]
                for item_id, split in conn.execute(sa.select(i.id, i.split).where(i.id.in_(part))):
                    splits[int(item_id)] = split
        leaked = []
        for group in groups:
            if len({splits.get(int(x)) for x in group}) > 1:
                leaked += [int(x) for x in group]
        return leaked

    def run(self, ctx: Context, params: LeakageParams) -> Outcome:
        if _n_splits(ctx) < 2:
            return Outcome.skipped("the dataset has fewer than two splits")
        leaked = self._leaked(ctx)
        text = f"{len(leaked)} item(s) with an exact duplicate in another split"
        if len(leaked) <= params.max_items:
            return Outcome.passed(f"{text} (max {params.max_items})")
        return Outcome.failed(f"{text} (max {params.max_items})", len(leaked), leaked)
