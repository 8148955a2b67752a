"""Feature vectors for a dataset's items, computed in chunks and cached in the store.

A feature set is keyed by (dataset, featurizer, parameters, item version). The item version is
a cheap fingerprint of the item set (count, smallest and largest id), so an import makes a new
version and the old vectors are never served for a different set of items. Vectors are
computed and written chunk by chunk (each chunk its own short write transaction, so labelers
are not locked out) and the set becomes visible (``state = 'ready'``) only at the end. For
featurizers whose vectors depend on the item alone (pixels, text), a new version first copies
the previous version's vectors inside the database and computes only the new items.

Users may bring their own embeddings (:func:`import_features`); they become a featurizer of
their own name.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, DataFormatError, InvalidParameter
from assay.models import artifacts
from assay.models.featurizers import AUTO_BY_KIND, BUILTIN, Featurizer, digest
from assay.progress import ProgressCallback, no_progress
from assay.store import bulk, filters, queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

CHUNK = 2_000  # items per featurize-and-write step
READ_CHUNK = 20_000
IMPORTED = "imported"  # params_hash of user-imported vectors


@dataclass(frozen=True)
class Features:
    """Feature vectors of a slice: row ``i`` of ``X`` belongs to item ``item_ids[i]``."""

    item_ids: np.ndarray  # int64, ascending
    X: np.ndarray  # float32, (n_items, dim)
    name: str  # the featurizer
    kind: str | None = None  # "image", "text", "tabular"; None for imported vectors
    image_shape: tuple[int, int] | None = None
    featurizer: Featurizer | None = field(default=None, repr=False)  # fitted; None if imported
    feature_set_id: int | None = None
    from_cache: bool = False

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    def take(self, item_ids: np.ndarray) -> Features:
        """The rows of ``item_ids`` (all must be present), in that order."""
        pos = np.searchsorted(self.item_ids, item_ids)
        pos = np.clip(pos, 0, max(len(self.item_ids) - 1, 0))
        if len(item_ids) and (len(self.item_ids) == 0 or (self.item_ids[pos] != item_ids).any()):
            missing = (
                int((self.item_ids[pos] != item_ids).sum()) if len(self.item_ids) else len(item_ids)
            )
            raise InvalidParameter(f"{missing} items have no {self.name!r} features.")
        return Features(
            np.asarray(item_ids, dtype=np.int64), self.X[pos], self.name, self.kind,
            self.image_shape, self.featurizer, self.feature_set_id, self.from_cache,
        )  # fmt: skip


def item_version(conn: Connection, dataset_id: int) -> str:
    """A cheap fingerprint of the dataset's item set: count, smallest and largest id."""
    i = t.items.c
    n, lo, hi = conn.execute(
        sa.select(sa.func.count(), sa.func.min(i.id), sa.func.max(i.id)).where(
            i.dataset_id == dataset_id
        )
    ).one()
    return f"{n}:{lo}:{hi}"


def dataset_kind(conn: Connection, dataset_id: int) -> str:
    """The item kind the ``auto`` featurizer uses: image, else text, else tabular."""
    kinds = conn.execute(
        sa.select(t.datasets.c.kinds).where(t.datasets.c.id == dataset_id)
    ).scalar()
    kinds = orjson.loads(kinds) if isinstance(kinds, (str, bytes)) else kinds or []
    for kind in ("image", "text", "tabular"):
        if kind in kinds:
            return kind
    raise InvalidParameter("The dataset has no items to featurize yet.")


def resolve_featurizer(conn: Connection, dataset_id: int, featurizer: str | Featurizer) -> Any:
    """A Featurizer object, or the name of imported vectors (a str)."""
    if isinstance(featurizer, Featurizer):
        return featurizer
    if featurizer == "auto":
        featurizer = AUTO_BY_KIND[dataset_kind(conn, dataset_id)]
    if featurizer in BUILTIN:
        return BUILTIN[featurizer]()
    if _latest_imported(conn, dataset_id, featurizer) is not None:
        return featurizer
    names = sorted({*BUILTIN, *imported_names(conn, dataset_id)})
    raise InvalidParameter(
        f"Unknown featurizer {featurizer!r}. Use auto or one of: {', '.join(names)} "
        "(or import your own vectors with `assay features import`)."
    )


