"""Predictions from outside Assay: a file of probabilities, or a user's model server.

**Files.** CSV or Parquet with an item column (``key`` or ``item_id``) and one probability
column per class, named after the class; or NumPy ``.npz`` with arrays ``probs``
(n x classes, in the dataset's class order) and ``keys`` or ``item_ids``. NumPy files are read
with ``allow_pickle=False``: no file a user gives is ever unpickled.

**Model servers** speak a small HTTP+JSON protocol (docs/model-server.md). Assay POSTs batches

    {"protocol": "assay-predict/1", "dataset": "...", "classes": ["cat", "dog"],
     "items": [{"id": 17, "key": "img-17", "kind": "image",
                "image_png_base64": "..."} | {"text": "..."} | {"fields": {...}}]}

and the server answers ``{"probs": [[0.9, 0.1], ...]}``, one row per item in the same order.
A detector answers boxes instead, one list per item in the same order (``[]``: nothing
found), each box in pixels from the image's top-left corner with its class and score:

    {"boxes": [[{"class": "cat", "x": 12.0, "y": 30.5, "w": 40.0, "h": 22.0, "score": 0.93},
                ...],
               [], ...]}

and the run's layer is then a box model layer (``value_kind="boxes"``); every box is checked
like any box label (a known class, inside its image, a score in [0, 1]) before anything is
stored. A server answers one or the other for the whole run.
Only servers named in the project's ``assay.toml`` (``[model_servers]`` ``name = "url"``) are
called, so a user of the web app cannot make the server reach arbitrary addresses.

Either way every row is checked before anything is stored, and the run (a ``model_runs`` row
and a ``model`` layer holding label = argmax with the probabilities) is written in one
transaction: a bad file or a failing server leaves nothing behind.
"""

from __future__ import annotations

import base64
import json
import math
import os
import tomllib
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from assay.errors import DataFormatError, InvalidParameter, where
from assay.labels.layers import create_layer
from assay.labels.writes import LabelWrite, default_author, resolve_items, write_labels
from assay.store import queries
from assay.store import schema as t

if TYPE_CHECKING:
    from assay.handle import DatasetHandle as Dataset

PROTOCOL = "assay-predict/1"
SUM_TOLERANCE = 1e-3
MAX_ERRORS = 5


@dataclass(frozen=True)
class ExternalRun:
    """What an import or a server call stored."""

    name: str
    layer: str
    n_items: int


# -- checks shared by files and servers --------------------------------------------------------


