"""Computing an embedding map: featurize, reduce to 2-D, store the points.

The map row is inserted ``running`` first, the points are written in chunks, and the last
chunk is written in the same transaction that marks the map ``ready`` with its size and
bounds, so a reader sees a whole map or none. Any error (including a cancelled job, whose
progress callback raises) marks the map ``failed`` with the message and drops its points.
"""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.maps.specs import MapSpec
from assay.progress import ProgressCallback, no_progress
from assay.store import schema as t
from assay.store.bulk import bulk_insert

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

PCA_DIMS = 50  # UMAP runs on at most this many PCA components: much faster, same picture
LARGE = 200_000  # above this many points, UMAP is fitted on a sample and the rest transformed
FIT_SAMPLE = 100_000
TRANSFORM_CHUNK = 20_000
WRITE_CHUNK = 20_000
MIN_UMAP_POINTS = 10
INSTALL_HINT = "umap-learn is not installed, so this map is a 2-D PCA: install assay[map] for UMAP."


def compute_map(
    ds: Dataset,
    spec: MapSpec | None = None,
    /,
    *,
    author: str | None = None,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Compute and store a 2-D map of the items ``spec.filter`` selects; returns its
    description.

    ``spec`` (:class:`assay.maps.specs.MapSpec`) or its fields as keywords: ``featurizer``
    (as for :func:`assay.models.features.featurize`), ``filter`` (default: every item the
    featurizer covers), ``method`` (``umap``, with PCA to 50 dimensions first when there are
    more, or ``pca``, the quick linear view; without umap-learn ``umap`` falls back to PCA and
    says so in ``notes``), ``n_neighbors``, ``min_dist`` and ``seed`` (UMAP's parameters;
    ``seed`` also seeds PCA and the fitting sample: deterministic). ``author`` defaults to
    ``$ASSAY_USER`` or the login name; ``progress(done, total, message)``.

    Returns
    -------
    dict
        JSON-able: ``map_id``, ``state`` ("ready"), ``method`` (the one used), ``n_points``,
        ``bounds`` ([xmin, ymin, xmax, ymax]), ``featurizer``, ``params``, ``notes``,
        ``seconds``.
    """
    from assay.labels.writes import default_author

    spec = MapSpec.of(spec, **options)
    featurizer, filter, method = spec.featurizer, spec.filter, spec.method
    n_neighbors, min_dist, seed = spec.n_neighbors, spec.min_dist, spec.seed
    report = progress or no_progress
    started = time.monotonic()
    params: dict[str, Any] = {
        "requested_method": method,
        "n_neighbors": int(n_neighbors),
        "min_dist": float(min_dist),
        "seed": int(seed),
        "notes": [],
    }
    with ds.store.write() as conn:
        map_id = int(
            conn.execute(
                sa.insert(t.maps)
                .values(
                    dataset_id=ds.id,
                    state="running",
                    method=method,
                    featurizer=str(featurizer),
                    filter=filter or None,
                    params=params,
                    created_by=author or default_author(),
                    created_at=datetime.now(UTC),
                )
                .returning(t.maps.c.id)
            ).scalar_one()
        )
    try:
        return _run(ds, map_id, featurizer, filter, method, params, report, started)
    except BaseException as exc:
        _mark_failed(ds, map_id, exc)
        raise


def _run(
    ds: Dataset,
    map_id: int,
    featurizer: str,
    filter: str | None,
    method: str,
    params: dict[str, Any],
    report: ProgressCallback,
    started: float,
) -> dict[str, Any]:
    from assay.models.features import featurize

    report(0, None, "reading feature vectors")
    features = featurize(ds, filter or None, featurizer=featurizer, progress=report)
    ids, X = features.item_ids, np.asarray(features.X, dtype=np.float32)
    if len(ids) < 2:
        raise InvalidParameter(
            f"A map needs at least 2 items with {features.name!r} features; found {len(ids)}."
        )
    X = np.nan_to_num(X, copy=False)
    xy, used = reduce_2d(X, method=method, params=params, report=report)
    xy = np.asarray(xy, dtype=np.float32)
    bounds = [
        float(xy[:, 0].min()),
        float(xy[:, 1].min()),
        float(xy[:, 0].max()),
        float(xy[:, 1].max()),
    ]
    n = len(ids)
    id_list, x_list, y_list = ids.tolist(), xy[:, 0].tolist(), xy[:, 1].tolist()
    columns = ("map_id", "item_id", "x", "y")
    last = max(0, n - WRITE_CHUNK)
    for lo in range(0, last, WRITE_CHUNK):
        hi = min(lo + WRITE_CHUNK, last)
        with ds.store.write() as conn:
            rows = list(zip(repeat(map_id), id_list[lo:hi], x_list[lo:hi], y_list[lo:hi]))
            bulk_insert(conn, "map_points", columns, rows)
        report(hi, n, "writing points")
    params["seconds"] = round(time.monotonic() - started, 3)
    with ds.store.write() as conn:
        rows = list(zip(repeat(map_id), id_list[last:], x_list[last:], y_list[last:]))
        bulk_insert(conn, "map_points", columns, rows)
        conn.execute(
            t.maps.update()
            .where(t.maps.c.id == map_id)
            .values(
                state="ready",
                method=used,
                featurizer=features.name,
                params=params,
                n_points=n,
                bounds=bounds,
                finished_at=datetime.now(UTC),
            )
        )
    report(n, n, "map ready")
    return {
        "map_id": map_id,
        "dataset": ds.name,
        "state": "ready",
        "method": used,
        "featurizer": features.name,
        "filter": filter or None,
        "n_points": n,
        "bounds": bounds,
        "params": params,
        "notes": list(params["notes"]),
        "seconds": params["seconds"],
    }


def _mark_failed(ds: Dataset, map_id: int, exc: BaseException) -> None:
    """Record the error and drop the points written so far (best effort)."""
    message = str(exc) or type(exc).__name__
    try:
        with ds.store.write() as conn:
            conn.execute(sa.delete(t.map_points).where(t.map_points.c.map_id == map_id))
            conn.execute(
                t.maps.update()
                .where(t.maps.c.id == map_id)
                .values(state="failed", error=message[:2000], finished_at=datetime.now(UTC))
            )
    except Exception:  # the original error is what the caller must see
        pass


def reduce_2d(
    X: np.ndarray,
    *,
    method: str,
    params: dict[str, Any],
    report: ProgressCallback = no_progress,
) -> tuple[np.ndarray, str]:
    """2-D coordinates for the rows of ``X`` and the method actually used.

    ``params`` (``n_neighbors``, ``min_dist``, ``seed``) is updated with what was done:
    ``pca_dims``, ``fit_sample`` and ``notes``.
    """
    n = len(X)
    seed = int(params.get("seed", 0))
    notes: list[str] = params.setdefault("notes", [])
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, FIT_SAMPLE, replace=False)) if n > LARGE else None
    if method == "umap" and _import_umap() is None:
        notes.append(INSTALL_HINT)
        method = "pca"
    if method == "umap" and n < MIN_UMAP_POINTS:
        notes.append(f"Only {n} points: a 2-D PCA instead of UMAP.")
        method = "pca"
    if method == "pca":
        report(0, None, f"PCA of {n:,} points")
        return _pca(X, 2, seed, sample), "pca"
    if X.shape[1] > PCA_DIMS:
        report(0, None, f"PCA to {PCA_DIMS} dimensions")
        X = _pca(X, PCA_DIMS, seed, sample)
        params["pca_dims"] = PCA_DIMS
    return _umap(X, params, sample, report), "umap"


def _import_umap() -> Any:
    """The umap module, or None when umap-learn is not installed."""
    with warnings.catch_warnings():
        # umap warns on import that TensorFlow (for ParametricUMAP, unused here) is missing.
        warnings.simplefilter("ignore")
        try:
            import umap
        except ImportError:
            return None
    # pynndescent's progress bars would start tqdm's monitor thread, which outlives the map;
    # a process with extra threads no longer forks import and statistics workers
    # (assay.processes.can_fork).
    from tqdm import tqdm

    tqdm.monitor_interval = 0
    return umap


def _pca(X: np.ndarray, dims: int, seed: int, sample: np.ndarray | None) -> np.ndarray:
    """PCA to ``dims`` components (fitted on ``sample`` when given); zero-padded if X is narrow."""
    from sklearn.decomposition import PCA

    k = min(dims, X.shape[1], len(X) if sample is None else len(sample))
    pca = PCA(n_components=k, random_state=seed)
    pca.fit(X if sample is None else X[sample])
    out = np.zeros((len(X), dims), dtype=np.float32)
    for lo in range(0, len(X), TRANSFORM_CHUNK * 5):
        out[lo : lo + TRANSFORM_CHUNK * 5, :k] = pca.transform(X[lo : lo + TRANSFORM_CHUNK * 5])
    return out


def _umap(
    X: np.ndarray, params: dict[str, Any], sample: np.ndarray | None, report: ProgressCallback
) -> np.ndarray:
    umap = _import_umap()
    n = len(X)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(int(params["n_neighbors"]), n - 1),
        min_dist=float(params["min_dist"]),
        random_state=int(params["seed"]),
        low_memory=True,
    )
    with warnings.catch_warnings():
        # "n_jobs overridden by random_state": seeded UMAP is single-threaded, as we want.
        warnings.simplefilter("ignore", UserWarning)
        if sample is None:
            report(0, None, f"fitting UMAP on {n:,} points")
            return np.asarray(reducer.fit_transform(X), dtype=np.float32)
        params["fit_sample"] = len(sample)
        report(0, n, f"fitting UMAP on a sample of {len(sample):,} points")
        out = np.empty((n, 2), dtype=np.float32)
        out[sample] = reducer.fit_transform(X[sample])
        rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
        done = len(sample)
        for lo in range(0, len(rest), TRANSFORM_CHUNK):
            chunk = rest[lo : lo + TRANSFORM_CHUNK]
            out[chunk] = reducer.transform(X[chunk])
            done += len(chunk)
            report(done, n, "placing the other points on the map")
        return out
