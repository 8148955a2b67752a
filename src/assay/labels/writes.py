"""Writing labels: single or bulk, always appended, never overwritten.

Every write adds a row to ``labels`` that points at the row it ``supersedes`` and moves the
``label_heads`` pointer for (layer, item). A batch of writes is one transaction: it lands whole
or not at all. Writers to one layer are serialized (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a
row lock on the layer), so each item's history in a layer is one unbroken chain however many
people write at once; the same lock makes "is this layer frozen?" race-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from assay.errors import Conflict, InvalidParameter, ItemNotFound
from assay.labels.kinds import AnnotationKind, KindSchema, Stored, get_kind
from assay.labels.kinds.classification import class_ids
from assay.store import bulk, queries
from assay.store import schema as t
from assay.store.engine import Store
from assay.store.queries import IN_CHUNK, check_items, id_chunks

MAX_NOTE = 10_000
MAX_AUTHOR = 200


@dataclass(frozen=True)
class LabelWrite:
    """One label to write: ``value`` (a class name for classification layers; see
    :mod:`assay.labels.kinds`), None to clear the item's label in the layer.

    ``base``, when given, is the id of the label the writer edited (0: the item had none in
    the layer): the write is refused with a Conflict if the item's label changed since, so two
    people editing one image's boxes at once lose nothing (the second sees the conflict).
    """

    item_id: int
    value: Any
    note: str | None = None
    probs: Sequence[float] | None = None
    confidence: float | None = None
    base: int | None = None


@dataclass(frozen=True)
class WriteResult:
    """What a batch of writes did."""

    layer: str
    n_written: int
    n_unchanged: int
    label_ids: list[int]


def default_author() -> str:
    """Who is writing when no one says: ``$ASSAY_USER``, else the login name."""
    import getpass
    import os

    return os.environ.get("ASSAY_USER") or getpass.getuser()


def resolve_item(conn: Connection, dataset_id: int, ref: int | str) -> int:
    """An item id from an id (int) or an external key (str; a string of digits that is not a
    key is read as an id)."""
    if isinstance(ref, str):
        found = conn.execute(
            sa.select(t.items.c.id).where(
                t.items.c.dataset_id == dataset_id, t.items.c.external_key == ref
            )
        ).scalar()
        if found is not None:
            return int(found)
        if not (ref.isascii() and ref.isdigit()):
            raise ItemNotFound(f"No item with key {ref!r} in this dataset.")
        ref = int(ref)
    check_items(conn, dataset_id, [ref])
    return ref


def lock_layer(conn: Connection, dataset_id: int, name: str) -> Row[Any]:
    """The layer row, locked against concurrent writers until the transaction ends."""
    query = sa.select(t.layers).where(t.layers.c.dataset_id == dataset_id, t.layers.c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        queries.get_layer(conn, dataset_id, name)  # raises LayerNotFound with a hint
        raise AssertionError("unreachable")
    return row


def writable_layer(conn: Connection, dataset_id: int, name: str) -> Row[Any]:
    """The locked layer row, or Conflict if it is frozen."""
    layer = lock_layer(conn, dataset_id, name)
    if layer.frozen:
        raise Conflict(
            f"Layer {name!r} is frozen (read-only); nothing was written. "
            f"Unfreeze it first with `assay layer unfreeze {name}` if it should change."
        )
    return layer


def resolve_items(conn: Connection, dataset_id: int, keys: Sequence[str]) -> dict[str, int]:
    """External key -> item id, or ItemNotFound naming the keys that are not in the dataset."""
    found: dict[str, int] = {}
    unique = sorted(set(keys))
    for start in range(0, len(unique), IN_CHUNK):
        chunk = unique[start : start + IN_CHUNK]
        rows = conn.execute(
            sa.select(t.items.c.external_key, t.items.c.id).where(
                t.items.c.dataset_id == dataset_id, t.items.c.external_key.in_(chunk)
            )
        )
        found.update({r.external_key: r.id for r in rows})
    missing = [k for k in unique if k not in found]
    if missing:
        shown = ", ".join(repr(k) for k in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ItemNotFound(f"No item with key {shown}{more} in this dataset; nothing was written.")
    return found


def _check_probs(
    probs: Sequence[float], n_classes: int, item_id: int, independent: bool = False
) -> list[float]:
    values = [float(p) for p in probs]
    if len(values) != n_classes:
        raise InvalidParameter(
            f"Item {item_id}: probs has {len(values)} values but the dataset has {n_classes} "
            "classes; give one probability per class, in class order."
        )
    if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in values):
        raise InvalidParameter(f"Item {item_id}: probs must be finite numbers in [0, 1].")
    if not independent and abs(sum(values) - 1.0) > 1e-3:
        raise InvalidParameter(f"Item {item_id}: probs sum to {sum(values):.4f}, not 1.")
    return values


def _check_text(value: str | None, what: str, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidParameter(f"The {what} is {len(value)} characters long; at most {limit}.")
    return value or None


def current_heads(
    conn: Connection, layer_id: int, item_ids: Sequence[int]
) -> dict[int, tuple[int, Stored, float | None]]:
    """item -> (label id, what it holds, confidence) of the current label in the layer."""
    h, lab = t.label_heads, t.labels
    heads: dict[int, tuple[int, Stored, float | None]] = {}
    wanted = set(item_ids)
    for clause in id_chunks(list(wanted), h.c.item_id):
        rows = conn.execute(
            sa.select(h.c.item_id, h.c.label_id, h.c.class_id, lab.c.value, lab.c.confidence)
            .join(lab, lab.c.id == h.c.label_id)
            .where(h.c.layer_id == layer_id, clause)
        )
        heads.update({r[0]: (r[1], Stored(r[2], r[3]), r[4]) for r in rows if r[0] in wanted})
    return heads


def kind_schema(
    conn: Connection,
    dataset_id: int,
    kinds: Iterable[AnnotationKind],
    item_ids: Sequence[int],
    options: Mapping[str, Any] | None = None,
) -> KindSchema:
    """What values of ``kinds`` for ``item_ids`` are checked against: the dataset's classes,
    the items' sizes or texts when one of the kinds places values on the item, and the layer's
    ``options``."""
    classes = class_ids(conn, dataset_id)
    kinds = list(kinds)
    sizes = (
        queries.item_sizes(conn, dataset_id, item_ids)
        if any(k.needs_item_size for k in kinds)
        else {}
    )
    texts = (
        queries.item_texts(conn, dataset_id, item_ids)
        if any(k.needs_item_text for k in kinds)
        else {}
    )
    return KindSchema(classes, sizes, texts, options or {})


def check_base(conn: Connection, layer: str, write: LabelWrite, head: int | None) -> None:
    """Conflict when ``write`` was made on another version of the item's label than the
    current one (``head``, the current label id or None); see :attr:`LabelWrite.base`."""
    if write.base is None or write.base == (head or 0):
        return
    who = ""
    if head is not None:
        row = conn.execute(
            sa.select(t.labels.c.author, t.labels.c.created_at).where(t.labels.c.id == head)
        ).one()
        who = f" by {row.author} at {row.created_at:%Y-%m-%d %H:%M:%S}"
    raise Conflict(
        f"Item {write.item_id}'s label in layer {layer!r} changed since you opened it{who}; "
        "nothing was written. Reload to see the current version and make your change on it."
    )


def _stored(kind: AnnotationKind, schema: KindSchema, write: LabelWrite) -> Stored | None:
    """What the label row holds for ``write`` (None: it clears the label), checked by the
    layer's kind."""
    return None if write.value is None else kind.store(write.value, schema, write.item_id)