def check_probs(probs: np.ndarray, classes: Sequence[str], where_of: Any) -> np.ndarray:
    """Probabilities must be finite, in [0, 1] and sum to 1 per row; errors name the rows."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(classes):
        raise DataFormatError(
            f"Expected one probability per class ({len(classes)}: {', '.join(classes)}) for "
            f"each item; got an array of shape {probs.shape}."
        )
    bad: list[str] = []
    finite = np.asarray(np.isfinite(probs).all(axis=1))
    in_range = np.asarray(((probs >= 0) & (probs <= 1)).all(axis=1))
    sums = np.where(finite, probs.sum(axis=1), np.nan)
    for row in np.nonzero(~finite | ~in_range | ~(np.abs(sums - 1) <= SUM_TOLERANCE))[0]:
        if len(bad) == MAX_ERRORS:
            bad.append("...")
            break
        if not finite[row] or not in_range[row]:
            bad.append(f"{where_of(int(row))}: probabilities must be numbers in [0, 1]")
        else:
            bad.append(f"{where_of(int(row))}: probabilities sum to {sums[row]:.4f}, not 1")
    if bad:
        raise DataFormatError("Nothing was stored; fix these rows:\n  " + "\n  ".join(bad))
    return probs


def store_run(
    ds: Dataset,
    name: str,
    item_ids: Sequence[int],
    probs: np.ndarray,
    *,
    kind: str,
    model: str,
    params: dict[str, Any] | None = None,
    author: str | None = None,
    boxes: Sequence[Sequence[dict[str, Any]]] | None = None,
) -> ExternalRun:
    """Write the run row and its model layer in one transaction (with ``boxes``, one list
    of scored boxes per item, a box model layer; ``probs`` is then ignored)."""
    author = author or default_author()
    classes = ds.classes()
    now = datetime.now(UTC)
    with ds.store.write() as conn:
        taken = conn.execute(
            sa.select(t.model_runs.c.id).where(
                t.model_runs.c.dataset_id == ds.id, t.model_runs.c.name == name
            )
        ).first()
        if taken is not None:
            raise InvalidParameter(f"A model run named {name!r} exists; choose another name.")
        layer = create_layer(
            conn,
            ds.id,
            name,
            kind="model",
            value_kind="boxes" if boxes is not None else "classification",
            description=f"Predictions from {model}",
            origin={"run": name, "kind": kind},
        )
        layer_id = queries.get_layer(conn, ds.id, layer["name"]).id
        if boxes is not None:
            writes = [
                LabelWrite(int(i), [dict(b) for b in per_item])
                for i, per_item in zip(item_ids, boxes, strict=True)
            ]
        else:
            writes = [
                LabelWrite(int(i), classes[int(np.argmax(p))], probs=p.tolist())
                for i, p in zip(item_ids, probs, strict=True)
            ]
        try:
            write_labels(conn, ds.id, layer["name"], writes, author=author)
        except InvalidParameter as exc:
            if boxes is None:
                raise
            raise DataFormatError(f"{model}: {exc} Nothing was stored.") from exc
        conn.execute(
            t.model_runs.insert().values(
                dataset_id=ds.id,
                name=name,
                kind=kind,
                state="done",
                model=model,
                params=params,
                layer_id=layer_id,
                created_by=author,
                created_at=now,
                finished_at=datetime.now(UTC),
            )
        )
    return ExternalRun(name, layer["name"], len(writes))


# -- files -------------------------------------------------------------------------------------


def import_predictions(
    ds: Dataset, path: str | os.PathLike[str], *, name: str, author: str | None = None
) -> ExternalRun:
    """Import a file of probabilities (CSV, Parquet or .npz) as a model run named ``name``."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file.")
    classes = ds.classes()
    suffix = path.suffix.lower()
    if suffix == ".npz":
        refs, probs, where_of = _read_npz(path, classes)
    elif suffix == ".npy":
        raise DataFormatError(
            f"{path}: a .npy file has no item ids. Save an .npz with arrays 'probs' and 'keys' "
            "(or 'item_ids'): np.savez(path, probs=probs, keys=keys)."
        )
    elif suffix in (".csv", ".parquet", ".pq"):
        refs, probs, where_of = _read_table(path, classes)
    else:
        raise DataFormatError(f"{path}: use a .csv, .parquet or .npz file of probabilities.")
    probs = check_probs(probs, classes, where_of)
    item_ids = _resolve(ds, refs, path)
    if len(set(item_ids)) != len(item_ids):
        raise DataFormatError(f"{path}: an item appears more than once; give each item one row.")
    return store_run(
        ds, name, item_ids, probs, kind="import", model=f"import:{path.name}", author=author
    )


def _read_table(path: Path, classes: list[str]) -> tuple[list[Any], np.ndarray, Any]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        table = pacsv.read_csv(path) if path.suffix.lower() == ".csv" else pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise DataFormatError(f"{path}: cannot be read as a table ({exc}).") from exc
    columns = table.column_names
    key = next((c for c in ("key", "item_id") if c in columns), None)
    if key is None:
        raise DataFormatError(
            f"{where(path, 1)}: no 'key' (or 'item_id') column; columns: {', '.join(columns)}."
        )
    unknown = [c for c in columns if c != key and c not in classes]
    missing = [c for c in classes if c not in columns]
    if unknown or missing:
        raise DataFormatError(
            f"{where(path, 1)}: the probability columns must be the dataset's classes "
            f"({', '.join(classes)})"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + "."
        )
    try:
        probs = np.column_stack(
            [table.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in classes]
        )
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"{path}: a probability column is not numeric ({exc}).") from exc
    refs = table.column(key).to_pylist()
    if key == "key":
        refs = [str(r) for r in refs]
    line = 2 if path.suffix.lower() == ".csv" else 0
    return refs, probs, lambda row: where(path, row + line) if line else f"{path}, row {row}"


