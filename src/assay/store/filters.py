"""A small, allow-listed filter language for slices of a dataset.

``split=train``, ``kind=image``, ``key=img_7``, ``import=2`` (items first added by import 2),
``label=3`` (current label in the default
layer), ``label[alice]=cat`` (in layer ``alice``), ``label=none`` (unlabeled there),
``meta.source=web``, ``field.age>=30``, ``confidence[layer]<0.6`` (how sure the current label
of that layer is: consensus quality, model probability), ``case=mislabel`` (an open review
case of that reason; ``case=any`` for any reason), ``selection=7`` (the items of a saved
selection, such as a lasso on the embedding map), ``issue[run]=label`` (flagged as likely
mislabeled by the label-issue search of model run ``run``; ``duplicate`` for its
near-duplicates), ``tag[topics]=sports`` (the current tag set of tags layer ``topics`` holds
``sports``; ``!=``: it does not), ``tag[topics]=none`` (looked at, no tag applies),
``value[rating]>=4`` (the current value of number layer ``rating``; ``value[rating]=none``: no
value); join conditions with ``,`` or `` and ``.
Only these fields and the operators ``= != < <= > >=`` exist: nothing the user types reaches SQL as
anything but a bound value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import InvalidParameter
from assay.store import queries
from assay.store import schema as t
from assay.store.vocabulary import ACTIVE_CASE_STATES, CASE_REASONS

DEFAULT_LAYER = "ground_truth"
# Fields whose argument names a layer they read (without one: DEFAULT_LAYER), with what they
# read of it. An access check covers every one (assay.access.Viewer.check_filter).
LAYER_FIELDS = {"label": "labels", "confidence": "confidence", "tag": "tags", "value": "values"}
_CLAUSE = re.compile(
    r"^\s*(?P<field>[A-Za-z_]\w*(?:\.[^\s=!<>]+|\[[^\]]+\])?)\s*"
    r"(?P<op>!=|<=|>=|=|<|>)\s*(?P<value>.*?)\s*$"
)
_DIGITS = re.compile(r"[0-9]{1,100}")
_SPLIT = re.compile(r"\s*,\s*|\s+and\s+", re.IGNORECASE)
_OPS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_COLUMNS = {
    "split": t.items.c.split,
    "kind": t.items.c.kind,
    "key": t.items.c.external_key,
    "import": t.items.c.import_id,
}
_NONE = ("", "none", "null")
_FIELDS = ("label", "meta", "field", "confidence", "case", "selection", "issue", "tag", "value")
# Up to this many labels in a confidence range, a confidence filter lists their items.
FEW_CONFIDENT = 20_000
HELP = (
    "Filters look like 'split=train', 'kind=image', 'key=x', 'import=2', 'label=cat', "
    "'label[layer]=cat', "
    "'label=none', 'meta.NAME=value', 'field.NAME>=3', 'confidence[layer]<0.6', "
    "'case=mislabel' (or case=any), 'selection=ID', 'issue[run]=label', "
    "'tag[layer]=name' (or =none), 'value[layer]>=4' (or =none), "
    "joined with ',' or ' and '."
)
ISSUE_KINDS = ("label", "duplicate")


@dataclass(frozen=True)
class Clause:
    """One parsed condition: field, optional argument (layer or key), operator and value."""

    field: str
    arg: str | None
    op: str
    value: str


def parse(text: str) -> list[Clause]:
    """Parse a filter string into clauses, or raise InvalidParameter naming the bad part."""
    clauses = []
    for part in _SPLIT.split(text.strip()):
        if not part:
            continue
        m = _CLAUSE.match(part)
        if m is None:
            raise InvalidParameter(f"Cannot read the filter {part!r}. {HELP}")
        field, op, value = m["field"], m["op"], m["value"]
        arg = None
        if "[" in field:
            field, arg = field[:-1].split("[", 1)
        elif "." in field:
            field, arg = field.split(".", 1)
        if field not in (*_COLUMNS, *_FIELDS):
            raise InvalidParameter(f"Unknown filter field {field!r} in {part!r}. {HELP}")
        clauses.append(Clause(field, arg, op, value.strip("'\"")))
    return clauses


def layers_read(text: str | None) -> list[tuple[str, str]]:
    """(layer, what is read of it) for every clause of the filter that reads a layer."""
    if not text or not text.strip():
        return []
    read = [c for c in parse(text) if c.field in LAYER_FIELDS]
    return [(c.arg or DEFAULT_LAYER, LAYER_FIELDS[c.field]) for c in read]


def reads_issues(text: str | None) -> bool:
    """Whether the filter reads a label-issue search (``issue[run]=...``)."""
    return bool(text and text.strip()) and any(c.field == "issue" for c in parse(str(text)))


def compile_filter(
    conn: Connection, dataset_id: int, text: str | None
) -> sa.ColumnElement[bool] | None:
    """Turn a filter string into a WHERE condition on ``items`` (None for no filter)."""
    if not text or not text.strip():
        return None
    # Cheapest first: SQLite tests a page's conditions in the order given and stops at the
    # first that fails, so an item's own columns and one-probe conditions go before those
    # that read a label's JSON. The same rows match in any order.
    clauses = sorted(parse(text), key=_cost)
    conditions = [_compile(conn, dataset_id, c) for c in clauses]
    return sa.and_(*conditions) if conditions else None


def count_driver(
    conn: Connection, dataset_id: int, text: str | None
) -> tuple[sa.Subquery | None, sa.ColumnElement[bool] | None]:
    """For a count of the filter's items: the item ids (``item_id``) one indexed condition of
    it selects, to scan instead of every item of the dataset, and the condition the rest of
    the filter makes (or ``(None, the whole filter)`` when no condition has an index).

    A filter's items are those of each of its conditions; a count that scans the index of one
    (``head_tags`` for ``tag[L]=name``, ``label_heads`` for ``label[L]=class`` and
    ``value[L]`` comparisons) and tests the others on those finds the same items without
    reaching the ones that condition leaves out. What this saves: a conjunction of common
    conditions (``tag[topics]=t3, value[rating]=5``, 1 item in 27) counted to 10,000 probed
    270,000 items, and now 53,000 index entries of the tag. An equality drives before a
    range; ``tag[L]=none`` scans the layer's heads (a superset) and keeps its own test."""
    if not text or not text.strip():
        return None, None
    clauses = sorted(parse(text), key=_cost)
    compiled = [_compile(conn, dataset_id, c) for c in clauses]  # every condition checked
    ranked = sorted(
        (k for k, c in enumerate(clauses) if _may_drive(c)),
        key=lambda k: (clauses[k].value.lower() in _NONE, clauses[k].op != "="),
    )
    for k in ranked:
        found = _driver(conn, dataset_id, clauses[k])
        if found is not None:
            exact = clauses[k].value.lower() not in _NONE  # else the driver is a superset
            rest = [w for j, w in enumerate(compiled) if j != k or not exact]
            return found.subquery("driver"), sa.and_(*rest) if rest else None
    return None, sa.and_(*compiled) if compiled else None


