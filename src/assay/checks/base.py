"""The parts every data check shares: its typed parameters, the registry, what a run sees.

A check kind is a subclass of :class:`Check` registered with :func:`register`. It names its
parameters as a pydantic model (so a wrong type in the expectations file is refused with the
field's line), says which layers it applies to (``value_kinds``: the annotation kinds whose
layers it checks; an annotation kind contributes its own checks by registering one, see
``checks/boxes.py``...), proposes expectations from the data as it is (``infer``) and checks
one (``run``). Checks that need every row see them while the inventory scans
(``chunk``: a :class:`assay.stats.scan.ChunkAggregator`), the rest read the inventory's
aggregates, and name their failing items with a small targeted query only when they fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from assay.errors import Conflict
from assay.stats.scan import ChunkAggregator, InventoryAggregate
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle

ITEM_CAP = 20
"""The most failing items a result names (its ``n_items`` counts them all)."""

Status = Literal["pass", "fail", "skipped"]


class Params(BaseModel):
    """Parameters every expectation has: the check kind and an optional note for people."""

    model_config = ConfigDict(extra="forbid", strict=True)

    check: str
    note: str | None = None


class LayerParams(Params):
    """Parameters of a check about one layer."""

    layer: str


@dataclass
class Outcome:
    """What one check found: its status, a one-line message, and the items behind a failure."""

    status: Status
    message: str
    n_items: int = 0
    item_ids: list[int] = field(default_factory=list)

    @classmethod
    def passed(cls, message: str) -> Outcome:
        return cls("pass", message)

    @classmethod
    def skipped(cls, reason: str) -> Outcome:
        return cls("skipped", reason)

    @classmethod
    def failed(cls, message: str, n_items: int = 0, item_ids: Iterable[int] = ()) -> Outcome:
        return cls("fail", message, n_items, [int(i) for i in list(item_ids)[:ITEM_CAP]])


@dataclass
class Context:
    """What a check sees of the dataset: the handle, its layers and the inventory's state.

    ``state`` is the inventory aggregate of the whole dataset (one scan shared by every
    check); ``layers`` the layer rows by name; ``chunks`` each check kind's filled
    chunk aggregator (by check name), when it asked for one.
    """

    dataset: DatasetHandle
    layers: dict[str, Any]
    state: InventoryAggregate
    chunks: dict[str, ChunkAggregator] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return int(self.state.items.count)

    def read(self) -> Any:
        """A read transaction on the dataset's store (during a gated import: the import's
        own publishing transaction, which sees the rows it is about to publish)."""
        return self.dataset.store.read()

    def item_ids(self, query: sa.Select[Any]) -> tuple[int, list[int]]:
        """How many items ``query`` (selecting item ids, in the order to name them) finds,
        and the first :data:`ITEM_CAP` of them."""
        with self.read() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar()
            first = conn.execute(query.limit(ITEM_CAP)).scalars().all()
        return int(n or 0), [int(i) for i in first]

    def items_where(self, *conditions: Any) -> sa.Select[Any]:
        """The ids of this dataset's items meeting ``conditions``, in id order."""
        i = t.items.c
        return sa.select(i.id).where(i.dataset_id == self.dataset.id, *conditions).order_by(i.id)


class Check:
    """One kind of expectation. Subclasses set ``name``, ``params_model`` and implement ``run``."""

    name: ClassVar[str]
    params_model: ClassVar[type[Params]] = Params
    #: Which layers a layer check applies to, by their annotation kind; None: any layer.
    value_kinds: ClassVar[tuple[str, ...] | None] = None
    #: What the check reads, which decides who may see its result: ``items`` (fields,
    #: images, texts, content hashes: no label), ``layer`` (the labels of its own layer
    #: alone), ``labels`` (labels beyond its layer: other annotators', a search's). The
    #: safe default: a new check is hidden from blind annotators until someone decides.
    reads: ClassVar[str] = "labels"

    def infer(self, ctx: Context) -> list[dict[str, Any]]:
        """Expectations that hold on the data as it is (parameter dicts, without ``check``)."""
        return []

    def chunk(self, ctx: Context, expectations: Sequence[Params]) -> ChunkAggregator | None:
        """An aggregator to feed the inventory's chunks for these expectations, if needed."""
        return None

    def validate(self, ctx: Context, params: Params) -> tuple[str, str] | None:
        """A problem with ``params`` on this dataset beyond their types: (field, message)."""
        return None

    def run(self, ctx: Context, params: Any) -> Outcome:
        raise NotImplementedError


CHECKS: dict[str, Check] = {}


def register(cls: type[Check]) -> type[Check]:
    """Make a check kind known by its name (its ``check = "..."`` in expectations files)."""
    if cls.name in CHECKS:
        raise Conflict(f"A data check named {cls.name!r} is registered already.")
    CHECKS[cls.name] = cls()
    return cls


def share(n: int, total: int) -> float:
    return n / total if total else 0.0


def round_down(value: float, digits: int = 4) -> float:
    """``value`` rounded down (a floor an expectation may use without failing today)."""
    scale = 10**digits
    return float(int(value * scale) / scale)


def round_up(value: float, digits: int = 4) -> float:
    """``value`` rounded up (a ceiling that holds today)."""
    scale = 10**digits
    return float(-int(-value * scale) / scale)


def layer_values(ctx: Context, layer: str, *item_columns: str) -> Any:
    """Yield chunks of ``(item id, value, *item columns)`` of ``layer``'s current values
    (kinds whose values are JSON), in item order, a bounded number of rows at a time."""
    import orjson

    h, lab, i = t.label_heads.c, t.labels.c, t.items.c
    columns = [h.item_id, sa.cast(lab.value, sa.Text)] + [i[c] for c in item_columns]
    query = (
        sa.select(*columns)
        .select_from(
            t.label_heads.join(t.labels, lab.id == h.label_id).join(t.items, i.id == h.item_id)
        )
        .where(h.layer_id == ctx.layers[layer].id, lab.value.is_not(None))
        .order_by(h.item_id)
    )
    after = -1
    while True:
        with ctx.read() as conn:
            rows = conn.execute(query.where(h.item_id > after).limit(20_000)).all()
        if not rows:
            return
        yield [(int(r[0]), orjson.loads(r[1]), *r[2:]) for r in rows]
        after = int(rows[-1][0])


def failing_items(ctx: Context, layer: str, bad: Any, *item_columns: str) -> tuple[int, list[int]]:
    """How many of ``layer``'s values ``bad(value, *item columns)`` finds at fault, and the
    first :data:`ITEM_CAP` items holding them."""
    n, first = 0, list[int]()
    for chunk in layer_values(ctx, layer, *item_columns):
        for item_id, value, *extra in chunk:
            if bad(value, *extra):
                n += 1
                if len(first) < ITEM_CAP:
                    first.append(item_id)
    return n, first
