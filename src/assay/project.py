"""A project: a folder with ``assay.toml`` and, by default, its SQLite store ``assay.db``.

Like git, commands act on the project in the current folder or the nearest one above it.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from assay.dataset import Dataset
from assay.errors import DataFormatError, InvalidParameter, ProjectNotFound
from assay.ingest import detect, staging
from assay.progress import ProgressCallback, no_progress
from assay.store import Store, queries
from assay.store.naming import clean_name

PROJECT_FILE = "assay.toml"
DB_FILE = "assay.db"


class Project:
    """An open project and its store. Get one with :func:`assay.open` or :func:`assay.init`.

    Examples
    --------
    >>> project = assay.open("my-project")  # doctest: +SKIP
    >>> project.import_path("images/", dataset="pets")  # doctest: +SKIP
    >>> project.dataset("pets").stats()  # doctest: +SKIP
    """

    def __init__(self, root: Path, store: Store) -> None:
        self.root = root
        self.store = store
        # name -> id of published datasets. A published dataset is never renamed or removed
        # (only a failed first import's hidden one is), so the id of a name never changes;
        # the web server looks a dataset up on every request.
        self._dataset_ids: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<Project {str(self.root)!r} {self.store!r}>"

    def __enter__(self) -> Project:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    # -- datasets --------------------------------------------------------------------------

    def datasets(self) -> list[dict[str, Any]]:
        """Every dataset with its id, name, creation time and item count."""
        with self.store.read() as conn:
            return queries.list_datasets(conn)

    def default_dataset(self) -> str | None:
        """The dataset commands use when none is named: the project's only one, else the one
        ``assay.toml`` names (``[datasets]`` ``default = "name"``; the demo names ``digits``),
        else None."""
        names = [d["name"] for d in self.datasets()]
        if len(names) == 1:
            return str(names[0])
        config = tomllib.loads((self.root / PROJECT_FILE).read_text(encoding="utf-8"))
        named = config.get("datasets", {}).get("default")
        return named if isinstance(named, str) and named in names else None

    def imports(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent imports, newest first, with their state (``published``, ``failed``
        with the reason, or ``staging`` while one runs) and what each one added."""
        with self.store.read() as conn:
            return queries.list_imports(conn, limit)

    def dataset(self, name: str) -> Dataset:
        """The dataset of that name (raises DatasetNotFound with a hint when there is none)."""
        known = self._dataset_ids.get(name)
        if known is not None:
            return Dataset(self, known, name)
        with self.store.read() as conn:
            row = queries.get_dataset(conn, clean_name(name, "dataset name"))
        if len(self._dataset_ids) < 10_000:
            self._dataset_ids[row.name] = int(row.id)
        return Dataset(self, row.id, row.name)

    # -- import ----------------------------------------------------------------------------

    def import_path(
        self,
        path: str | os.PathLike[str],
        *,
        dataset: str | None = None,
        format: str | None = None,
        progress: ProgressCallback = no_progress,
        check: bool = False,
        **options: Any,
    ) -> staging.ImportResult:
        """Import a file or folder, choosing the importer from what it is.

        Parameters
        ----------
        path : path
            An image folder, an IDX file or a folder holding an IDX pair, a ``.csv`` or
            ``.parquet`` table, a ``.jsonl`` text file, or a ``.zip``/``.tar``/``.tar.gz``
            archive of one of these (extracted safely under ``.assay/imports/``, see
            :mod:`assay.ingest.archives`); or images with boxes: a COCO instances ``.json``
            (images beside it, or ``images=DIR``), a YOLO folder (``images/``, ``labels/``, a
            class list) or a Pascal VOC folder (``Annotations/``, ``JPEGImages/``), see
            :mod:`assay.ingest.box_io`; the boxes go to the box layer ``layer`` (``boxes``).
        dataset : str, optional
            Dataset to import into (created if new); defaults to the file or folder name.
        format : {"images", "idx", "table", "jsonl", "archive", "coco", "yolo", "voc"}, optional
            Skip detection and use this importer.
        check : bool
            Run the dataset's data checks (``checks/<dataset>.toml``) on the data as it would
            be, and publish only if every one passes (:meth:`checking_imports`).
        **options
            Passed to the importer: ``labels``, ``label_column``, ``key_column``,
            ``split_column``, ``text_field``, ``split``, ``classes``, ``add_classes``,
            ``images`` and ``layer`` (boxes)...
        """
        text = os.fspath(path)
        if "://" in text or text.startswith("//"):
            # Never fetched: a URL import could be pointed at internal services (SSRF).
            raise DataFormatError(
                f"{text}: Assay imports files and folders on this machine, never URLs; "
                "download it first and import the local copy."
            )
        source = Path(path).expanduser()
        if not source.exists():
            raise DataFormatError(f"{source}: no such file or folder.")
        fmt = format or detect.detect_format(source)
        name = clean_name(dataset or detect.default_dataset_name(source), "dataset name")
        if check:
            with self.checking_imports():
                return self.import_path(
                    source, dataset=name, format=fmt, progress=progress, **options
                )
        if fmt == "archive":
            from assay.ingest.archives import import_archive

            return import_archive(
                self.store, source, dataset=name, project_root=self.root, progress=progress,
                **options,
            )  # fmt: skip
        importer = detect.importer(fmt)
        return importer(
            self.store, source, dataset=name, progress=progress,
            **detect.importer_options(fmt, options),
        )  # fmt: skip

    @contextlib.contextmanager
    def checking_imports(self) -> Iterator[None]:
        """Imports started in this block run their dataset's data checks in their publishing
        transaction and are refused (ChecksFailed; nothing published, the dataset as it was)
        when one fails, or when the dataset has no expectations file."""
        from assay.checks import import_gate

        with staging.publish_gate(import_gate(self.root, self.store)):
            yield

    def import_idx(
        self,
        images: str | os.PathLike[str],
        labels: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> staging.ImportResult:
        """Import an IDX images file and its labels file (see :mod:`assay.ingest.idx`)."""
        return self.import_path(images, format="idx", labels=labels, **options)

    def import_images(self, folder: str | os.PathLike[str], **options: Any) -> staging.ImportResult:
        """Import an image folder (see :func:`assay.ingest.images.import_image_folder`)."""
        return self.import_path(folder, format="images", **options)

    def import_table(self, path: str | os.PathLike[str], **options: Any) -> staging.ImportResult:
        """Import a CSV or Parquet table (see :func:`assay.ingest.tables.import_table`)."""
        return self.import_path(path, format="table", **options)

    def import_jsonl(self, path: str | os.PathLike[str], **options: Any) -> staging.ImportResult:
        """Import a JSONL text file (see :func:`assay.ingest.jsonl.import_jsonl`)."""
        return self.import_path(path, format="jsonl", **options)


def init(path: str | os.PathLike[str] = ".", *, db: str | None = None) -> Project:
    """Create a project in ``path`` (made if missing) and its store; returns it open.

    ``db`` is a ``postgresql://`` URL to keep the store in PostgreSQL instead of the SQLite
    file ``assay.db`` in the folder. Running it on an existing project just opens it.
    """
    root = Path(path).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise InvalidParameter(f"{root} is a file; give a folder for the project.")
    root.mkdir(parents=True, exist_ok=True)
    config = root / PROJECT_FILE
    if not config.exists():
        text = "# Assay project\n[store]\n"
        text += (
            f'url = "{_toml_escape(db)}"\n'
            if db
            else f'# url = "postgresql://..."  (default: {DB_FILE})\n'
        )
        config.write_text(text, encoding="utf-8")
    return _open_root(root, db)


def open(path: str | os.PathLike[str] = ".", *, db: str | None = None) -> Project:
    """Open the project in ``path`` or the nearest folder above it that has ``assay.toml``."""
    start = Path(path).expanduser().resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return _open_root(folder, db)
    raise ProjectNotFound(
        f"No Assay project in {start} or any folder above it. Create one with `assay init`, "
        "or point at one with --project PATH."
    )


def _open_root(root: Path, db: str | None) -> Project:
    config_path = root / PROJECT_FILE
    try:
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{config_path}: not valid TOML ({exc}). Fix or remove it.") from exc
    url = db or config.get("store", {}).get("url") or str(root / DB_FILE)
    store = Store(url)
    store.migrate()
    return Project(root, store)


def _toml_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