def write_labels(
    conn: Connection,
    dataset_id: int,
    layer: str,
    writes: Iterable[LabelWrite],
    *,
    author: str,
    skip_unchanged: bool = False,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    check: Callable[[Row[Any]], None] | None = None,
) -> WriteResult:
    """Append ``writes`` to ``layer`` inside the caller's write transaction.

    Everything is checked before anything is written: the layer exists and is not frozen, each
    item belongs to the dataset and appears once, each value is one the layer's annotation kind
    accepts (for classification: one of the dataset's classes), probs
    (for model layers) have one value per class and sum to 1. With ``skip_unchanged``, writes
    that would repeat the current class and confidence are left out (re-running a consensus
    then adds only what changed). ``idempotency_key`` makes a single write safe to retry: a
    second call with the same key returns the first write's label instead of writing again.
    ``check``, when given, is called with the locked layer row and raises to refuse the write
    (a person's writes: :meth:`assay.access.Viewer.check_write`).
    """
    author_clean = _check_text(author, "author", MAX_AUTHOR)
    if not author_clean:
        raise InvalidParameter("Every label needs an author (who is writing it).")
    batch = list(writes)
    if idempotency_key is not None:
        if len(batch) != 1:
            raise InvalidParameter("An idempotency key applies to a single label write.")
        done = conn.execute(
            sa.select(t.labels.c.id).where(t.labels.c.idempotency_key == idempotency_key)
        ).scalar()
        if done is not None:
            return WriteResult(layer, 0, 1, [int(done)])
    layer_row = writable_layer(conn, dataset_id, layer)
    if check is not None:
        check(layer_row)
    seen: set[int] = set()
    for w in batch:
        if w.item_id in seen:
            raise InvalidParameter(
                f"Item {w.item_id} appears more than once in one write; give each item one label."
            )
        seen.add(w.item_id)
    check_items(conn, dataset_id, [w.item_id for w in batch])
    kind = get_kind(layer_row.value_kind)
    schema = kind_schema(conn, dataset_id, [kind], [w.item_id for w in batch], layer_row.options)
    heads = current_heads(conn, layer_row.id, [w.item_id for w in batch])
    when = now or datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    unchanged = 0
    for w in batch:
        stored = _stored(kind, schema, w)
        probs = None if w.probs is None else _check_probs(w.probs, len(schema.classes), w.item_id,
                                                          kind.independent_probs)  # fmt: skip
        confidence = w.confidence
        if confidence is None and probs is not None:
            confidence = max(probs)
        if confidence is not None and not (math.isfinite(confidence) and 0.0 <= confidence <= 1.0):
            raise InvalidParameter(f"Item {w.item_id}: confidence must be in [0, 1].")
        head = heads.get(w.item_id)
        check_base(conn, layer, w, None if head is None else head[0])
        same = head is not None and head[1] == (stored or Stored())
        if skip_unchanged and same and head is not None and _same(head[2], confidence):
            unchanged += 1
            continue
        if head is None and stored is None:
            unchanged += 1  # clearing a label that was never set
            continue
        rows.append(
            {
                "layer_id": layer_row.id,
                "item_id": w.item_id,
                "class_id": None if stored is None else stored.class_id,
                "value": None if stored is None else stored.value,
                "author": author_clean,
                "created_at": when,
                "reason": _check_text(w.note, "note", MAX_NOTE),
                "probs": probs,
                "confidence": confidence,
                "supersedes": None if head is None else head[0],
                "idempotency_key": idempotency_key,
            }
        )
    ids = insert_label_rows(conn, rows)
    move_heads(conn, rows, ids)
    return WriteResult(layer, len(ids), unchanged, ids)


