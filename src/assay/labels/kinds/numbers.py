"""Numbers: a value per item (regression targets, ratings, counts, ages, prices).

A label of a number layer is one number, kept as JSON in ``labels.value``. The layer's options
say what the numbers are: ``min`` and ``max`` (inclusive; a value outside is refused), ``unit``
(shown after the value), ``integer`` (whole numbers only: counts, ratings) and ``tolerance``
(how far two annotators' values may differ and still agree; see
:mod:`assay.labels.number_agreement`, which holds the agreement, consensus and disagreement
measures this kind answers with).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from assay.errors import InvalidParameter
from assay.labels.kinds import AnnotationKind, Disagreement, KindSchema

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from assay.labels.writes import LabelWrite

__all__ = ["Numbers", "number_value"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _option_number(options: Mapping[str, Any], key: str) -> float | None:
    value = options.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidParameter(f"Option {key!r} is a number, not {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"Option {key!r} is a number, not {value!r}.") from None
    if not math.isfinite(number):
        raise InvalidParameter(f"Option {key!r} must be a finite number, not {value!r}.")
    return number


def _fmt(x: float) -> str:
    return f"{x:g}"


def number_value(value: Any, options: Mapping[str, Any], where: str) -> float:
    """``value`` as it is kept (a float), or InvalidParameter naming ``where``, the value and
    the layer's range. The one rule for what a number label is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(f"{where}: a number label is a number, not {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidParameter(f"{where}: {value} is not a finite number.")
    lo, hi = options.get("min"), options.get("max")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        shown = f"[{'-inf' if lo is None else _fmt(lo)}, {'inf' if hi is None else _fmt(hi)}]"
        raise InvalidParameter(f"{where}: {_fmt(number)} is outside the layer's range {shown}.")
    if options.get("integer") and not number.is_integer():
        raise InvalidParameter(
            f"{where}: {_fmt(number)} is not a whole number (the layer holds whole numbers only)."
        )
    return number