def featurize(
    ds: Dataset,
    filter: str | None = None,
    *,
    featurizer: str | Featurizer = "auto",
    item_ids: Sequence[int] | np.ndarray | None = None,
    progress: ProgressCallback | None = None,
) -> Features:
    """Feature vectors for the items ``filter`` (and ``item_ids``) select, from the cache.

    Parameters
    ----------
    ds : Dataset
    filter : str, optional
        A filter such as ``"split=train"``; default all items (of the featurizer's kind).
    featurizer : str or Featurizer, default "auto"
        ``auto`` (by item kind), ``pixels``, ``minilm``, ``tabular``, the name of imported
        vectors, or a fitted Featurizer (a model run's, so new items get the same transform).
    item_ids : sequence of int, optional
        Restrict to these items as well.
    progress : callable, optional
        ``progress(done, total, message)`` while vectors are computed.

    Returns
    -------
    Features
        ``item_ids`` ascending, ``X`` float32.
    """
    report = progress or no_progress
    with ds.store.read() as conn:
        chosen = resolve_featurizer(conn, ds.id, featurizer)
    if isinstance(chosen, str):
        set_id, fitted, cached = _imported_set(ds, chosen), None, True
    else:
        set_id, fitted, cached = _ensure_set(ds, chosen, report)
    with ds.store.read() as conn:
        ids, X = _read_vectors(conn, ds.id, set_id, filter, item_ids)
    if isinstance(chosen, str):
        _check_imported_cover(ds, chosen, filter, item_ids, len(ids))
        return Features(ids, X, chosen, None, None, None, set_id, True)
    assert fitted is not None
    return Features(ids, X, fitted.name, fitted.kind, fitted.image_shape, fitted, set_id, cached)


# -- the cache -----------------------------------------------------------------------------


def _ensure_set(
    ds: Dataset, featurizer: Featurizer, report: ProgressCallback
) -> tuple[int, Featurizer, bool]:
    """The ready feature set for ``featurizer`` at the current item version (built if need be).

    Returns its id, the fitted featurizer and whether it came from the cache.
    """
    config_hash = digest({"name": featurizer.name, "config": featurizer.config()})
    fitted = _is_fitted(featurizer)
    with ds.store.read() as conn:
        version = item_version(conn, ds.id)
        row = _find_set(conn, ds.id, featurizer.name, config_hash, version)
    if row is not None:
        stored = _load_state(ds, row.id, featurizer)
        if not fitted:
            return row.id, stored, True
        if stored.fingerprint() == featurizer.fingerprint():
            return row.id, featurizer, True
    key = config_hash
    if fitted:
        # A run's featurizer whose state differs from the dataset's current fit: its own set.
        key = digest({"config": config_hash, "state": featurizer.fingerprint()})
        with ds.store.read() as conn:
            row = _find_set(conn, ds.id, featurizer.name, key, version)
        if row is not None:
            return row.id, featurizer, True
    else:
        with ds.store.read() as conn:
            featurizer.fit(conn, ds.id)
    set_id = _build_set(ds, featurizer, key, version, report)
    return set_id, featurizer, False


def _is_fitted(featurizer: Featurizer) -> bool:
    return any(k.endswith("_") and not k.startswith("_") for k in vars(featurizer))


def _find_set(conn: Connection, dataset_id: int, name: str, params_hash: str, version: str) -> Any:
    fs = t.feature_sets.c
    return conn.execute(
        sa.select(t.feature_sets).where(
            fs.dataset_id == dataset_id,
            fs.featurizer == name,
            fs.params_hash == params_hash,
            fs.item_version == version,
            fs.state == "ready",
        )
    ).first()


def _state_path(ds: Dataset, set_id: int) -> Path:
    return artifacts.artifact_dir(ds.project.root, "features") / f"{set_id}.joblib"


def _load_state(ds: Dataset, set_id: int, like: Featurizer | None = None) -> Featurizer:
    """The fitted featurizer of a set. Its file lives in the project folder; on another
    machine sharing a PostgreSQL store it may be missing: then ``like`` is refitted (fitting
    is deterministic for a given item version) and saved here."""
    path = _state_path(ds, set_id)
    if not path.exists() and like is not None:
        fresh = copy.deepcopy(like)
        with ds.store.read() as conn:
            fresh.fit(conn, ds.id)
        artifacts.save(fresh, path)
        return fresh
    featurizer = artifacts.load(path)
    assert isinstance(featurizer, Featurizer)
    return featurizer


