"""Agreement, consensus and disagreements of number layers (the ``number`` kind's measures).

* **Agreement**: Krippendorff's alpha with the interval metric (the ``krippendorff`` package)
  over all layers and per pair, the mean absolute difference per pair, and the intraclass
  correlation ICC(2,1) (two-way random effects, absolute agreement, one rater; Shrout &
  Fleiss) over the items every layer labels. ICC is six lines of ANOVA sums on a complete
  matrix: no maintained package in our dependencies computes it (pingouin would pull pandas
  extras and statsmodels for one formula).
* **Consensus**: the ``median``, ``mean`` or ``trimmed-mean`` (scipy's ``trim_mean``, 20 %
  cut each side) of the layers' values per item, with its spread (median absolute deviation
  for the median and the trimmed mean, the standard deviation for the mean) and a confidence
  ``1 / (1 + spread / tolerance)`` (1 when the annotators agree, 0.5 when they spread as far
  as the tolerance; 0.5 for an item only one layer labels: nothing confirms it).
* **Disagreements**: an item whose values differ by more than the tolerance (largest minus
  smallest). The tolerance is the layers' option ``tolerance`` when set, else 5 % of the
  layers' range (``max - min`` options), else 5 % of the spread of the values themselves
  (95th minus 5th percentile, pooled over the layers): relative, so ages and prices get
  sensible cases without configuration.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.kinds import Disagreement, ValueTable

__all__ = [
    "CONSENSUS_METHODS",
    "NumberAgreement",
    "NumberConsensus",
    "NumberTable",
    "combine_numbers",
    "icc21",
    "interval_alpha",
    "number_agreement",
    "number_disagreements",
    "tolerance_of",
]

CONSENSUS_METHODS = ("median", "mean", "trimmed-mean")
TRIM = 0.2  # share cut at each end by the trimmed mean
RELATIVE_TOLERANCE = 0.05
LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class NumberTable(ValueTable):
    """A :class:`ValueTable` of number layers with the layers' options (their ranges and
    tolerances), which say when two values differ."""

    options: dict[str, dict[str, Any]] = field(default_factory=dict)


def matrix(table: ValueTable) -> np.ndarray:
    """(layers, items) float array of the table's values, nan where a layer has none."""
    out = np.full((len(table.layers), len(table.item_ids)), np.nan)
    col = {item: j for j, item in enumerate(table.item_ids)}
    for i, name in enumerate(table.layers):
        for item, value in table.values[name].items():
            out[i, col[item]] = float(value)
    return out


def tolerance_of(table: ValueTable, values: np.ndarray | None = None) -> float:
    """How far two values may differ and still agree (see the module doc)."""
    options = getattr(table, "options", {}) or {}
    given = [float(o["tolerance"]) for o in options.values() if o.get("tolerance") is not None]
    if given:
        return min(given)
    spans = [
        float(o["max"]) - float(o["min"])
        for o in options.values()
        if o.get("min") is not None and o.get("max") is not None
    ]
    if spans:
        return RELATIVE_TOLERANCE * min(spans)
    data = matrix(table) if values is None else values
    finite = data[np.isfinite(data)]
    if not len(finite):
        return 0.0
    lo, hi = np.percentile(finite, [5, 95])
    return RELATIVE_TOLERANCE * float(hi - lo)


def interval_alpha(data: np.ndarray) -> float | None:
    """Krippendorff's alpha, interval metric, of a (raters, items) array with nan for missing;
    None when it is undefined (fewer than two pairable values, or no variation at all)."""
    import krippendorff

    pairable = (np.isfinite(data).sum(axis=0) >= 2).sum()
    finite = data[np.isfinite(data)]
    if pairable < 1 or len(np.unique(finite)) < 2:
        return None
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="interval"))
    return value if math.isfinite(value) else None


def icc21(data: np.ndarray) -> float | None:
    """ICC(2,1) over the items (columns) every rater (row) labels; None under 2 such items."""
    y = data[:, np.isfinite(data).all(axis=0)].T  # (items, raters)
    n, k = y.shape
    if n < 2 or k < 2:
        return None
    grand = y.mean()
    rows, cols = y.mean(axis=1), y.mean(axis=0)
    msr = k * ((rows - grand) ** 2).sum() / (n - 1)
    msc = n * ((cols - grand) ** 2).sum() / (k - 1)
    mse = ((y - rows[:, None] - cols[None, :] + grand) ** 2).sum() / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    return None if denominator <= 0 else float((msr - mse) / denominator)