@dataclass(frozen=True)
class LabelRequest:
    """One label write of one person into one layer (the unit the group committer batches).

    ``check``, when given, is called with the layer's row inside the write transaction and
    raises (an AssayError, such as PermissionDenied) to refuse the write: the web app checks
    who may write there against the layer as it is when the label lands, with no read of its
    own.
    """

    layer: str
    write: LabelWrite
    author: str
    idempotency_key: str | None = None
    check: Callable[[Row[Any]], None] | None = field(default=None, compare=False)


def write_requests(
    conn: Connection, dataset_id: int, requests: Sequence[LabelRequest]
) -> list[tuple[int, bool]]:
    """Append many single-label writes, from any layers and authors, with a fixed number of
    statements however many there are (the web app's group commit).

    Writes apply in order: a later write of the same (layer, item) supersedes an earlier one
    of the same batch. A request whose idempotency key was already used returns that label.
    Any invalid request raises for the whole batch (the caller retries them one by one to find
    it). Returns, per request, its label id and whether this call wrote it (False for a
    repeated idempotency key).
    """
    if not requests:
        return []
    for r in requests:
        if not (_check_text(r.author, "author", MAX_AUTHOR) or ""):
            raise InvalidParameter("Every label needs an author (who is writing it).")
    keys = [r.idempotency_key for r in requests if r.idempotency_key is not None]
    done: dict[str, int] = {}
    if keys:
        done = {
            k: int(i)
            for k, i in conn.execute(
                sa.select(t.labels.c.idempotency_key, t.labels.c.id).where(
                    t.labels.c.idempotency_key.in_(sorted(set(keys)))
                )
            )
        }
    names = sorted({r.layer for r in requests})
    query = sa.select(t.layers).where(
        t.layers.c.dataset_id == dataset_id, t.layers.c.name.in_(names)
    )
    if conn.dialect.name == "postgresql":
        query = query.order_by(t.layers.c.id).with_for_update()
    layers = {row.name: row for row in conn.execute(query)}
    for name in names:
        if name not in layers:
            queries.get_layer(conn, dataset_id, name)  # raises LayerNotFound with a hint
    for r in requests:
        if r.check is not None:
            r.check(layers[r.layer])
    for name in names:
        if layers[name].frozen:
            raise Conflict(f"Layer {name!r} is frozen (read-only); nothing was written.")
    check_items(conn, dataset_id, sorted({r.write.item_id for r in requests}))
    kinds = {name: get_kind(row.value_kind) for name, row in layers.items()}
    shared = kind_schema(
        conn, dataset_id, kinds.values(), sorted({r.write.item_id for r in requests})
    )
    schemas = {name: replace(shared, options=row.options or {}) for name, row in layers.items()}
    h = t.label_heads
    pairs = sorted({(layers[r.layer].id, r.write.item_id) for r in requests})
    heads: dict[tuple[int, int], int] = {}
    for start in range(0, len(pairs), 400):
        chunk = pairs[start : start + 400]
        rows_found = conn.execute(
            sa.select(h.c.layer_id, h.c.item_id, h.c.label_id).where(
                sa.tuple_(h.c.layer_id, h.c.item_id).in_(chunk)
            )
        )
        heads.update({(a, b): c for a, b, c in rows_found})
    when = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    result: list[int | None] = []
    pending: dict[str, int] = {}  # keys first used in this batch -> index into rows
    for r in requests:
        key = r.idempotency_key
        if key is not None and key in done:
            result.append(done[key])
            continue
        if key is not None and key in pending:
            result.append(-1 - pending[key])  # resolved to the id once ids are allocated
            continue
        stored = _stored(kinds[r.layer], schemas[r.layer], r.write)
        pair = (layers[r.layer].id, r.write.item_id)
        rows.append(
            {
                "layer_id": pair[0],
                "item_id": pair[1],
                "class_id": None if stored is None else stored.class_id,
                "value": None if stored is None else stored.value,
                "author": r.author.strip(),
                "created_at": when,
                "reason": _check_text(r.write.note, "note", MAX_NOTE),
                "probs": None,
                "confidence": r.write.confidence,
                "supersedes": None,
                "idempotency_key": key,
                "_pair": pair,
                "_request": r,
            }
        )
        if key is not None:
            pending[key] = len(rows) - 1
        result.append(None)
    if rows:
        ids = bulk.allocate_ids(conn, t.labels, len(rows))
        for row, label_id in zip(rows, ids, strict=True):
            pair = row.pop("_pair")
            request = row.pop("_request")
            check_base(conn, request.layer, request.write, heads.get(pair))
            row["supersedes"] = heads.get(pair)
            heads[pair] = label_id
        _insert_labels_with_ids(conn, rows, ids)
        move_heads(conn, rows, ids)
    out: list[tuple[int, bool]] = []
    k = 0
    for value in result:
        if value is None:
            out.append((ids[k], True))
            k += 1
        elif value < 0:
            out.append((ids[-1 - value], False))
        else:
            out.append((value, False))
    return out


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 1e-9