def _build_set(
    ds: Dataset, featurizer: Featurizer, params_hash: str, version: str, report: ProgressCallback
) -> int:
    """Compute and store a feature set chunk by chunk; visible only once complete."""
    fs = t.feature_sets.c
    with ds.store.write() as conn:
        # A set left 'building' by a killed process is dropped and rebuilt.
        conn.execute(
            t.feature_sets.delete().where(
                fs.dataset_id == ds.id,
                fs.featurizer == featurizer.name,
                fs.params_hash == params_hash,
                fs.item_version == version,
            )
        )
        set_id = int(
            conn.execute(
                t.feature_sets.insert().values(
                    dataset_id=ds.id, featurizer=featurizer.name, params_hash=params_hash,
                    item_version=version, dim=0, n_items=0, state="building",
                    created_at=datetime.now(UTC),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )  # fmt: skip
    try:
        artifacts.save(featurizer, _state_path(ds, set_id))
        reused = _reuse_previous(ds, featurizer, set_id, version) if featurizer.stateless else 0
        dim, n = _fill_set(ds, featurizer, set_id, reused, report)
        with ds.store.write() as conn:
            conn.execute(
                t.feature_sets.update()
                .where(fs.id == set_id)
                .values(state="ready", dim=dim, n_items=n)
            )
            # Older versions of this featurizer are superseded: drop them (and their vectors).
            old = list(
                conn.execute(
                    sa.select(fs.id).where(
                        fs.dataset_id == ds.id, fs.featurizer == featurizer.name,
                        fs.params_hash == params_hash, fs.id != set_id,
                    )
                ).scalars()
            )  # fmt: skip
            _drop_sets(ds, conn, old)
    except BaseException:
        with ds.store.write() as conn:
            _drop_sets(ds, conn, [set_id])
        raise
    return set_id


def _drop_sets(ds: Dataset, conn: Connection, set_ids: list[int]) -> None:
    if not set_ids:
        return
    conn.execute(t.feature_vectors.delete().where(t.feature_vectors.c.feature_set_id.in_(set_ids)))
    conn.execute(t.feature_sets.delete().where(t.feature_sets.c.id.in_(set_ids)))
    for set_id in set_ids:
        _state_path(ds, set_id).unlink(missing_ok=True)


def _reuse_previous(ds: Dataset, featurizer: Featurizer, set_id: int, version: str) -> int:
    """Copy vectors of items already featurized (same featurizer state) in an older version."""
    fs = t.feature_sets.c
    with ds.store.read() as conn:
        rows = conn.execute(
            sa.select(fs.id).where(
                fs.dataset_id == ds.id, fs.featurizer == featurizer.name,
                fs.state == "ready", fs.item_version != version,
            ).order_by(fs.id.desc())
        ).scalars().all()  # fmt: skip
    for old_id in rows:
        if not _state_path(ds, old_id).exists():
            continue
        same = _load_state(ds, old_id).fingerprint() == featurizer.fingerprint()
        if not same:
            continue
        fv = t.feature_vectors.c
        with ds.store.write() as conn:
            copied = conn.execute(
                t.feature_vectors.insert().from_select(
                    ["feature_set_id", "item_id", "vector"],
                    sa.select(sa.literal(set_id, t.Id), fv.item_id, fv.vector).where(
                        fv.feature_set_id == old_id
                    ),
                )
            )
        return int(copied.rowcount or 0)
    return 0


def _fill_set(
    ds: Dataset, featurizer: Featurizer, set_id: int, done: int, report: ProgressCallback
) -> tuple[int, int]:
    """Featurize the dataset's items of this kind not yet in the set; returns (dim, count)."""
    i, fv = t.items.c, t.feature_vectors.c
    kind_filter = (i.dataset_id == ds.id) & (i.kind == featurizer.kind)
    with ds.store.read() as conn:
        total = queries.count_items(conn, ds.id, i.kind == featurizer.kind)
    if total == 0:
        raise InvalidParameter(
            f"The {featurizer.name!r} featurizer needs {featurizer.kind} items; there are none."
        )
    missing = ~sa.exists().where(fv.feature_set_id == set_id, fv.item_id == i.id)
    query = featurizer.query().where(kind_filter, missing)
    dim = 0
    report(done, total, f"features ({featurizer.name})")
    for rows in _chunks(ds, query):
        vectors = featurizer.transform(rows)
        if not np.isfinite(vectors).all():
            raise InvalidParameter(f"The {featurizer.name!r} features hold NaN or inf values.")
        dim = int(vectors.shape[1])
        with ds.store.write() as conn:
            bulk.bulk_insert(
                conn,
                "feature_vectors",
                ("feature_set_id", "item_id", "vector"),
                [(set_id, int(r[0]), _pack(v)) for r, v in zip(rows, vectors, strict=True)],
            )
        done += len(rows)
        report(done, total, f"features ({featurizer.name})")
    if dim == 0:  # everything was copied from an older version
        with ds.store.read() as conn:
            blob = conn.execute(
                sa.select(fv.vector).where(fv.feature_set_id == set_id).limit(1)
            ).scalar_one()
        dim = len(blob) // 4
    return dim, total


def _chunks(ds: Dataset, query: sa.Select[Any]) -> Iterator[list[tuple[Any, ...]]]:
    """Keyset-paged chunks of ``query``; each chunk read in its own short read transaction."""
    after = -1
    while True:
        with ds.store.read() as conn:
            rows = [
                tuple(r)
                for r in conn.execute(
                    query.where(t.items.c.id > after).order_by(t.items.c.id).limit(CHUNK)
                )
            ]
        if not rows:
            return
        yield rows
        after = int(rows[-1][0])


def _pack(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def _read_vectors(
    conn: Connection,
    dataset_id: int,
    set_id: int,
    filter: str | None,
    item_ids: Sequence[int] | np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(item ids ascending, float32 matrix) of the set's vectors for the slice, streamed."""
    fv = t.feature_vectors.c
    dim = int(
        conn.execute(
            sa.select(t.feature_sets.c.dim).where(t.feature_sets.c.id == set_id)
        ).scalar_one()
    )
    query = sa.select(fv.item_id, fv.vector).where(fv.feature_set_id == set_id)
    where = filters.compile_filter(conn, dataset_id, filter)
    if where is not None:
        query = query.join(t.items, t.items.c.id == fv.item_id).where(where)
    query = query.order_by(fv.item_id)
    wanted = None if item_ids is None else np.unique(np.asarray(item_ids, dtype=np.int64))
    id_parts: list[np.ndarray] = []
    x_parts: list[np.ndarray] = []
    for rows in queries.iter_tuples(conn, query, READ_CHUNK):
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        X = np.frombuffer(b"".join(bytes(r[1]) for r in rows), dtype="<f4").reshape(-1, dim)
        if wanted is not None:
            keep = np.isin(ids, wanted)
            ids, X = ids[keep], X[keep]
        id_parts.append(ids)
        x_parts.append(X.astype(np.float32, copy=False))
    if not id_parts:
        return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
    return np.concatenate(id_parts), np.concatenate(x_parts)


# -- imported vectors ------------------------------------------------------------------------


def imported_names(conn: Connection, dataset_id: int) -> list[str]:
    """Names of the user-imported feature sets of the dataset."""
    fs = t.feature_sets.c
    return sorted(
        conn.execute(
            sa.select(fs.featurizer)
            .where(fs.dataset_id == dataset_id, fs.params_hash == IMPORTED, fs.state == "ready")
            .distinct()
        ).scalars()
    )


def _latest_imported(conn: Connection, dataset_id: int, name: str) -> int | None:
    fs = t.feature_sets.c
    found = conn.execute(
        sa.select(fs.id)
        .where(
            fs.dataset_id == dataset_id,
            fs.featurizer == name,
            fs.params_hash == IMPORTED,
            fs.state == "ready",
        )
        .order_by(fs.id.desc())
        .limit(1)
    ).scalar()
    return None if found is None else int(found)


def _imported_set(ds: Dataset, name: str) -> int:
    with ds.store.read() as conn:
        set_id = _latest_imported(conn, ds.id, name)
    assert set_id is not None
    return set_id


def _check_imported_cover(
    ds: Dataset,
    name: str,
    filter: str | None,
    item_ids: Sequence[int] | np.ndarray | None,
    n_found: int,
) -> None:
    """Imported vectors must cover the slice: say how many items lack them."""
    with ds.store.read() as conn:
        n_wanted = queries.count_items(conn, ds.id, filters.compile_filter(conn, ds.id, filter))
    if item_ids is not None:
        n_wanted = min(n_wanted, len(np.unique(np.asarray(item_ids))))
    if n_found < n_wanted:
        raise InvalidParameter(
            f"{n_wanted - n_found} of the {n_wanted} items selected have no imported {name!r} "
            "vectors. Import vectors for them too, or leave them out with a filter."
        )


def import_features(
    ds: Dataset,
    path: str | os.PathLike[str],
    *,
    name: str,
    ids: str | os.PathLike[str] | Sequence[int | str] | None = None,
    key_column: str = "key",
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Import a user's own embeddings as the featurizer ``name``.

    Parameters
    ----------
    path : path
        A ``.npy`` matrix (n_items, dim) with ``ids`` giving the item of each row, or a
        Parquet file with a ``key_column`` (item external keys) and either one list column of
        vectors or only numeric columns besides the key.
    name : str
        The featurizer name to use them by (not a built-in one).
    ids : path or sequence, optional
        For ``.npy``: item ids (ints) or external keys (strings), as a sequence or a ``.npy`` /
        text file with one per line.
    key_column : str, default "key"
        For Parquet: the column with the item external keys.

    Returns
    -------
    dict
        ``name``, ``n_items``, ``dim``, ``feature_set_id``.
    """
    if name in BUILTIN or name == "auto" or not name.strip():
        raise InvalidParameter(f"{name!r} is a built-in featurizer name; choose another name.")
    path = Path(path)
    refs, X = _read_vector_file(path, ids, key_column)
    if X.ndim != 2 or len(X) != len(refs):
        raise DataFormatError(
            f"{path}: expected a 2-D matrix with one row per id; got shape {X.shape} "
            f"and {len(refs)} ids."
        )
    if not np.isfinite(X).all():
        raise DataFormatError(f"{path}: the vectors hold NaN or infinite values.")
    from assay.labels.writes import resolve_items

    with ds.store.read() as conn:
        item_ids = _resolve_refs(conn, ds.id, refs, resolve_items)
    if len(np.unique(item_ids)) != len(item_ids):
        raise DataFormatError(f"{path}: some items appear more than once.")
    return _store_imported(ds, name, item_ids, X.astype(np.float32), progress or no_progress)


def _read_vector_file(path: Path, ids: Any, key_column: str) -> tuple[list[int | str], np.ndarray]:
    if not path.exists():
        raise DataFormatError(f"{path}: no such file.")
    if path.suffix == ".npy":
        X = np.load(path, allow_pickle=False)
        if ids is None:
            raise InvalidParameter(f"{path} holds only vectors: pass ids (item ids or keys).")
        if isinstance(ids, (str, os.PathLike)):
            id_path = Path(ids)
            if id_path.suffix == ".npy":
                refs: list[Any] = np.load(id_path, allow_pickle=False).tolist()
            else:
                refs = [ln.strip() for ln in id_path.read_text().splitlines() if ln.strip()]
        else:
            refs = list(ids)
        return refs, np.asarray(X)
    if path.suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if key_column not in table.column_names:
            raise DataFormatError(
                f"{path}: no key column {key_column!r}; columns: {', '.join(table.column_names)}."
            )
        keys = [str(k) for k in table.column(key_column).to_pylist()]
        rest = [c for c in table.column_names if c != key_column]
        if len(rest) == 1 and str(table.schema.field(rest[0]).type).startswith(
            ("list", "fixed_size_list", "large_list")
        ):
            X = np.asarray(table.column(rest[0]).to_pylist(), dtype=np.float64)
        else:
            try:
                X = np.column_stack([table.column(c).to_numpy() for c in rest]).astype(np.float64)
            except (ValueError, TypeError) as exc:
                raise DataFormatError(
                    f"{path}: besides {key_column!r}, expected numeric columns or one list "
                    f"column of vectors ({exc})."
                ) from None
        return list(keys), X
    raise DataFormatError(f"{path}: expected a .npy or .parquet file of vectors.")


def _resolve_refs(conn: Connection, dataset_id: int, refs: list[Any], resolve_items: Any) -> Any:
    keys = [r for r in refs if isinstance(r, str)]
    key_ids = resolve_items(conn, dataset_id, keys) if keys else {}
    queries.check_items(conn, dataset_id, [int(r) for r in refs if not isinstance(r, str)])
    return np.array([key_ids[r] if isinstance(r, str) else int(r) for r in refs], dtype=np.int64)


def _store_imported(
    ds: Dataset, name: str, item_ids: np.ndarray, X: np.ndarray, report: ProgressCallback
) -> dict[str, Any]:
    """Write imported vectors as a new set; the previous import of ``name`` is replaced."""
    fs = t.feature_sets.c
    order = np.argsort(item_ids)
    item_ids, X = item_ids[order], X[order]
    with ds.store.write() as conn:
        version = item_version(conn, ds.id)
        busy = conn.execute(
            sa.select(fs.id).where(
                fs.dataset_id == ds.id, fs.featurizer == name, fs.state == "building"
            )
        ).first()
        if busy is not None:
            raise Conflict(f"Vectors named {name!r} are being imported by another process.")
        # One import per (name, item version): a re-import at the same version replaces it.
        conn.execute(
            t.feature_sets.delete().where(
                fs.dataset_id == ds.id, fs.featurizer == name, fs.params_hash == IMPORTED,
                fs.item_version == version,
            )
        )  # fmt: skip
        set_id = int(
            conn.execute(
                t.feature_sets.insert().values(
                    dataset_id=ds.id, featurizer=name, params_hash=IMPORTED,
                    item_version=version, dim=int(X.shape[1]), n_items=len(item_ids),
                    state="building", created_at=datetime.now(UTC),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )  # fmt: skip
    try:
        for start in range(0, len(item_ids), CHUNK):
            rows = [
                (set_id, int(i), _pack(v))
                for i, v in zip(item_ids[start : start + CHUNK], X[start : start + CHUNK],
                                strict=True)
            ]  # fmt: skip
            with ds.store.write() as conn:
                bulk.bulk_insert(conn, "feature_vectors", ("feature_set_id", "item_id", "vector"),
                                 rows)  # fmt: skip
            report(min(start + CHUNK, len(item_ids)), len(item_ids), f"importing {name}")
        with ds.store.write() as conn:
            conn.execute(t.feature_sets.update().where(fs.id == set_id).values(state="ready"))
            old = list(
                conn.execute(
                    sa.select(fs.id).where(
                        fs.dataset_id == ds.id, fs.featurizer == name, fs.id != set_id
                    )
                ).scalars()
            )
            _drop_sets(ds, conn, old)
    except BaseException:
        with ds.store.write() as conn:
            _drop_sets(ds, conn, [set_id])
        raise
    return {"name": name, "n_items": len(item_ids), "dim": int(X.shape[1]),
            "feature_set_id": set_id}  # fmt: skip


def feature_sets(ds: Dataset) -> list[dict[str, Any]]:
    """The dataset's cached and imported feature sets, newest first."""
    fs = t.feature_sets.c
    with ds.store.read() as conn:
        rows = conn.execute(
            sa.select(t.feature_sets).where(fs.dataset_id == ds.id).order_by(fs.id.desc())
        ).all()
    return [
        {
            "id": r.id, "featurizer": r.featurizer, "imported": r.params_hash == IMPORTED,
            "item_version": r.item_version, "dim": r.dim, "n_items": r.n_items,
            "state": r.state, "created_at": r.created_at,
        }
        for r in rows
    ]  # fmt: skip


def read_cached_vectors(ds: Dataset, set_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Every vector of a stored feature set of ``ds``: (item ids ascending, float32 matrix).

    Reads only what is stored (no featurizing), for callers that must not compute, such as
    the web app's item page.
    """
    with ds.store.read() as conn:
        found = conn.execute(
            sa.select(t.feature_sets.c.id).where(
                t.feature_sets.c.id == set_id, t.feature_sets.c.dataset_id == ds.id
            )
        ).first()
        if found is None:
            raise InvalidParameter(f"Dataset {ds.name!r} has no feature set {set_id}.")
        return _read_vectors(conn, ds.id, set_id, None, None)