def _may_drive(c: Clause) -> bool:
    """Whether the index of ``c``'s items is one :func:`_driver` reads."""
    if c.field in ("tag", "label"):
        return c.op == "=" and (c.field == "tag" or c.value.lower() not in _NONE)
    return c.field == "value" and c.op != "!=" and _number(c.value) is not None


def _driver(conn: Connection, ds: int, c: Clause) -> sa.Select[Any] | None:
    """The item ids ``c`` selects from one index (with ``tag[L]=none``: those of every head
    of the layer), or None when it has none."""
    heads = t.label_heads.c
    if c.field == "tag":
        layer = _layer_of(conn, ds, c, "tags")
        if c.value.lower() in _NONE:
            return sa.select(heads.item_id).where(heads.layer_id == layer.id)
        tags = t.head_tags.c
        cls = queries.get_class(conn, ds, c.value)
        return sa.select(tags.item_id).where(tags.layer_id == layer.id, tags.class_id == cls.id)
    if c.field == "value":
        layer = _layer_of(conn, ds, c, "number")
        number = _number(c.value)
        if number is None:
            return None
        return sa.select(heads.item_id).where(
            heads.layer_id == layer.id,
            heads.number.is_not(None),
            _OPS[c.op](heads.number, number),
        )
    if c.field == "label" and c.op == "=":
        layer = queries.get_layer(conn, ds, c.arg or DEFAULT_LAYER)
        if layer.value_kind in VALUE_KINDS:
            return None
        cls = queries.get_class(conn, ds, c.value)
        return sa.select(heads.item_id).where(heads.layer_id == layer.id, heads.class_id == cls.id)
    return None


def _cost(c: Clause) -> int:
    """The relative cost per item of a condition: 0 the item's own row, 1 one index probe,
    2 a label read too (``tag[L]=none``, ``label[L]=none`` of a layer of values)."""
    if c.field in (*_COLUMNS, "meta", "field"):
        return 0
    if c.field in ("tag", "label") and c.value.lower() in _NONE:
        return 2
    return 1