LABEL_COLUMNS = (
    "id",
    "layer_id",
    "item_id",
    "class_id",
    "author",
    "created_at",
    "reason",
    "probs",
    "confidence",
    "supersedes",
    "idempotency_key",
    "value",
)


def insert_label_rows(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Append label rows whose values the layer's kind has checked (the write functions
    here, or an importer that checked a whole file's values at once with the kind's rules),
    inside the caller's transaction holding the layer's write lock; their new ids.
    :func:`append_labels` does the same from columns, and moves the heads too."""
    if not rows:
        return []
    # Explicit ids (we hold the layer's write lock) and values straight to the driver:
    # SQLAlchemy's INSERT ... RETURNING in parameter order sends SQLite one statement per row,
    # and its per-row parameter processing alone takes longer than the inserts.
    ids = bulk.allocate_id_block(conn, t.labels, len(rows))
    _insert_labels_with_ids(conn, rows, ids)
    return list(ids)


def _json_texts(values: Iterable[Any]) -> list[str | None]:
    return [None if v is None else orjson.dumps(v).decode() for v in values]


def _column(values: list[Any]) -> list[Any] | bulk.Same:
    """``values``, or :class:`bulk.Same` when they are all one value (bound once)."""
    return bulk.Same(values[0]) if values.count(values[0]) == len(values) else values


def _insert_labels_with_ids(
    conn: Connection, rows: list[dict[str, Any]], ids: Sequence[int]
) -> None:
    columns: dict[str, list[Any] | bulk.Same] = {}
    for name in LABEL_COLUMNS[1:]:
        if name == "created_at":
            continue
        values = [row[name] for row in rows]
        if name in ("value", "probs"):
            values = _json_texts(values)
        columns[name] = _column(values)
    _insert_label_columns(conn, ids, columns, rows[0]["created_at"])


def _insert_label_columns(
    conn: Connection,
    ids: Sequence[int],
    columns: Mapping[str, Sequence[Any] | bulk.Same],
    created_at: datetime,
) -> None:
    """Insert labels ``ids`` from ``columns`` (the other columns of ``labels``; JSON ones
    already as text) written at ``created_at``."""
    created = bulk.db_value(conn, t.labels.c.created_at, created_at)
    cols: dict[str, Sequence[Any] | bulk.Same] = {"id": ids, "created_at": bulk.Same(created)}
    cols.update(columns)
    bulk.insert_columns(conn, "labels", cols, len(ids))


def append_labels(
    conn: Connection,
    layer_id: int,
    item_ids: Sequence[int],
    values: Sequence[str | None],
    *,
    author: str,
    created_at: datetime,
    supersedes: Sequence[int | None] | None = None,
) -> Sequence[int]:
    """Append one label per item of ``item_ids`` (each item once) to the layer and point the
    items' heads at them, from columns: ``values`` are the labels' JSON values as text,
    already checked by the layer's kind (an importer checks a whole file's values at once),
    ``supersedes`` each item's current label in the layer (None: it has none; leave out
    when none has one, as in a new layer). Inside the caller's transaction holding the
    layer's write lock. Returns the new label ids, in order.

    The column-wise twin of :func:`insert_label_rows` + :func:`move_heads` for imports: no
    per-row dict, one statement each for the labels and the heads on SQLite.
    """
    n = len(item_ids)
    if n == 0:
        return []
    ids = bulk.allocate_id_block(conn, t.labels, n)
    fresh = supersedes is None or all(s is None for s in supersedes)
    columns: dict[str, Sequence[Any] | bulk.Same] = {
        "layer_id": bulk.Same(layer_id),
        "item_id": item_ids,
        "author": bulk.Same(author),
        "supersedes": bulk.Same(None) if fresh or supersedes is None else supersedes,
        "value": values,
    }
    _insert_label_columns(conn, ids, columns, created_at)
    _heads_from_labels(conn, ids, (layer_id,), fresh=fresh)
    return ids


def move_heads(conn: Connection, rows: list[dict[str, Any]], ids: Sequence[int]) -> None:
    """Point each (layer, item) of ``rows`` at its new label ``ids`` (after
    :func:`insert_label_rows`); where a pair appears more than once, at its last label."""
    if not rows:
        return
    pairs = [(r["layer_id"], r["item_id"]) for r in rows]
    fresh = all(r["supersedes"] is None for r in rows)
    if len(set(pairs)) < len(pairs):
        last = dict(zip(pairs, ids, strict=True))
        ids = sorted(last.values())
    _heads_from_labels(conn, ids, {r["layer_id"] for r in rows}, fresh=fresh)


_SET_HEAD = (
    " ON CONFLICT (layer_id, item_id) DO UPDATE SET label_id = excluded.label_id, "
    "class_id = excluded.class_id, number = excluded.number"
)
#: What ``label_heads.number`` keeps of a label's value: a number layer's value (a bare JSON
#: number; NULL when cleared), which the grid's value sort and ``value[L]`` filters read over
#: an index; NULL for every other kind. CAST through text reads a JSON number on both backends.
_HEAD_NUMBER = (
    "CASE WHEN (SELECT value_kind FROM layers WHERE layers.id = labels.layer_id) = 'number' "
    "THEN CAST(CAST(labels.value AS TEXT) AS FLOAT) END"
)


def _which_labels(conn: Connection, ids: Sequence[int]) -> tuple[str, tuple[Any, ...]]:
    """A WHERE condition on ``labels.id`` selecting ``ids``, with its parameters."""
    if conn.dialect.name == "postgresql":
        return "labels.id = ANY(%s)", (list(ids),)
    if isinstance(ids, range) or list(ids) == list(range(ids[0], ids[-1] + 1)):
        # Consecutive ids (allocated under the write lock): all of them, by range.
        return "labels.id BETWEEN ? AND ?", (ids[0], ids[-1])
    return "labels.id IN (SELECT value FROM json_each(?))", (orjson.dumps(list(ids)).decode(),)


def _heads_from_labels(
    conn: Connection, ids: Sequence[int], layer_ids: Iterable[int], *, fresh: bool
) -> None:
    """Point the heads of the labels ``ids`` (one per (layer, item), in ``layer_ids``) at
    them, copied from ``labels`` by the database (no row through Python), with what a head
    keeps of its value: a number layer's number (``label_heads.number``) and a tags layer's
    tags (``head_tags``, by class id).

    ``fresh``: none of the labels supersedes another, so none of their items has a head in
    its layer yet (each write's ``supersedes`` is the head it replaces): a plain insert,
    which also refuses (IntegrityError) a head that exists after all rather than hide it.
    """
    if not ids:
        return
    # The SQL below is made of this module's constants; every value is a bound parameter.
    where, params = _which_labels(conn, ids)
    conn.exec_driver_sql(
        "INSERT INTO label_heads (layer_id, item_id, label_id, class_id, number) "  # noqa: S608
        f"SELECT layer_id, item_id, id, class_id, {_HEAD_NUMBER} FROM labels "
        f"WHERE {where} ORDER BY id" + ("" if fresh else _SET_HEAD),
        params,
    )
    ly = t.layers.c
    tag_layers = (
        conn.execute(sa.select(ly.id).where(ly.id.in_(set(layer_ids)), ly.value_kind == "tags"))
        .scalars()
        .all()
    )
    if not tag_layers:
        return
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    if not fresh:  # the tags of the heads these labels replace
        for layer_id in tag_layers:
            conn.exec_driver_sql(
                f"DELETE FROM head_tags WHERE layer_id = {mark} AND item_id IN "  # noqa: S608
                f"(SELECT item_id FROM labels WHERE {where} AND labels.layer_id = {mark})",
                (layer_id, *params, layer_id),
            )
    elements = (
        "json_array_elements_text(labels.value) AS e(value)"
        if conn.dialect.name == "postgresql"
        else "json_each(labels.value) AS e"
    )
    conn.exec_driver_sql(
        # CROSS JOIN keeps SQLite's join order: each label's JSON read once, then one index
        # probe per tag (left to itself it probed every class and re-read the JSON for each:
        # 2.6x the time). A tag set holds each tag once (the kind's ``tag_set``): no DISTINCT.
        "INSERT INTO head_tags (layer_id, item_id, class_id) "  # noqa: S608
        "SELECT labels.layer_id, labels.item_id, classes.id FROM labels "
        f"CROSS JOIN layers CROSS JOIN {elements} CROSS JOIN classes "
        "WHERE layers.id = labels.layer_id AND layers.value_kind = 'tags' "
        "AND classes.dataset_id = layers.dataset_id AND classes.name = e.value "
        f"AND {where} AND labels.value IS NOT NULL",
        params,
    )


def history(
    conn: Connection, dataset_id: int, item_id: int, layer: str | None = None
) -> list[dict[str, Any]]:
    """Every label the item ever had, per layer in layer order, oldest first within a layer.

    ``label`` is the value as its layer's kind shows it (a class name), None where the label
    was cleared; ``value`` the same value as JSON.
    """
    check_items(conn, dataset_id, [item_id])
    lab, ly, cl = t.labels, t.layers, t.classes
    query = (
        sa.select(*_record_columns(), lab.c.supersedes, lab.c.import_id)
        .join(ly, ly.c.id == lab.c.layer_id)
        .outerjoin(cl, cl.c.id == lab.c.class_id)
        .where(lab.c.item_id == item_id, ly.c.dataset_id == dataset_id)
        .order_by(ly.c.id, lab.c.id)
    )
    if layer is not None:
        layer_id = queries.get_layer(conn, dataset_id, layer).id
        query = query.where(lab.c.layer_id == layer_id)
    return [_shown(dict(r._mapping)) for r in conn.execute(query)]


def current_labels(conn: Connection, dataset_id: int, item_id: int) -> dict[str, dict[str, Any]]:
    """The item's current label in every layer that has one: layer name -> label record
    (``label`` and ``value`` as in :func:`history`)."""
    records = (r for _, _, r in _current(conn, dataset_id, [item_id]))
    return {r["layer"]: r for r in records if r["value"] is not None}


def current_labels_by_item(
    conn: Connection,
    dataset_id: int,
    item_ids: Sequence[int],
    layers: Collection[str] | None = None,
) -> dict[int, dict[str, dict[str, Any]]]:
    """:func:`current_labels` of several items at once (in ``layers`` only, when given):
    item id -> layer name -> record."""
    layer_ids = None
    if layers is not None:
        ly = t.layers.c
        found = sa.select(ly.id).where(ly.dataset_id == dataset_id, ly.name.in_(sorted(layers)))
        layer_ids = [int(i) for (i,) in conn.execute(found)]
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for item_id, _, record in _current(conn, dataset_id, item_ids, layer_ids):
        if record["value"] is not None:
            out.setdefault(item_id, {})[record["layer"]] = record
    return out


def shown_labels(
    conn: Connection, dataset_id: int, layer: str, item_ids: Sequence[int]
) -> dict[int, str]:
    """item -> its current label in ``layer`` as the layer's kind shows it, for those of
    ``item_ids`` that have one (empty when the dataset has no such layer: a page of items
    shows no label)."""
    row = conn.execute(
        sa.select(t.layers.c.id, t.layers.c.value_kind).where(
            t.layers.c.dataset_id == dataset_id, t.layers.c.name == layer
        )
    ).first()
    if row is None or not item_ids:
        return {}
    kind = get_kind(row.value_kind)
    if not kind.stores_class:
        found = _current(conn, dataset_id, item_ids, [row.id])
        return {item_id: r["label"] for item_id, _, r in found if r["value"] is not None}
    # A class lives in the label head: no read of the labels table (a grid page at 1,000,000
    # items is a third faster without that join).
    h, cl = t.label_heads, t.classes
    query = sa.select(h.c.item_id, cl.c.name).join(cl, cl.c.id == h.c.class_id)
    query = query.where(h.c.layer_id == row.id)
    out: dict[int, str] = {}
    for clause in id_chunks(list(item_ids), h.c.item_id):
        for item_id, name in conn.execute(query.where(clause)):
            out[item_id] = kind.show(kind.read(name, None))
    return out


def current_labels_of(
    store: Store, dataset_id: int, item_ids: Sequence[int], layer_ids: Sequence[int]
) -> dict[int, dict[int, dict[str, Any]]]:
    """The current label of some items of the dataset in some of its layers: item id ->
    layer id -> label record (as in :func:`current_labels`: ``label`` as the layer's kind
    shows it, ``value`` as JSON, ``author``, ``created_at``, ``note``, ``probs``,
    ``confidence``...).

    An item a layer never labeled is missing from its dict; a cleared label is there with
    ``label`` and ``value`` None. Ids of other datasets' items or layers are left out.
    """
    if not item_ids or not layer_ids:
        return {}
    out: dict[int, dict[int, dict[str, Any]]] = {}
    with store.read() as conn:
        for item_id, layer_id, record in _current(conn, dataset_id, item_ids, layer_ids):
            out.setdefault(item_id, {})[layer_id] = record
    return out


def _current(
    conn: Connection,
    dataset_id: int,
    item_ids: Sequence[int],
    layer_ids: Sequence[int] | None = None,
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(item id, layer id, label record) of the current labels of ``item_ids`` in the
    dataset's layers (``layer_ids`` only, when given), in layer order."""
    h, lab, ly, cl = t.label_heads, t.labels, t.layers, t.classes
    query = (
        sa.select(h.c.item_id, h.c.layer_id, *_record_columns())
        .select_from(h)
        .join(ly, ly.c.id == h.c.layer_id)
        .join(lab, lab.c.id == h.c.label_id)
        .outerjoin(cl, cl.c.id == h.c.class_id)
        .where(ly.c.dataset_id == dataset_id)
        .order_by(ly.c.id, h.c.item_id)
    )
    if layer_ids is not None:
        query = query.where(h.c.layer_id.in_(list(layer_ids)))
    for clause in id_chunks(list(item_ids), h.c.item_id):
        for row in conn.execute(query.where(clause)):
            record = dict(row._mapping)
            yield record.pop("item_id"), record.pop("layer_id"), _shown(record)


def _record_columns() -> list[Any]:
    """The columns of a label record (history and current labels): its layer, kind, value and
    who wrote it when and why."""
    lab, ly, cl = t.labels, t.layers, t.classes
    return [
        lab.c.id, ly.c.name.label("layer"), ly.c.kind.label("layer_kind"), ly.c.value_kind,
        cl.c.name.label("label"), lab.c.value, lab.c.author, lab.c.created_at,
        lab.c.reason.label("note"), lab.c.probs, lab.c.confidence,
    ]  # fmt: skip


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    """A label record with its value read by its layer's kind: ``value`` as JSON, ``label`` as
    a person reads it (None for a cleared label)."""
    kind = get_kind(record["value_kind"])
    value = kind.read(record["label"], record["value"])
    record["value"] = kind.to_json(value)
    record["label"] = None if value is None else kind.show(value)
    return record
