"""Model runs in the store: their lifecycle, the labels they learned from, their layers.

A run is a row of ``model_runs`` that goes ``running`` -> ``done`` or ``failed`` (with the
error). It pins the labels it learned from with a snapshot of the training layer taken when it
starts, and reads those labels back from the snapshot, so the run and its record agree even if
someone relabels meanwhile. Its predictions go into a ``model`` layer named after the run,
created and filled in the same transaction that marks the run done: a failed run leaves no
half-written layer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, InvalidParameter, NotFound, StoreBusy
from assay.labels.snapshots import create_snapshot
from assay.labels.writes import LabelWrite, default_author, write_labels
from assay.store import filters, queries
from assay.store import schema as t
from assay.store.naming import clean_name

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

CHUNK = 50_000
WRITE_CHUNK = 20_000  # predictions written per call, all in one transaction
MAX_CACHED_LAYERS = 4  # model layers whose probabilities stay in memory
MAX_CACHED_PROBS = 4_000_000  # values of the largest layer kept (32 MB)
_PROBS: OrderedDict[tuple[str, int, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_PROBS_LOCK = threading.Lock()
EVALUATIONS = "evaluations"  # metrics key of the run's stored evaluations (not shown)
MAX_EVALUATIONS = 8  # stored per run, the most recently computed kept


class RunNotFound(NotFound):
    """No model run of that name in the dataset."""


def start_run(
    ds: Dataset,
    *,
    name: str | None,
    kind: str,
    model: str,
    params: dict[str, Any] | None,
    featurizer: str | None,
    layer: str | None,
    filter: str | None,
    folds: int | None,
    seed: int | None,
    makes_layer: bool,
) -> tuple[int, str]:
    """Insert a ``running`` run row; returns (run id, run name). Conflict if the name is taken."""
    with ds.store.write() as conn:
        if layer is not None:
            queries.get_layer(conn, ds.id, layer)  # LayerNotFound before anything is written
        if filter:
            filters.compile_filter(conn, ds.id, filter)  # a bad filter fails up front too
        run_name = clean_name(name, "run name") if name else _default_name(conn, ds.id, kind, model)
        r = t.model_runs.c
        taken = conn.execute(
            sa.select(r.id).where(r.dataset_id == ds.id, r.name == run_name)
        ).first()
        if taken is not None:
            raise Conflict(f"A model run named {run_name!r} exists already; choose another name.")
        if makes_layer and _layer_exists(conn, ds.id, run_name):
            raise Conflict(
                f"A layer named {run_name!r} exists already, and the run's predictions go to a "
                "layer of its name; choose another run name."
            )
        run_id = conn.execute(
            t.model_runs.insert().values(
                dataset_id=ds.id, name=run_name, kind=kind, state="running", model=model,
                params=params, featurizer=featurizer, train_layer=layer, train_filter=filter,
                folds=folds, seed=seed, created_by=default_author(),
                created_at=datetime.now(UTC),
            )
        ).inserted_primary_key[0]  # type: ignore[index]  # fmt: skip
    return int(run_id), run_name


def record_import(
    conn: Connection,
    dataset_id: int,
    *,
    layer: str,
    model: str,
    params: dict[str, Any],
    author: str,
    changed: bool,
) -> str:
    """The model run record of predictions imported into model layer ``layer`` (made
    outside Assay), in the caller's transaction, so the predictions page and ``assay models``
    say where they came from. The run is named after its layer, like a run Assay made.

    A first import creates it (kind ``import``, state done); a later import into the same
    layer that changed labels updates its ``params`` (source, format, counts) and finish
    time; an unchanged re-import writes nothing. Returns "created", "updated" or "unchanged".

    Raises
    ------
    Conflict
        A run of that name exists that is not an import into this layer (e.g. a model Assay
        trained writes to it): its record must not be taken over.
    """
    layer_id = int(queries.get_layer(conn, dataset_id, layer).id)
    r = t.model_runs.c
    row = conn.execute(
        sa.select(r.id, r.kind, r.layer_id).where(r.dataset_id == dataset_id, r.name == layer)
    ).first()
    now = datetime.now(UTC)
    if row is None:
        conn.execute(
            t.model_runs.insert().values(
                dataset_id=dataset_id, name=layer, kind="import", state="done", model=model,
                params=_jsonable(params), layer_id=layer_id, created_by=author,
                created_at=now, finished_at=now,
            )
        )  # fmt: skip
        return "created"
    if row.kind != "import" or row.layer_id != layer_id:
        raise Conflict(
            f"Model run {layer!r} ({row.kind}) already writes to a layer of that name: import "
            "the predictions under another name. Nothing was imported."
        )
    if not changed:
        return "unchanged"
    conn.execute(
        t.model_runs.update()
        .where(r.id == row.id)
        .values(model=model, params=_jsonable(params), created_by=author, finished_at=now)
    )
    return "updated"


def _default_name(conn: Connection, dataset_id: int, kind: str, model: str) -> str:
    """``cv-logreg-3``: kind, model and the next free number."""
    short = model.rsplit(".", 1)[-1].lower()
    r = t.model_runs.c
    n = conn.execute(sa.select(sa.func.count()).where(r.dataset_id == dataset_id)).scalar()
    number = int(n or 0) + 1
    while True:
        name = f"{kind}-{short}-{number}"
        taken = conn.execute(
            sa.select(r.id).where(r.dataset_id == dataset_id, r.name == name)
        ).first()
        if taken is None and not _layer_exists(conn, dataset_id, name):
            return name
        number += 1


def _layer_exists(conn: Connection, dataset_id: int, name: str) -> bool:
    return (
        conn.execute(
            sa.select(t.layers.c.id).where(
                t.layers.c.dataset_id == dataset_id, t.layers.c.name == name
            )
        ).first()
        is not None
    )


def pin_labels(ds: Dataset, run_id: int, run_name: str, layer: str) -> int:
    """Snapshot the training layer for the run; returns the snapshot id."""
    with ds.store.write() as conn:
        snap = create_snapshot(
            conn,
            ds.id,
            f"run:{run_name}:{run_id}",
            layers=[layer],
            author=default_author(),
            description=f"Labels of {layer!r} when model run {run_name!r} started",
        )
        conn.execute(
            t.model_runs.update().where(t.model_runs.c.id == run_id).values(snapshot_id=snap["id"])
        )
    return int(snap["id"])


def snapshot_labels(
    conn: Connection, dataset_id: int, snapshot_id: int, layer: str, filter: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(item ids ascending, class codes) of ``layer`` in the snapshot, for the slice."""
    layer_id = queries.get_layer(conn, dataset_id, layer).id
    code_of = {c.id: k for k, c in enumerate(queries.list_classes(conn, dataset_id))}
    sl, lab = t.snapshot_labels.c, t.labels.c
    query = (
        sa.select(sl.item_id, lab.class_id)
        .join(t.labels, t.labels.c.id == sl.label_id)
        .where(sl.snapshot_id == snapshot_id, sl.layer_id == layer_id, lab.class_id.is_not(None))
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.join(t.items, t.items.c.id == sl.item_id).where(where)
    ids: list[int] = []
    codes: list[int] = []
    for rows in queries.iter_tuples(conn, query.order_by(sl.item_id), CHUNK):
        for item_id, class_id in rows:
            ids.append(int(item_id))
            codes.append(code_of[int(class_id)])
    return np.asarray(ids, dtype=np.int64), np.asarray(codes, dtype=np.int64)


def finish_run(
    ds: Dataset,
    run_id: int,
    *,
    metrics: dict[str, Any],
    artifact_path: str | None = None,
    layer: str | None = None,
    item_ids: np.ndarray | None = None,
    probs: np.ndarray | None = None,
    classes: Sequence[str] | None = None,
    params: dict[str, Any] | None = None,
    boxes: Sequence[Sequence[dict[str, Any]]] | None = None,
    numbers: Sequence[float] | np.ndarray | None = None,
    layer_options: dict[str, Any] | None = None,
) -> None:
    """Mark the run done; with ``layer``, create it and write the predictions, all at once
    (``probs`` of classes, ``boxes``: one list of scored boxes per item, into a box layer, or
    ``numbers``: one predicted value per item, into a number layer)."""
    with ds.store.write() as conn:
        layer_id = None
        if layer is not None:
            assert item_ids is not None
            run_name = conn.execute(
                sa.select(t.model_runs.c.name).where(t.model_runs.c.id == run_id)
            ).scalar_one()
            if numbers is not None:
                from assay.models.number_models import write_number_predictions

                layer_id = write_number_predictions(
                    conn, ds.id, layer, item_ids, numbers, run_name, create=True,
                    options=layer_options,
                )  # fmt: skip
            elif boxes is not None:
                layer_id = write_box_predictions(
                    conn, ds.id, layer, item_ids, boxes, run_name, create=True
                )
            else:
                assert probs is not None and classes is not None
                layer_id = write_predictions(
                    conn, ds.id, layer, item_ids, probs, classes, run_name, create=True
                )
        values: dict[str, Any] = {
            "state": "done", "metrics": _jsonable(metrics), "artifact_path": artifact_path,
            "layer_id": layer_id, "finished_at": datetime.now(UTC),
        }  # fmt: skip
        if params is not None:
            values["params"] = _jsonable(params)
        conn.execute(t.model_runs.update().where(t.model_runs.c.id == run_id).values(**values))


def fail_run(ds: Dataset, run_id: int, error: BaseException) -> None:
    """Record why the run failed (it keeps no layer and no artifact)."""
    message = f"{type(error).__name__}: {error}"[:2000]
    with ds.store.write() as conn:
        conn.execute(
            t.model_runs.update()
            .where(t.model_runs.c.id == run_id)
            .values(state="failed", error=message, finished_at=datetime.now(UTC))
        )


def write_predictions(
    conn: Connection,
    dataset_id: int,
    layer: str,
    item_ids: np.ndarray,
    probs: np.ndarray,
    classes: Sequence[str],
    run_name: str,
    *,
    create: bool,
) -> int:
    """Write label = argmax with the probability vector, inside the caller's transaction.

    ``classes`` names the columns of ``probs``; they are mapped onto the dataset's classes by
    name (a class added after training gets probability 0). Returns the layer id.
    """
    from assay.labels.layers import create_layer

    names = [c.name for c in queries.list_classes(conn, dataset_id)]
    column = {c: k for k, c in enumerate(names)}
    missing = [c for c in classes if c not in column]
    if missing:
        raise InvalidParameter(
            f"The run predicts classes the dataset no longer has: {', '.join(missing[:5])}."
        )
    full = np.zeros((len(item_ids), len(names)), dtype=np.float64)
    full[:, [column[c] for c in classes]] = probs
    # Stored as they are (JSON keeps every digit of a float64): a rounded 1e-9 would read
    # back as 0 and its loss as a clip, and rounded rows no longer sum to the same losses.
    full = full / full.sum(axis=1, keepdims=True)
    if create:
        create_layer(conn, dataset_id, layer, kind="model", description=f"Model run {run_name}",
                     origin={"run": run_name})  # fmt: skip
    layer_row = queries.get_layer(conn, dataset_id, layer)
    if layer_row.kind != "model":
        raise InvalidParameter(
            f"Layer {layer!r} is a {layer_row.kind} layer; predictions go to model layers only."
        )
    top = full.argmax(axis=1)
    # Chunks bound the Python objects alive at once; they share the caller's transaction.
    for start in range(0, len(item_ids), WRITE_CHUNK):
        part = slice(start, start + WRITE_CHUNK)
        writes = [
            LabelWrite(int(i), names[int(k)], probs=row.tolist(), confidence=float(row[k]))
            for i, k, row in zip(item_ids[part], top[part], full[part], strict=True)
        ]
        write_labels(conn, dataset_id, layer, writes, author=f"model:{run_name}")
    return int(layer_row.id)


def write_box_predictions(
    conn: Connection,
    dataset_id: int,
    layer: str,
    item_ids: Sequence[int] | np.ndarray,
    boxes: Sequence[Sequence[dict[str, Any]]],
    run_name: str,
    *,
    create: bool,
) -> int:
    """Write each item's scored boxes into the box model layer ``layer`` (created with
    ``create``), inside the caller's transaction; returns the layer id. The boxes are checked
    by the ``boxes`` kind like any other label (classes, inside the image)."""
    from assay.labels.layers import create_layer

    if create:
        create_layer(conn, dataset_id, layer, kind="model", value_kind="boxes",
                     description=f"Model run {run_name}", origin={"run": run_name})  # fmt: skip
    layer_row = queries.get_layer(conn, dataset_id, layer)
    if layer_row.kind != "model" or layer_row.value_kind != "boxes":
        raise InvalidParameter(
            f"Layer {layer!r} is a {layer_row.kind} layer of {layer_row.value_kind}; predicted "
            "boxes go to box model layers only."
        )
    ids = [int(i) for i in item_ids]
    for start in range(0, len(ids), WRITE_CHUNK):
        writes = [
            LabelWrite(i, [dict(b) for b in per_item])
            for i, per_item in zip(
                ids[start : start + WRITE_CHUNK], boxes[start : start + WRITE_CHUNK], strict=True
            )
        ]
        write_labels(conn, dataset_id, layer, writes, author=f"model:{run_name}")
    return int(layer_row.id)


def layer_probs(
    conn: Connection, dataset_id: int, layer: str, filter: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(item ids ascending, probs in dataset class order) of a layer's current labels.

    Labels without probabilities count as one-hot on their class. The stored JSON is read as
    text and parsed in one call. A whole layer's arrays (read-only) are kept in memory while
    its labels and the classes are unchanged (:func:`layers_version`): an evaluation against
    a changed reference layer does not read the predictions again.
    """
    key = None
    if not filter:
        version = orjson.dumps(layers_version(conn, dataset_id, [layer])).decode()
        key = (str(conn.engine.url), dataset_id, version)
        with _PROBS_LOCK:
            if key in _PROBS:
                _PROBS.move_to_end(key)
                return _PROBS[key]
    ids, probs = _read_probs(conn, dataset_id, layer, filter)
    if key is not None and probs.size <= MAX_CACHED_PROBS:
        ids.setflags(write=False)
        probs.setflags(write=False)
        with _PROBS_LOCK:
            _PROBS[key] = (ids, probs)
            while len(_PROBS) > MAX_CACHED_LAYERS:
                _PROBS.popitem(last=False)
    return ids, probs


def _read_probs(
    conn: Connection, dataset_id: int, layer: str, filter: str | None
) -> tuple[np.ndarray, np.ndarray]:
    layer_id = queries.get_layer(conn, dataset_id, layer).id
    classes = queries.list_classes(conn, dataset_id)
    code_of = {c.id: k for k, c in enumerate(classes)}
    h, lab = t.label_heads.c, t.labels.c
    query = (
        sa.select(h.item_id, h.class_id, sa.cast(lab.probs, sa.Text))
        .join(t.labels, t.labels.c.id == h.label_id)
        .where(h.layer_id == layer_id, h.class_id.is_not(None))
    )
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.join(t.items, t.items.c.id == h.item_id).where(where)
    ids: list[int] = []
    codes: list[int] = []
    texts: list[str] = []
    for rows in queries.iter_tuples(conn, query.order_by(h.item_id), CHUNK):
        for item_id, class_id, raw in rows:
            ids.append(int(item_id))
            codes.append(code_of[int(class_id)])
            texts.append("null" if raw is None else raw)
    return np.asarray(ids, dtype=np.int64), _prob_matrix(texts, codes, len(classes))


def _prob_matrix(texts: list[str], codes: list[int], width: int) -> np.ndarray:
    """Rows of stored probabilities (JSON texts, "null" for none: one-hot on ``codes``)."""
    probs = np.zeros((len(texts), width))
    parsed = orjson.loads("[" + ",".join(texts) + "]") if texts else []
    full = [k for k, row in enumerate(parsed) if row is not None and len(row) == width]
    if len(full) == len(parsed):
        return np.asarray(parsed, dtype=np.float64).reshape(len(parsed), width)
    if full:
        probs[full] = np.asarray([parsed[k] for k in full], dtype=np.float64)
    for k, row in enumerate(parsed):
        if row is None:
            probs[k, codes[k]] = 1.0
        elif len(row) != width:  # written before classes were added (or removed)
            values = row[:width]
            probs[k, : len(values)] = values
    return probs


def get_run(conn: Connection, dataset_id: int, name: str) -> Any:
    """The run row of that name, or RunNotFound listing the dataset's runs."""
    r = t.model_runs.c
    row = conn.execute(
        sa.select(t.model_runs).where(r.dataset_id == dataset_id, r.name == name)
    ).first()
    if row is None:
        names = list(
            conn.execute(
                sa.select(r.name).where(r.dataset_id == dataset_id).order_by(r.id.desc()).limit(10)
            ).scalars()
        )
        known = f" Known runs: {', '.join(names)}." if names else " There are no runs yet."
        raise RunNotFound(f"No model run named {name!r}.{known} List them with `assay models`.")
    return row


def get_run_info(conn: Connection, dataset_id: int, name: str) -> dict[str, Any]:
    """One run as a plain dict, with the names of its layer and snapshot."""
    row = get_run(conn, dataset_id, name)
    return list_runs(conn, dataset_id, run_id=row.id)[0]


def run_info(row: Any, layer_name: str | None = None) -> dict[str, Any]:
    """A run row as a plain dict (its stored evaluations left out: they are a cache)."""
    out = dict(row._mapping)
    for key in ("params", "metrics"):
        if isinstance(out.get(key), (str, bytes)):
            out[key] = orjson.loads(out[key])
    if isinstance(out.get("metrics"), dict) and EVALUATIONS in out["metrics"]:
        out["metrics"] = {k: v for k, v in out["metrics"].items() if k != EVALUATIONS}
    out["layer"] = layer_name
    return out


def layers_version(conn: Connection, dataset_id: int, layers: Sequence[str]) -> list[Any]:
    """A fingerprint of the current labels of ``layers`` and of the dataset's classes: any
    label written, changed or cleared in one of them changes it (label ids only grow, so the
    count, largest and sum of the heads' label ids tell), and nothing else does."""
    h = t.label_heads.c
    out: list[Any] = [[c.id for c in queries.list_classes(conn, dataset_id)]]
    for name in layers:
        layer_id = queries.get_layer(conn, dataset_id, name).id
        row = conn.execute(
            sa.select(sa.func.count(), sa.func.max(h.label_id), sa.func.sum(h.label_id)).where(
                h.layer_id == layer_id
            )
        ).one()
        out.append([name, int(row[0]), int(row[1] or 0), int(row[2] or 0)])
    return out


def saved_evaluation(
    conn: Connection, run_id: int, key: str, version: list[Any]
) -> dict[str, Any] | None:
    """The evaluation stored on the run under ``key`` if it was computed at ``version``."""
    metrics = conn.execute(
        sa.select(t.model_runs.c.metrics).where(t.model_runs.c.id == run_id)
    ).scalar()
    if isinstance(metrics, (str, bytes)):
        metrics = orjson.loads(metrics)
    entry = (metrics or {}).get(EVALUATIONS, {}).get(key)
    if not entry or entry.get("version") != version:
        return None
    return dict(entry["result"])


def save_evaluation(
    ds: Dataset, run_id: int, key: str, version: list[Any], result: dict[str, Any]
) -> None:
    """Store an evaluation on the run (keeping the newest :data:`MAX_EVALUATIONS`). Skipped
    when another writer holds the store: it is a cache, recomputed next time."""
    try:
        with ds.store.write(wait=False) as conn:
            metrics = conn.execute(
                sa.select(t.model_runs.c.metrics)
                .where(t.model_runs.c.id == run_id)
                .with_for_update()
            ).scalar()
            if isinstance(metrics, (str, bytes)):
                metrics = orjson.loads(metrics)
            metrics = dict(metrics or {})
            saved = {k: v for k, v in metrics.get(EVALUATIONS, {}).items() if k != key}
            saved[key] = {"version": version, "result": result}
            metrics[EVALUATIONS] = dict(list(saved.items())[-MAX_EVALUATIONS:])
            conn.execute(
                t.model_runs.update()
                .where(t.model_runs.c.id == run_id)
                .values(metrics=_jsonable(metrics))
            )
    except StoreBusy:
        return


def item_probs(conn: Connection, dataset_id: int, layer: str, item_id: int) -> list[float] | None:
    """One item's stored class probabilities in a model layer (None without them)."""
    h, lb, la = t.label_heads.c, t.labels.c, t.layers.c
    probs = conn.execute(
        sa.select(lb.probs)
        .select_from(t.label_heads)
        .join(t.labels, lb.id == h.label_id)
        .join(t.layers, la.id == h.layer_id)
        .where(la.dataset_id == dataset_id, la.name == layer, h.item_id == item_id)
    ).scalar()
    return probs if isinstance(probs, list) else None


def list_runs(
    conn: Connection, dataset_id: int, limit: int = 1000, run_id: int | None = None
) -> list[dict[str, Any]]:
    """The dataset's runs (or one), newest first, with their layer and snapshot names."""
    r = t.model_runs.c
    rows = conn.execute(
        sa.select(
            t.model_runs, t.layers.c.name.label("layer_name"), t.snapshots.c.name.label("snapshot")
        )
        .outerjoin(t.layers, t.layers.c.id == r.layer_id)
        .outerjoin(t.snapshots, t.snapshots.c.id == r.snapshot_id)
        .where(r.dataset_id == dataset_id, sa.true() if run_id is None else r.id == run_id)
        .order_by(r.id.desc())
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        info = run_info(row, row.layer_name)
        info.pop("layer_name", None)
        out.append(info)
    return out


def _jsonable(value: Any) -> Any:
    """Numpy scalars and arrays as plain Python, for JSON columns."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))