def _read_npz(path: Path, classes: list[str]) -> tuple[list[Any], np.ndarray, Any]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError) as exc:
        raise DataFormatError(
            f"{path}: not a NumPy .npz of plain arrays ({exc}); object arrays are refused."
        ) from exc
    if "probs" not in arrays or not ({"keys", "item_ids"} & set(arrays)):
        raise DataFormatError(
            f"{path}: needs arrays 'probs' and 'keys' (or 'item_ids'); has {sorted(arrays)}."
        )
    probs = arrays["probs"]
    refs_array = arrays["keys"] if "keys" in arrays else arrays["item_ids"]
    if len(refs_array) != len(probs):
        raise DataFormatError(
            f"{path}: {len(refs_array)} ids but {len(probs)} rows of probabilities."
        )
    refs: list[Any] = (
        [str(k) for k in refs_array.tolist()]
        if "keys" in arrays
        else [int(i) for i in refs_array.tolist()]
    )
    return refs, probs, lambda row: f"{path}, row {row}"


def _resolve(ds: Dataset, refs: list[Any], path: Path) -> list[int]:
    with ds.store.read() as conn:
        if refs and isinstance(refs[0], str):
            try:
                found = resolve_items(conn, ds.id, refs)
            except Exception as exc:
                raise DataFormatError(f"{path}: {exc}") from exc
            return [found[r] for r in refs]
        ids = [int(r) for r in refs]
        try:
            queries.check_items(conn, ds.id, ids)
        except Exception as exc:
            raise DataFormatError(f"{path}: {exc}") from exc
        return ids


# -- model servers -----------------------------------------------------------------------------


def configured_servers(root: Path) -> dict[str, str]:
    """The ``[model_servers]`` of the project's assay.toml: name -> URL (http or https)."""
    config = tomllib.loads((root / "assay.toml").read_text(encoding="utf-8"))
    servers = config.get("model_servers", {})
    out: dict[str, str] = {}
    for name, url in servers.items():
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise DataFormatError(
                f"{root / 'assay.toml'}: model server {name!r} needs an http(s) URL."
            )
        out[name] = url
    return out


def predict_with_server(
    ds: Dataset,
    server: str,
    *,
    name: str,
    filter: str | None = None,
    batch_size: int = 64,
    timeout_s: float = 30.0,
    author: str | None = None,
) -> ExternalRun:
    """Ask the configured model server ``server`` for probabilities (or boxes) of every item
    of the slice, in batches; store them as a model run only when every batch came back
    valid."""
    servers = configured_servers(ds.project.root)
    if server not in servers:
        known = ", ".join(servers) or "none configured"
        raise InvalidParameter(
            f"No model server named {server!r} in assay.toml [model_servers] ({known}). An "
            'admin adds one as: [model_servers]  my-model = "http://host:port/predict"'
        )
    url = servers[server]
    classes = ds.classes()
    ids: list[int] = []
    rows: list[np.ndarray] = []
    box_lists: list[list[dict[str, Any]]] = []
    answered: set[str] = set()
    after: int | str | None = None
    while True:
        page, after = ds.items(filter, after=after, limit=batch_size)
        if not page:
            break
        payload = {
            "protocol": PROTOCOL,
            "dataset": ds.name,
            "classes": classes,
            "items": [_item_payload(ds, item) for item in page],
        }
        answer = _post(url, payload, len(page), len(classes), timeout_s)
        if isinstance(answer, list):  # boxes
            answered.add("boxes")
            box_lists.extend(answer)
        else:
            answered.add("probs")
            probs = check_probs(answer, classes, lambda r, p=page: f"{server}: item {p[r]['id']}")
            rows.append(probs)
        if len(answered) > 1:
            raise DataFormatError(
                f"The model server at {url} answered probabilities for some batches and boxes "
                "for others; nothing was stored."
            )
        ids.extend(int(item["id"]) for item in page)
        if after is None:
            break
    if not ids:
        raise InvalidParameter("The slice has no items to predict.")
    if answered == {"boxes"}:
        return store_run(
            ds, name, ids, np.zeros((0, 0)), kind="server", model=f"server:{server}",
            params={"url": url, "filter": filter}, author=author, boxes=box_lists,
        )  # fmt: skip
    return store_run(
        ds,
        name,
        ids,
        np.vstack(rows),
        kind="server",
        model=f"server:{server}",
        params={"url": url, "filter": filter},
        author=author,
    )