def _compile(conn: Connection, ds: int, c: Clause) -> sa.ColumnElement[bool]:
    if c.field == "import":
        number = _whole(c, "an import number")
        return _OPS[c.op](t.items.c.import_id, number)  # type: ignore[no-any-return]
    if c.field in _COLUMNS:
        return _compare(_COLUMNS[c.field], c)
    if c.field == "label":
        return _label(conn, ds, c)
    if c.field == "confidence":
        return _confidence(conn, ds, c)
    if c.field == "case":
        return _case(c)
    if c.field == "selection":
        return _selection(conn, ds, c)
    if c.field == "issue":
        return _issue(conn, ds, c)
    if c.field == "tag":
        return _tag(conn, ds, c)
    if c.field == "value":
        return _value(conn, ds, c)
    if not c.arg:
        raise InvalidParameter(f"Say which {c.field} to filter on, e.g. '{c.field}.NAME=value'.")
    column = t.items.c.meta if c.field == "meta" else t.items.c.fields
    return _compare(column[c.arg], c, json=True)


def _compare(column: Any, c: Clause, json: bool = False) -> sa.ColumnElement[bool]:
    number = _number(c.value)
    if c.op in ("=", "!=") and c.value.lower() in _NONE:
        if json:  # a JSON null and a missing key both read as SQL NULL through as_string()
            column = column.as_string()
        return column.is_(None) if c.op == "=" else column.is_not(None)
    if json:
        column = column.as_float() if number is not None else column.as_string()
        value: Any = number if number is not None else c.value
    else:
        value = c.value
    if c.op not in ("=", "!=") and number is None and json:
        raise InvalidParameter(f"'{c.field}.{c.arg}{c.op}{c.value}' needs a number to compare.")
    return _OPS[c.op](column, value)  # type: ignore[no-any-return]


def _label(conn: Connection, ds: int, c: Clause) -> sa.ColumnElement[bool]:
    if c.op not in ("=", "!="):
        raise InvalidParameter(f"Labels compare with '=' or '!=', not {c.op!r}.")
    layer = queries.get_layer(conn, ds, c.arg or DEFAULT_LAYER)
    if layer.value_kind in VALUE_KINDS:
        return _value_label(conn, ds, c, layer)
    heads = t.label_heads.alias().c  # its own alias: the outer query may use label_heads too
    # Correlated EXISTS: one primary-key probe of label_heads per item scanned. (SQLite
    # would materialize an IN (subquery) of every item of the class for each page.)
    head = (
        sa.exists()
        .where(heads.layer_id == layer.id, heads.item_id == t.items.c.id)
        .correlate(t.items)
    )
    if c.value.lower() in _NONE:
        labeled = head.where(heads.class_id.is_not(None))
        return ~labeled if c.op == "=" else labeled
    cls = queries.get_class(conn, ds, c.value)
    of_class = head.where(heads.class_id == cls.id)
    return of_class if c.op == "=" else ~of_class


def _confidence(conn: Connection, ds: int, c: Clause) -> sa.ColumnElement[bool]:
    number = _number(c.value)
    if number is None or c.op in ("=", "!="):
        raise InvalidParameter(
            "Confidence compares with < <= > >= and a number, "
            f"e.g. 'confidence[{c.arg or DEFAULT_LAYER}]<0.6'."
        )
    layer = queries.get_layer(conn, ds, c.arg or DEFAULT_LAYER)
    heads = t.label_heads.alias().c
    labels = t.labels.alias().c
    _check_confidences(conn, ds, layer, c)
    # Few labels in range ("confidence below 0.25" of a good model): list their items from the
    # index on (layer, confidence) instead of probing every item, which at 1,000,000 items
    # takes seconds to fill a page. Many: probe each item, which fills a page at once.
    in_range = sa.and_(
        labels.layer_id == layer.id,
        labels.confidence.is_not(None),
        _OPS[c.op](labels.confidence, number),
    )
    some = sa.select(labels.id).where(in_range).limit(FEW_CONFIDENT + 1).subquery()
    if conn.execute(sa.select(sa.func.count()).select_from(some)).scalar_one() <= FEW_CONFIDENT:
        current = (
            sa.select(labels.item_id)
            .where(
                in_range,
                heads.layer_id == labels.layer_id,
                heads.item_id == labels.item_id,
                heads.label_id == labels.id,
                heads.class_id.is_not(None),
            )
            .correlate(None)
        )
        return t.items.c.id.in_(current)
    return (
        sa.exists()
        .where(
            heads.layer_id == layer.id,
            heads.item_id == t.items.c.id,
            heads.class_id.is_not(None),
            labels.id == heads.label_id,
            _OPS[c.op](labels.confidence, number),
        )
        .correlate(t.items)
    )