class Numbers(AnnotationKind):
    """One number per item, within the layer's range."""

    name: ClassVar[str] = "number"
    agreement_measure: ClassVar[tuple[str, str] | None] = (
        "krippendorff_alpha_interval",
        "Krippendorff's alpha (interval)",
    )
    noun: ClassVar[str] = "number"
    example: ClassVar[str] = "4.5"
    json_type: ClassVar[type | tuple[type, ...]] = (int, float)
    quality_check: ClassVar[str | None] = "number"
    consensus_methods: ClassVar[tuple[str, ...]] = ("median", "mean", "trimmed-mean")

    def check_options(
        self, options: Mapping[str, Any], classes: Mapping[str, int]
    ) -> dict[str, Any]:
        """``min``, ``max`` (numbers, min < max), ``unit`` (up to 32 characters) and ``integer``
        (true/false); given as values or as the strings a form or the CLI sends."""
        del classes
        unknown = sorted(set(options) - {"min", "max", "unit", "integer", "tolerance"})
        if unknown:
            raise InvalidParameter(
                "Number layers take the options min, max, unit, integer and tolerance, not "
                f"{unknown[0]!r}."
            )
        kept: dict[str, Any] = {}
        for key in ("min", "max", "tolerance"):
            number = _option_number(options, key)
            if number is not None:
                kept[key] = number
        if kept.get("tolerance", 0) < 0:
            raise InvalidParameter("Option 'tolerance' is a difference: zero or more.")
        if "min" in kept and "max" in kept and kept["min"] >= kept["max"]:
            raise InvalidParameter(
                f"Option min ({_fmt(kept['min'])}) must be below max ({_fmt(kept['max'])})."
            )
        unit = options.get("unit")
        if unit not in (None, ""):
            if not isinstance(unit, str) or len(unit) > 32:
                raise InvalidParameter("Option 'unit' is a short text (up to 32 characters).")
            kept["unit"] = unit.strip()
        integer = options.get("integer")
        if isinstance(integer, str):
            if integer.strip().lower() not in _TRUE | _FALSE:
                raise InvalidParameter(f"Option 'integer' is true or false, not {integer!r}.")
            integer = integer.strip().lower() in _TRUE
        if integer:
            kept["integer"] = True
        return kept

    def validate(self, value: Any, schema: KindSchema, item_id: int) -> Any:
        return number_value(value, schema.options, f"Item {item_id}")

    #: ``accept`` on a disagreement takes the median of the annotators' values.
    accept_word: ClassVar[str] = "median"

    def decide(
        self, choice: str, values: Mapping[str, Any], layers: Sequence[str]
    ) -> tuple[Any, str]:
        """``accept``: the median of the layers' values now (what the scan measured the spread
        around; the most common of a few numbers is just the first one); a layer: its value;
        else a number as typed."""
        if choice == "accept":
            given = [float(values[name]) for name in layers if name in values]
            if given:
                return statistics.median(given), f"the median of {', '.join(layers)}"
        return super().decide(choice, values, layers)

    def decision_entry(
        self, options: Sequence[Mapping[str, Any]], classes: Sequence[str]
    ) -> dict[str, Any] | None:
        """A number of the reviewer's own, within the range of the layers at issue (the widest
        when they differ; whole numbers when every layer holds whole numbers)."""
        del classes

        def bound(key: str, pick: Any) -> float | None:
            found = [o.get(key) for o in options]
            if not found or any(v is None for v in found):
                return None
            return float(pick(found))

        units = {o.get("unit") for o in options}
        integer = bool(options) and all(o.get("integer") for o in options)
        return {
            "input": "number",
            "text": "a value of your own",
            "min": bound("min", min),
            "max": bound("max", max),
            "step": 1 if integer else "any",
            "unit": units.pop() if len(units) == 1 else None,
        }

    def accept(self, current: Any, evidence: Mapping[str, Any]) -> Any:
        """A label-quality case's suggestion: the model's predicted value (checked against the
        layer's range when it is written)."""
        if isinstance(evidence.get("predicted"), int | float):
            return float(evidence["predicted"])
        return super().accept(current, evidence)

    def parse(self, text: str) -> Any:
        try:
            return float(text.strip())
        except ValueError:
            raise InvalidParameter(
                f"{text!r} is not a number; write it like {self.example}."
            ) from None

    def show(self, value: Any) -> str:
        return "" if value is None else _fmt(float(value))

    def diff(self, a: Any, b: Any) -> str | None:
        if a == b:
            return None
        if a is None or b is None:
            return super().diff(a, b)
        change = float(b) - float(a)
        return f"{_fmt(float(a))} -> {_fmt(float(b))} ({'+' if change > 0 else ''}{_fmt(change)})"

    # -- several layers -----------------------------------------------------------------------
    def load(
        self, conn: Connection, dataset_id: int, layers: Sequence[Any], filter: str | None
    ) -> Any:
        """The values as a :class:`~assay.labels.number_agreement.NumberTable`: with each
        layer's options, which say how far values may differ."""
        from assay.labels.number_agreement import NumberTable

        base = super().load(conn, dataset_id, layers, filter)
        options = {r.name: dict(getattr(r, "options", None) or {}) for r in layers}
        return NumberTable(base.kind, base.item_ids, base.layers, base.values, options)

    def read(self, class_name: str | None, value: Any) -> Any:
        del class_name
        return None if value is None else float(value)

    def agreement(self, table: Any, *, reference: Any = None) -> Any:
        """Krippendorff's alpha (interval), ICC(2,1), per pair alpha and mean absolute
        difference (:func:`assay.labels.number_agreement.number_agreement`)."""
        from assay.labels.number_agreement import number_agreement

        return number_agreement(table, reference=reference)

    def disagreements(self, table: Any) -> Iterator[Disagreement]:
        """Items whose values differ by more than the tolerance
        (:func:`assay.labels.number_agreement.number_disagreements`)."""
        from assay.labels.number_agreement import number_disagreements

        return number_disagreements(table)

    def combine(self, table: Any, method: str, *, pred_probs: Any = None, seed: int = 0) -> Any:
        """Median, mean or trimmed mean per item with its spread
        (:func:`assay.labels.number_agreement.combine_numbers`)."""
        from assay.labels.number_agreement import combine_numbers

        del pred_probs, seed
        return combine_numbers(table, method)

    def consensus_writes(self, table: Any, result: Any) -> list[LabelWrite]:
        """The consensus value of each item, its confidence from the annotators' spread."""
        from assay.labels.writes import LabelWrite

        del table
        return [
            LabelWrite(item_id, value, confidence=result.confidences[item_id])
            for item_id, value in result.values.items()
        ]
