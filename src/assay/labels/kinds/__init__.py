"""Annotation kinds: what a label's value is, defined once per kind and looked up by name.

Every layer has a kind (``layers.value_kind``; ``classification`` unless it was made with
another). The kind is the one place that knows its values: how to check one against the
dataset's schema and turn it into what the store holds, how to read stored rows back, how to
compare the layers of several annotators (agreement), combine them (consensus), which
label-quality checks apply, and how to show a value and a change to a person. Writes, history,
agreement, consensus and label-quality searches ask the layer's kind; the faces print what the
kind says (``show``/``to_json``), so a new kind needs no change in the CLI or the web app.

A new kind subclasses :class:`AnnotationKind`, sets ``name``, and is made known with
:func:`register` (built-in kinds are registered below: ``classification``, ``boxes``, ``tags``,
``spans`` and ``number``). A kind whose values are not classes keeps them, as JSON, in
``labels.value``; the base class loads them into a :class:`ValueTable` for its ``agreement``
and ``combine``. A kind with a consensus names its ``consensus_methods``, returns a
:class:`Combined` from ``combine`` and says with ``consensus_writes`` which labels write it
into a consensus layer of the kind.

Import direction: this package imports the store and the label computations below it
(lazily where they are heavy); it never imports a capability. Label-quality checks stay in
:mod:`assay.quality.methods`: a kind names its family of checks as data (``quality_check``),
and quality looks the family up, so ``labels`` never imports ``quality``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, InvalidParameter
from assay.store import filters
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.labels.writes import LabelWrite

__all__ = [
    "DEFAULT_KIND",
    "KINDS",
    "AnnotationKind",
    "Combined",
    "Disagreement",
    "KindSchema",
    "Stored",
    "ValueTable",
    "consensus_methods",
    "get_kind",
    "kind_of_layers",
    "register",
]

DEFAULT_KIND = "classification"


@dataclass(frozen=True)
class KindSchema:
    """What a value is checked against: the dataset's label schema (class name -> id); for
    kinds that place values on the item, the items' sizes (boxes: item id -> (width, height)
    in pixels, either None when unknown) or texts (spans: item id -> its text, None when the
    item has none); and the layer's options (as :meth:`AnnotationKind.check_options` keeps
    them, e.g. a number's range)."""

    classes: dict[str, int]
    sizes: Mapping[int, tuple[int | None, int | None]] = field(default_factory=dict)
    texts: Mapping[int, str | None] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stored:
    """What one label row holds: a class id (class kinds) or a JSON value (other kinds)."""

    class_id: int | None = None
    value: Any = None


@dataclass(frozen=True)
class ValueTable:
    """Current values of several layers over the items any of them labels.

    ``values[layer][item_id]`` is the value (as the kind reads it) that ``layer`` gives the item;
    an item a layer does not label is absent from its dict. ``item_ids`` ascend.
    """

    kind: str
    item_ids: list[int]
    layers: list[str]
    values: dict[str, dict[int, Any]] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)


@dataclass(frozen=True)
class Disagreement:
    """An item the layers of a table do not all agree on (a case for the review scan)."""

    item_id: int
    agreement: float  # the share of the item's labels equal to the most common value, < 1
    majority: Any  # the most common value (the first layer's of the tied ones); None: none
    labels: dict[str, Any]  # layer -> its value as JSON
    evidence: dict[str, Any] | None = None  # more for the case's evidence (boxes at issue...)


class Combined(Protocol):
    """What a kind's :meth:`AnnotationKind.combine` returns (a consensus of several layers):
    the faces print its ``summary()`` and write it with :meth:`AnnotationKind.consensus_writes`.
    """

    @property
    def method(self) -> str: ...

    @property
    def layers(self) -> tuple[str, ...]: ...  # the layers combined

    def summary(self) -> dict[str, Any]:
        """``method``, ``layers``, ``n_items``, ``mean_confidence``, ``low_confidence_threshold``,
        ``n_low_confidence`` and ``annotator_quality`` (layer -> quality or None), as JSON."""
        ...

    def to_dict(self) -> dict[str, Any]: ...


