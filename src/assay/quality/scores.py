"""How a label quality or a case's score is shown, the same on every face (the predictions
page, the review page, ``assay issues`` and ``assay review list``).

A likely wrong label has a quality close to 0 (cleanlab's self-confidence is the model's
probability of the given label): 2 decimals show ``0.00`` (or a score ``1.00``) for nearly
every case. Three significant digits, and digits enough near 1, tell them apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_DECIMALS = 12


def format_quality(value: float | None) -> str:
    """A value in [0, 1] with 3 significant digits of its distance to the nearer end:
    ``2.35e-05``, ``0.0123``, ``0.500``, ``0.99987``; ``—`` for none."""
    if value is None or not math.isfinite(value):
        return "—"
    v = float(value)
    if v <= 0.0 or v >= 1.0:
        return f"{v:g}"
    if v < 1e-3:
        return f"{v:.2e}"
    near = min(v, 1.0 - v)
    decimals = min(MAX_DECIMALS, 2 - math.floor(math.log10(near)))
    return f"{v:.{decimals}f}"


def format_score(row: Mapping[str, Any]) -> str:
    """What a label-issue row or a review case shows as its score: ``label quality 2.35e-05``
    when its label quality is known (the lower, the likelier the label is wrong), else its
    ``score`` (a case's urgency, higher first); empty without either."""
    evidence = row.get("evidence")
    quality = row.get("quality")
    if quality is None and isinstance(evidence, Mapping):
        quality = evidence.get("quality")
    if quality is not None:
        return f"label quality {format_quality(quality)}"
    if row.get("score") is not None:
        return f"score {format_quality(row['score'])}"
    return ""