def _check_confidences(conn: Connection, ds: int, layer: Any, c: Clause) -> None:
    """Refuse a confidence condition on a layer none of whose labels has a confidence (people's
    and imported labels carry none): it would silently match nothing. The message names what
    to choose instead, the model layers. (One probe of ``ix_labels_layer_confidence``.)"""
    labels = t.labels.c
    found = conn.execute(
        sa.select(labels.id)
        .where(labels.layer_id == layer.id, labels.confidence.is_not(None))
        .limit(1)
    ).first()
    if found is not None:
        return
    models = [r.name for r in queries.list_layers(conn, ds) if r.kind == "model"]
    choose = (
        f"choose a model, e.g. 'confidence[{models[0]}]{c.op}{c.value}' (model layers: "
        f"{', '.join(models)})"
        if models
        else "this dataset has no model yet: cross-validate one first (`assay predict --cv 5`)"
    )
    said = "No model chosen: " if c.arg is None else ""
    raise InvalidParameter(
        f"{said}'confidence' reads layer {layer.name!r}, whose labels carry no confidence, so "
        f"'{c.field}{'[' + c.arg + ']' if c.arg else ''}{c.op}{c.value}' would match nothing; "
        f"{choose}."
    )


def _case(c: Clause) -> sa.ColumnElement[bool]:
    if c.op not in ("=", "!="):
        raise InvalidParameter(f"'case' compares with '=' or '!=', not {c.op!r}.")
    if c.value != "any" and c.value not in CASE_REASONS:
        raise InvalidParameter(
            f"Unknown review case reason {c.value!r}: use any or one of {', '.join(CASE_REASONS)}."
        )
    cases = t.review_cases.alias().c
    # OR of equalities, not IN: an IN list is an "expanding" parameter that only
    # SQLAlchemy's own execution renders, and statistics run the compiled SQL on the driver.
    active = sa.or_(*(cases.state == state for state in ACTIVE_CASE_STATES))
    open_case = sa.exists().where(cases.item_id == t.items.c.id, active).correlate(t.items)
    if c.value != "any":
        open_case = open_case.where(cases.reason == c.value)
    return open_case if c.op == "=" else ~open_case


def _selection(conn: Connection, ds: int, c: Clause) -> sa.ColumnElement[bool]:
    if c.op != "=":
        raise InvalidParameter(f"'selection' takes '=' and a selection number, not {c.op!r}.")
    number = _whole(c, "a selection number")
    found = conn.execute(
        sa.select(t.selections.c.id).where(
            t.selections.c.id == number, t.selections.c.dataset_id == ds
        )
    ).first()
    if found is None:
        raise InvalidParameter(f"There is no selection {number} in this dataset.")
    sel = t.selection_items.alias().c
    return (
        sa.exists()
        .where(sel.selection_id == number, sel.item_id == t.items.c.id)
        .correlate(t.items)
    )


def _issue(conn: Connection, ds: int, c: Clause) -> sa.ColumnElement[bool]:
    if c.op not in ("=", "!=") or c.value not in ISSUE_KINDS or not c.arg:
        raise InvalidParameter(
            f"Filter on a label-issue search with 'issue[RUN]=label' (or =duplicate, or !=), "
            f"naming the model run it used; got {c.field}[{c.arg or ''}]{c.op}{c.value}."
        )
    r = t.model_runs.c
    run_id = conn.execute(sa.select(r.id).where(r.dataset_id == ds, r.name == c.arg)).scalar()
    if run_id is None:
        raise InvalidParameter(f"There is no model run {c.arg!r} in this dataset.")
    lq = t.label_quality.alias().c
    flagged = lq.is_issue.is_(True) if c.value == "label" else lq.duplicate_of.is_not(None)
    found = (
        sa.exists()
        .where(lq.run_id == run_id, lq.item_id == t.items.c.id, flagged)
        .correlate(t.items)
    )
    return found if c.op == "=" else ~found


# Kinds whose label is a JSON value (labels.value) rather than a class in the label head.
VALUE_KINDS = ("tags", "number", "spans")


def _current_value(layer_id: int, condition: Callable[[Any], sa.ColumnElement[bool]]) -> sa.Exists:
    """EXISTS a current label of the layer for the item whose value meets ``condition`` (given
    the value column): one primary-key probe of label_heads, one of labels, per item."""
    heads = t.label_heads.alias().c
    labels = t.labels.alias().c
    return (
        sa.exists()
        .where(
            heads.layer_id == layer_id,
            heads.item_id == t.items.c.id,
            labels.id == heads.label_id,
            labels.value.is_not(None),
            condition(labels.value),
        )
        .correlate(t.items)
    )