class AnnotationKind:
    """What a label's value is. Subclass it, set ``name``, and :func:`register` an instance.

    The base class serves kinds whose values are JSON (numbers, tag sets, spans): override
    :meth:`validate`, and :meth:`agreement` / :meth:`combine` where the kind has them.
    """

    name: ClassVar[str] = ""
    #: What one value is called in messages ("class", "number").
    noun: ClassVar[str] = "value"
    #: The family of label-quality checks in :mod:`assay.quality.methods` for this kind, or
    #: None when there is none yet.
    quality_check: ClassVar[str | None] = None
    #: True when the kind keeps its values as a class (``labels.class_id``, which filters and
    #: class statistics read); False when it keeps them as JSON in ``labels.value``.
    stores_class: ClassVar[bool] = False
    #: The consensus methods :meth:`combine` accepts.
    consensus_methods: ClassVar[tuple[str, ...]] = ()
    #: References :meth:`agreement` knows besides consensus methods and layers (names no
    #: layer may take the place of), the first one the default; empty: the default is the
    #: first consensus method.
    agreement_references: ClassVar[tuple[str, ...]] = ()
    #: True when :meth:`validate` checks a value against its item's size
    #: (``KindSchema.sizes``, read by the write path for the items written).
    needs_item_size: ClassVar[bool] = False
    #: True when :meth:`validate` checks a value against its item's text (``KindSchema.texts``).
    needs_item_text: ClassVar[bool] = False
    #: True when a label's ``probs`` (one per class) are independent probabilities (tags:
    #: P(tag applies) each) rather than a distribution that sums to 1.
    independent_probs: ClassVar[bool] = False
    #: The one figure of agreement between annotators a floor can be set on (the data checks'
    #: ``agreement``): a dotted key of :meth:`agreement`'s report as JSON and what it is
    #: called; None: the kind has none.
    agreement_measure: ClassVar[tuple[str, str] | None] = None

    # -- layers -------------------------------------------------------------------------------
    def check_options(
        self, options: Mapping[str, Any], classes: Mapping[str, int]
    ) -> dict[str, Any]:
        """A layer's options as they are kept (``layers.options``), or InvalidParameter naming
        the option. The base class takes none; kinds with settings (a number's range, whether
        spans overlap) override it."""
        del classes
        if options:
            raise InvalidParameter(
                f"Layers of {self.name} labels take no options (given: {', '.join(options)})."
            )
        return {}

    # -- values -------------------------------------------------------------------------------
    def validate(self, value: Any, schema: KindSchema, item_id: int) -> Any:
        """``value`` as it is kept (JSON), or InvalidParameter naming the item. Not None."""
        del schema, item_id
        return value

    def store(self, value: Any, schema: KindSchema, item_id: int) -> Stored:
        """What a label row holds for ``value`` (checked by :meth:`validate`)."""
        return Stored(value=self.validate(value, schema, item_id))

    def parse(self, text: str) -> Any:
        """A value from what a person typed (the CLI's argument): JSON for the base class, e.g.
        a list of boxes; checked afterwards by :meth:`validate`."""
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter(
                f"A {self.name} label is written as JSON ({exc}); for example {self.example}."
            ) from None

    #: A value as a person would type it (messages).
    example: ClassVar[str] = "1.5"
    #: The JSON type of a value (list for sets of boxes, tags or spans), to tell a typed value
    #: from a word meant as something else (a class name where a box set is due).
    json_type: ClassVar[type | tuple[type, ...]] = object

    def read(self, class_name: str | None, value: Any) -> Any:
        """A value from a stored row (its class name and JSON value); None for no label."""
        del class_name
        return value

    def show(self, value: Any) -> str:
        """A value as a person reads it (the CLI's tables, the web pages)."""
        return "" if value is None else str(value)

    def to_json(self, value: Any) -> Any:
        """A value as plain JSON (the ``--json`` output, the API)."""
        return value

    def diff(self, a: Any, b: Any) -> str | None:
        """What changed from ``a`` to ``b`` in the kind's words (None: no change, or either is
        None: no label)."""
        if a == b:
            return None
        if a is None:
            return f"added {self.show(b)}"
        if b is None:
            return f"removed {self.show(a)}"
        return f"{self.show(a)} -> {self.show(b)}"

    # -- review decisions ---------------------------------------------------------------------
    def decide(
        self, choice: str, values: Mapping[str, Any], layers: Sequence[str]
    ) -> tuple[Any, str]:
        """What a reviewer's decision on a disagreement between ``layers`` writes, and what it
        is in words. ``choice``: one of the layers (its value now), ``accept`` (the value most
        of them give now; the first layer's among tied ones) or a value as a person types it
        (:meth:`parse`; checked when it is written). ``values``: the layers' current values (a
        layer without a label absent)."""
        if choice in layers:
            if choice not in values:
                raise InvalidParameter(
                    f"Layer {choice!r} has no label for this item now: choose another layer, "
                    f"accept, or write the {self.noun}, e.g. {self.example}."
                )
            return values[choice], f"the {self.noun} of {choice}"
        if choice == "accept":
            given = [values[name] for name in layers if name in values]
            if not given:
                raise InvalidParameter(
                    f"None of {', '.join(layers)} labels this item now: write the {self.noun}."
                )
            keys = [orjson.dumps(self.to_json(v), option=orjson.OPT_SORT_KEYS) for v in given]
            top = Counter(keys).most_common(1)[0][0]
            return given[keys.index(top)], f"the {self.noun} most of {', '.join(layers)} give"
        return self.parse(choice), f"a {self.noun} the reviewer wrote"

    #: What ``accept`` on a disagreement takes, in a word (the review page's choices).
    accept_word: ClassVar[str] = "majority"

    def brief(self, value: Any, limit: int = 60) -> str:
        """A value in a few words (a choice in the review page's decision list): :meth:`show`,
        cut to ``limit`` characters."""
        shown = self.show(value)
        return shown if len(shown) <= limit else shown[: limit - 1].rstrip(", ") + "…"

    def decision_choices(
        self, values: Mapping[str, Any], layers: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The decisions a reviewer may pick on a disagreement between ``layers`` (``values``
        as :meth:`decide` takes them): ``accept`` first, then each layer that has a value now;
        each ``{"choice", "text", "what", "value"}`` (``choice`` what :meth:`decide` takes,
        ``value`` as JSON). A choice :meth:`decide` refuses is left out."""
        out: list[dict[str, Any]] = []
        for choice in ("accept", *layers):
            try:
                value, what = self.decide(choice, values, layers)
            except InvalidParameter:
                continue
            word = self.accept_word if choice == "accept" else choice
            out.append(
                {
                    "choice": choice,
                    "text": f"{word}: {self.brief(value)}",
                    "what": what,
                    "value": self.to_json(value),
                }
            )
        return out

    def decision_entry(
        self, options: Sequence[Mapping[str, Any]], classes: Sequence[str]
    ) -> dict[str, Any] | None:
        """How a reviewer writes a value of their own on the review page, given the options
        of the layers the case is about and the dataset's classes: ``{"input": "set",
        "options": [...]}`` (pick any of the options), ``{"input": "number", "min", "max",
        "step", "unit"}``, or None (the base class: the value is edited on the item page)."""
        del options, classes
        return None

    def accept(self, current: Any, evidence: Mapping[str, Any]) -> Any:
        """What accepting a label-quality case's suggestion writes, given the item's value now
        in the layer at issue (``current``): the value the check suggested
        (``evidence["suggested_value"]``)."""
        del current
        if "suggested_value" not in evidence:
            raise InvalidParameter(
                f"This case suggests no {self.noun}: write the {self.noun} to keep instead."
            )
        return evidence["suggested_value"]

    # -- several layers -----------------------------------------------------------------------
    def load(
        self, conn: Connection, dataset_id: int, layers: Sequence[Any], filter: str | None
    ) -> Any:
        """The current values of ``layers`` (rows) for the items ``filter`` selects: the table
        :meth:`agreement` and :meth:`combine` take (the base class: a :class:`ValueTable`)."""
        h, lab = t.label_heads, t.labels
        name_of = {r.id: r.name for r in layers}
        query = (
            sa.select(h.c.item_id, h.c.layer_id, lab.c.value)
            .join(lab, lab.c.id == h.c.label_id)
            .where(h.c.layer_id.in_(list(name_of)), lab.c.value.is_not(None))
        )
        where = filters.compile_filter(conn, dataset_id, filter)
        if where is not None:
            query = query.join(t.items, t.items.c.id == h.c.item_id).where(where)
        values: dict[str, dict[int, Any]] = {r.name: {} for r in layers}
        for item_id, layer_id, value in conn.execute(query):
            values[name_of[layer_id]][int(item_id)] = self.read(None, value)
        items = sorted({i for per_layer in values.values() for i in per_layer})
        return ValueTable(self.name, items, [r.name for r in layers], values)

    def disagreements(self, table: Any) -> Iterator[Disagreement]:
        """The items of ``table`` that two or more layers label and not all alike, in item
        order (the base class: values that are equal as JSON agree)."""
        for item_id in table.item_ids:
            given = {
                name: self.to_json(table.values[name][item_id])
                for name in table.layers
                if item_id in table.values[name]
            }
            votes = Counter(orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for v in given.values())
            top, n = votes.most_common(1)[0] if votes else (b"", 0)
            if len(given) < 2 or n == len(given):
                continue
            majority = next(
                v for v in given.values() if orjson.dumps(v, option=orjson.OPT_SORT_KEYS) == top
            )
            yield Disagreement(item_id, n / len(given), majority, given)

    def agreement(self, table: Any, *, reference: Any = None) -> Any:
        """How far the layers of ``table`` agree; ``reference`` (a one-layer table of the same
        kind, or a consensus method) adds each layer's agreement with it. The result has
        ``to_dict()``."""
        raise InvalidParameter(f"There is no agreement measure for {self.name} layers yet.")

    def combine(
        self, table: Any, method: str, *, pred_probs: Any = None, seed: int = 0
    ) -> Combined:
        """One consensus value per item of ``table`` by ``method``, one of
        :attr:`consensus_methods` (``pred_probs``: a model's class probabilities per item of
        ``table``, given to kinds that store a class only)."""
        raise InvalidParameter(f"There is no consensus method for {self.name} layers yet.")

    def consensus_writes(self, table: Any, result: Any) -> list[LabelWrite]:
        """The labels that write ``result`` (of :meth:`combine` on ``table``) into a consensus
        layer of this kind: one per item that got a value."""
        raise InvalidParameter(f"There is no consensus method for {self.name} layers yet.")


KINDS: dict[str, AnnotationKind] = {}


def register(kind: AnnotationKind) -> AnnotationKind:
    """Make ``kind`` known under its name; Conflict if the name is taken."""
    if not kind.name or not kind.name.isidentifier():
        raise InvalidParameter("An annotation kind needs a name like 'classification'.")
    if kind.name in KINDS:
        raise Conflict(f"An annotation kind named {kind.name!r} is registered already.")
    KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> AnnotationKind:
    """The registered kind ``name``, or InvalidParameter listing the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise InvalidParameter(
            f"Unknown annotation kind {name!r}; use one of {', '.join(KINDS)}."
        ) from None


