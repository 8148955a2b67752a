"""The base of every long operation's spec: one pydantic model per operation (train,
cross-validate, consensus, scans, suggest, map, import) holds its parameters' names,
defaults, bounds, allowed values and docs, once.

Each spec lives in the library package of its capability (``assay.models.specs``,
``assay.labels.combine``...). The library entry points take it (or keywords that build it),
the job kinds use it as their parameters, the CLI builds it from its options and the web API
takes it as a request body, so a default or a bound is written in one place and every face
refuses the same bad value with the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay.errors import InvalidParameter

__all__ = ["FILTER", "SEED", "LayerName", "LayerNames", "Spec", "first_problem"]

# Types and fields shared by several specs.
LayerName = Annotated[str, Field(min_length=1, max_length=200)]
LayerNames = Annotated[list[LayerName], Field(max_length=50)]
FILTER = Field(None, max_length=2000, description="Only the items this filter selects.")
SEED = Field(0, ge=0, le=2**31, description="Random seed.")


class Spec(BaseModel):
    """The parameters of one long operation (unknown names are refused)."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def of(
        cls,
        spec: Self | None = None,
        /,
        *,
        context: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Self:
        """``spec`` as is, or the spec ``options`` build (over ``spec``'s values when both are
        given), validated: InvalidParameter naming the first bad parameter otherwise."""
        if spec is not None and not isinstance(spec, cls):
            raise TypeError(
                f"Give a {cls.__name__} or its fields as keywords (e.g. name=...), "
                f"not {type(spec).__name__} {spec!r}."
            )
        if spec is not None and not options:
            return spec
        values = {**(dict(spec) if spec is not None else {}), **options}
        try:
            return cls.model_validate(values, context=dict(context or {}))
        except ValidationError as exc:
            where, message = first_problem(exc)
            raise InvalidParameter(f"Parameter {where!r}: {message}.") from None

    @classmethod
    def default(cls, field: str) -> Any:
        """The default of ``field`` (for a face that must show it, e.g. a CLI option)."""
        return cls.model_fields[field].get_default(call_default_factory=True)


def first_problem(exc: ValidationError) -> tuple[str, str]:
    """The first error of a validation: (the field's dotted name, the message in words)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "params"
    message = first["msg"].removeprefix("Value error, ")  # a validator's own words
    return where, message.rstrip(".")