def _value_label(conn: Connection, ds: int, c: Clause, layer: Any) -> sa.ColumnElement[bool]:
    """``label[L]=none`` / ``!=none`` on a layer of values (tags, numbers, spans, boxes):
    whether the item has a value there; other values are compared with the kind's field."""
    del conn, ds
    if c.value.lower() not in _NONE:
        field = {"tags": "tag", "number": "value"}.get(layer.value_kind)
        example = f" e.g. '{field}[{layer.name}]{c.op}{c.value}'" if field else ""
        raise InvalidParameter(
            f"Layer {layer.name!r} holds {layer.value_kind} values, not classes: 'label' only "
            f"says whether an item has one ('label[{layer.name}]=none'); compare the values "
            f"with their own field,{example or ' none exists for this kind yet'}."
        )
    labeled = _current_value(layer.id, lambda v: sa.true())
    return ~labeled if c.op == "=" else labeled


def _layer_of(conn: Connection, ds: int, c: Clause, kind: str) -> Any:
    if not c.arg:
        raise InvalidParameter(f"Say which {kind} layer '{c.field}' reads: '{c.field}[LAYER]...'.")
    layer = queries.get_layer(conn, ds, c.arg)
    if layer.value_kind != kind:
        raise InvalidParameter(
            f"'{c.field}[{c.arg}]' reads a {kind} layer; {c.arg!r} holds {layer.value_kind} labels."
        )
    return layer


def _tag(conn: Connection, ds: int, c: Clause) -> sa.ColumnElement[bool]:
    """``tag[L]=name`` (the current tag set holds the tag; ``!=``: it does not, unlabeled
    items included), ``tag[L]=none`` (looked at, no tag applies; ``!=none``: some tag).

    A tag, or any tag, is one probe of ``head_tags`` (the heads' current tags); "no tag"
    reads the label too, since a head without tags may be a cleared label (not looked at).
    No JSON is read: a JSON function over ``labels.value`` is also asked of other layers'
    labels by a planner that scans them all (PostgreSQL's json_array_length raised on a
    number)."""
    if c.op not in ("=", "!="):
        raise InvalidParameter(f"Tags compare with '=' or '!=', not {c.op!r}.")
    layer = _layer_of(conn, ds, c, "tags")
    tags = t.head_tags.alias().c
    tagged = (
        sa.exists()
        .where(tags.layer_id == layer.id, tags.item_id == t.items.c.id)
        .correlate(t.items)
    )
    if c.value.lower() in _NONE:
        if c.op == "!=":
            return tagged
        # Looked at (a current label with a value: not cleared) and no tag in it.
        return sa.and_(_current_value(layer.id, lambda v: sa.true()), ~tagged)
    cls = queries.get_class(conn, ds, c.value)  # an unknown tag: an error with a hint
    found = tagged.where(tags.class_id == cls.id)
    return found if c.op == "=" else ~found


def _value(conn: Connection, ds: int, c: Clause) -> sa.ColumnElement[bool]:
    """``value[L]>=4`` (the current value of a number layer; any of = != < <= > >=),
    ``value[L]=none`` (no value: not annotated or cleared; ``!=none``: has one).

    Reads the number the layer's head keeps (``label_heads.number``): one primary-key probe
    per item scanned, and no JSON read."""
    layer = _layer_of(conn, ds, c, "number")
    heads = t.label_heads.alias().c
    head = (
        sa.exists()
        .where(heads.layer_id == layer.id, heads.item_id == t.items.c.id)
        .correlate(t.items)
    )
    if c.value.lower() in _NONE:
        if c.op not in ("=", "!="):
            raise InvalidParameter(f"'none' compares with '=' or '!=', not {c.op!r}.")
        has = head.where(heads.number.is_not(None))
        return ~has if c.op == "=" else has
    number = _number(c.value)
    if number is None:
        raise InvalidParameter(
            f"'value[{c.arg}]{c.op}{c.value}' needs a number (or 'none') to compare."
        )
    # != : a value other than that (items without one are not "other")
    return head.where(_OPS[c.op](heads.number, number))  # type: ignore[no-any-return]


def _whole(c: Clause, what: str) -> int:
    """The clause's value as an id: ASCII digits of a number that fits an id column."""
    if not _DIGITS.fullmatch(c.value):
        raise InvalidParameter(f"'{c.field}' takes {what}, got {c.value!r}.")
    return queries.check_id(int(c.value), f"{c.field} number")


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None