@dataclass(frozen=True)
class NumberAgreement:
    """How far number layers agree (see the module doc)."""

    annotators: list[str]
    n_items: int
    n_items_with_2plus_labels: int
    alpha: float | None
    icc: float | None
    tolerance: float
    pairs: list[dict[str, Any]]
    reference: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "number",
            "annotators": self.annotators,
            "n_items": self.n_items,
            "n_items_with_2plus_labels": self.n_items_with_2plus_labels,
            "krippendorff_alpha_interval": self.alpha,
            "icc_2_1": self.icc,
            "tolerance": self.tolerance,
            "pairs": self.pairs,
            "reference": None if self.reference is None else self.reference["name"],
            "against_reference": None if self.reference is None else self.reference["layers"],
        }


def _pair(a: np.ndarray, b: np.ndarray, tol: float) -> dict[str, Any]:
    both = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(a[both] - b[both])
    return {
        "n_items": int(both.sum()),
        "alpha": interval_alpha(np.vstack([a, b])[:, both]) if both.sum() >= 2 else None,
        "mean_abs_difference": float(diff.mean()) if len(diff) else None,
        "share_within_tolerance": float((diff <= tol).mean()) if len(diff) else None,
    }


def number_agreement(table: ValueTable, *, reference: Any = None) -> NumberAgreement:
    """Agreement of the table's layers; ``reference`` (a one-layer table, or a consensus
    method: each layer against that consensus of the OTHER layers) adds each layer's mean
    absolute difference and alpha against it."""
    data = matrix(table)
    tol = tolerance_of(table, data)
    pairs = [
        {"a": table.layers[i], "b": table.layers[j], **_pair(data[i], data[j], tol)}
        for i in range(len(table.layers))
        for j in range(i + 1, len(table.layers))
    ]
    ref: dict[str, Any] | None = None
    if reference is not None:
        ref = {"name": str(getattr(reference, "layers", [reference])[0]), "layers": {}}
        for i, name in enumerate(table.layers):
            if isinstance(reference, ValueTable):
                other = matrix(_aligned(reference, table.item_ids))[0]
            else:
                rest = np.delete(data, i, axis=0)
                other = _combine_columns(rest, str(reference))[0] if len(rest) else rest
            ref["layers"][name] = _pair(data[i], other, tol)
    return NumberAgreement(
        annotators=list(table.layers),
        n_items=len(table.item_ids),
        n_items_with_2plus_labels=int((np.isfinite(data).sum(axis=0) >= 2).sum()),
        alpha=interval_alpha(data),
        icc=icc21(data),
        tolerance=tol,
        pairs=pairs,
        reference=ref,
    )


def _aligned(table: ValueTable, item_ids: Sequence[int]) -> ValueTable:
    name = table.layers[0]
    wanted = set(item_ids)
    kept = {i: v for i, v in table.values[name].items() if i in wanted}
    return ValueTable(table.kind, list(item_ids), [name], {name: kept})