def _item_payload(ds: Dataset, item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item["id"], "key": item["external_key"], "kind": item["kind"]}
    if item["kind"] == "image":
        with ds.store.read() as conn:
            blob = conn.execute(
                sa.select(t.media_blobs.c.data).where(t.media_blobs.c.item_id == item["id"])
            ).scalar()
        if blob is None and item.get("media_path"):
            blob = Path(item["media_path"]).read_bytes()
        out["image_png_base64"] = base64.b64encode(blob or b"").decode()
    elif item["kind"] == "text":
        out["text"] = item["text"]
    else:
        out["fields"] = item["fields"]
    return out


def _post(url: str, payload: dict[str, Any], n: int, n_classes: int, timeout_s: float) -> Any:
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read(64 * 1024 * 1024 + 1)
    except TimeoutError as exc:
        raise DataFormatError(
            f"The model server at {url} did not answer within {timeout_s:g} s; nothing was "
            "stored. Check that it is running, or raise the timeout."
        ) from exc
    except urllib.error.HTTPError as exc:
        raise DataFormatError(
            f"The model server at {url} answered HTTP {exc.code}; nothing was stored."
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise DataFormatError(
                f"The model server at {url} did not answer within {timeout_s:g} s; nothing "
                "was stored."
            ) from exc
        raise DataFormatError(
            f"Cannot reach the model server at {url} ({reason}); nothing was stored."
        ) from exc
    if len(raw) > 64 * 1024 * 1024:
        raise DataFormatError(f"The model server at {url} answered more than 64 MB.")
    try:
        answer = json.loads(raw)
        if isinstance(answer, dict) and "boxes" in answer:
            return _answered_boxes(url, answer["boxes"], n)
        probs = answer["probs"]
        array = np.asarray(probs, dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise DataFormatError(
            f'The model server at {url} did not answer {{"probs": [[...], ...]}} or '
            f'{{"boxes": [[...], ...]}} '
            f"({type(exc).__name__}: {exc}); nothing was stored. See docs/model-server.md."
        ) from exc
    if array.shape != (n, n_classes):
        raise DataFormatError(
            f"The model server at {url} answered probabilities of shape {array.shape} for "
            f"{n} items and {n_classes} classes; nothing was stored."
        )
    if not math.isfinite(float(array.sum())):
        raise DataFormatError(f"The model server at {url} answered non-finite probabilities.")
    return array


def _answered_boxes(url: str, boxes: Any, n: int) -> list[list[dict[str, Any]]]:
    """A server's boxes: one list of box objects per item (each box is checked further by
    the ``boxes`` kind when it is written)."""
    if not isinstance(boxes, list) or len(boxes) != n:
        got = len(boxes) if isinstance(boxes, list) else type(boxes).__name__
        raise DataFormatError(
            f"The model server at {url} answered boxes for {got} items, not {n} (one list per "
            "item, in the order asked); nothing was stored."
        )
    for k, per_item in enumerate(boxes):
        if not isinstance(per_item, list) or not all(isinstance(b, dict) for b in per_item):
            raise DataFormatError(
                f"The model server at {url}: the boxes of item {k + 1} of the batch are not a "
                'list of box objects ({"class", "x", "y", "w", "h", "score"}); nothing was '
                "stored."
            )
    return boxes