def consensus_methods() -> tuple[str, ...]:
    """The consensus methods of every registered kind, each once, in registration order
    (which of them a given set of layers accepts is up to the layers' kind)."""
    return tuple(dict.fromkeys(m for kind in KINDS.values() for m in kind.consensus_methods))


def kind_of_layers(layers: Sequence[Any]) -> AnnotationKind:
    """The one kind of ``layers`` (rows with ``name`` and ``value_kind``); InvalidParameter
    when they hold values of different kinds, which cannot be compared or combined."""
    kinds = {r.value_kind for r in layers}
    if len(kinds) > 1:
        listed = "; ".join(f"{r.name!r} holds {r.value_kind}" for r in layers)
        raise InvalidParameter(
            f"These layers hold labels of different kinds ({listed}); agreement and consensus "
            "compare layers of one kind only."
        )
    return get_kind(kinds.pop() if kinds else DEFAULT_KIND)


# The built-in kinds (imported here, after the base class they subclass is defined).
from assay.labels.kinds.boxes import Boxes  # noqa: E402
from assay.labels.kinds.classification import Classification  # noqa: E402
from assay.labels.kinds.numbers import Numbers  # noqa: E402
from assay.labels.kinds.spans import Spans  # noqa: E402
from assay.labels.kinds.tags import Tags  # noqa: E402

register(Classification())
register(Boxes())
register(Tags())
register(Spans())
register(Numbers())