def _combine_columns(data: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(value, spread) per column of (layers, items) ``data`` by ``method``; nan where no
    layer has a value."""
    from scipy.stats import median_abs_deviation, trim_mean

    if method not in CONSENSUS_METHODS:
        raise InvalidParameter(
            f"Unknown consensus method {method!r} for number layers; use one of "
            f"{', '.join(CONSENSUS_METHODS)}."
        )
    n = data.shape[1]
    value, spread = np.full(n, np.nan), np.full(n, np.nan)
    for j in range(n):
        col = data[:, j][np.isfinite(data[:, j])]
        if not len(col):
            continue
        if method == "median":
            value[j], spread[j] = np.median(col), median_abs_deviation(col)
        elif method == "mean":
            value[j], spread[j] = col.mean(), col.std()
        else:
            value[j], spread[j] = trim_mean(col, TRIM), median_abs_deviation(col)
    return value, spread


@dataclass(frozen=True)
class NumberConsensus:
    """One value per item with its spread and confidence (a :class:`Combined`)."""

    method: str
    layers: tuple[str, ...]
    values: dict[int, float]
    spreads: dict[int, float]
    confidences: dict[int, float]
    tolerance: float
    annotator_quality: dict[str, float | None]

    def summary(self) -> dict[str, Any]:
        conf = list(self.confidences.values())
        return {
            "kind": "number",
            "method": self.method,
            "layers": list(self.layers),
            "n_items": len(self.values),
            "mean_confidence": float(np.mean(conf)) if conf else None,
            "low_confidence_threshold": LOW_CONFIDENCE,
            "n_low_confidence": sum(1 for c in conf if c < LOW_CONFIDENCE),
            "annotator_quality": self.annotator_quality,
            "tolerance": self.tolerance,
            "mean_spread": float(np.mean(list(self.spreads.values()))) if conf else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "items": [
                {"item_id": i, "value": v, "spread": self.spreads[i],
                 "confidence": self.confidences[i]}
                for i, v in self.values.items()
            ],
        }  # fmt: skip


def _confidence(spread: float, count: int, tol: float) -> float:
    if count < 2:
        return 0.5
    if spread <= 0:
        return 1.0
    return 0.0 if tol <= 0 else 1.0 / (1.0 + spread / tol)


def combine_numbers(table: ValueTable, method: str) -> NumberConsensus:
    """The consensus of the table's layers by ``method`` (see the module doc); each layer's
    quality is ``1 / (1 + MAD / tolerance)`` of its values against the consensus."""
    data = matrix(table)
    value, spread = _combine_columns(data, method)
    tol = tolerance_of(table, data)
    counts = np.isfinite(data).sum(axis=0)
    keep = np.isfinite(value)
    quality: dict[str, float | None] = {}
    for i, name in enumerate(table.layers):
        both = np.isfinite(data[i]) & keep & (counts >= 2)
        if not both.any():
            quality[name] = None
            continue
        mad = float(np.abs(data[i][both] - value[both]).mean())
        quality[name] = 1.0 if mad == 0 else (0.0 if tol <= 0 else 1.0 / (1.0 + mad / tol))
    ids = [int(i) for i, k in zip(table.item_ids, keep, strict=True) if k]
    pos = np.flatnonzero(keep)
    return NumberConsensus(
        method=method,
        layers=tuple(table.layers),
        values={i: float(value[p]) for i, p in zip(ids, pos, strict=True)},
        spreads={i: float(spread[p]) for i, p in zip(ids, pos, strict=True)},
        confidences={
            i: _confidence(float(spread[p]), int(counts[p]), tol)
            for i, p in zip(ids, pos, strict=True)
        },
        tolerance=tol,
        annotator_quality=quality,
    )


def number_disagreements(table: ValueTable) -> Iterator[Disagreement]:
    """Items two or more layers label with values further apart than the tolerance; the
    evidence names the kind, each layer's value, the median, the spread and the tolerance."""
    data = matrix(table)
    tol = tolerance_of(table, data)
    for j, item_id in enumerate(table.item_ids):
        col = data[:, j]
        have = np.isfinite(col)
        if have.sum() < 2:
            continue
        given = col[have]
        spread = float(given.max() - given.min())
        if spread <= tol:
            continue
        median = float(np.median(given))
        labels: dict[str, Any] = {
            name: float(col[i]) for i, name in enumerate(table.layers) if have[i]
        }
        yield Disagreement(
            int(item_id),
            tol / spread,  # < 1; the wider the values spread, the more contested
            median,
            labels,
            evidence=number_evidence(labels, median, tol),
        )


def number_evidence(labels: Mapping[str, float], median: float, tol: float) -> dict[str, Any]:
    """A number disagreement's evidence: what every face draws on a number line."""
    values = list(labels.values())
    return {
        "value_kind": "number",
        "number_layers": list(labels),
        "values": dict(labels),
        "median": median,
        "spread": float(max(values) - min(values)),
        "tolerance": tol,
        "summary": (
            f"values {', '.join(f'{k} {v:g}' for k, v in labels.items())} differ by "
            f"{max(values) - min(values):g} (tolerance {tol:g})"
        ),
    }
