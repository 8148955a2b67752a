"""The exceptions Assay raises, one tree so callers can catch as broadly as they like.

::

    AssayError
     ├── ProjectNotFound          no assay.toml here or above, or --project is wrong
     ├── StoreError               the database can't be reached, or is in a bad state
     │    └── StoreBusy            another writer held the lock past the busy timeout
     ├── NotFound (LookupError)   a dataset, layer, class or item that does not exist
     │    ├── DatasetNotFound
     │    ├── LayerNotFound
     │    ├── ClassNotFound
     │    └── ItemNotFound
     ├── Conflict                 the change collides with what is stored
     │    └── ChecksFailed         an import's data checks failed: it was not published
     ├── PermissionDenied         the person asking may not do this (a role, a layer's owner)
     ├── DataFormatError (ValueError)  bad input: names the file, line or field
     ├── InvalidParameter (ValueError) a bad option or argument
     └── MissingDependency (ImportError) an optional extra is not installed

Messages say what was wrong, where, and what to do about it: the CLI prints them as one line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any


class AssayError(Exception):
    """Base class of every error Assay raises on purpose."""


class ProjectNotFound(AssayError):
    """No Assay project at the given path or any folder above it."""


class StoreError(AssayError):
    """The store cannot be opened, reached or migrated."""


class StoreBusy(StoreError):
    """Another process held the write lock for longer than the busy timeout."""


class NotFound(AssayError, LookupError):
    """Something named by the user does not exist."""


class DatasetNotFound(NotFound):
    """No dataset of that name."""


class LayerNotFound(NotFound):
    """No annotation layer of that name in the dataset.

    ``name`` is the name asked for and ``layers`` the dataset's layers (rows with ``name`` and
    ``owner``), so a caller that must not show them all (the web app in blind mode) can word
    the hint from the layers its user may see.
    """

    def __init__(
        self, message: str, *, name: str | None = None, layers: Sequence[Any] = ()
    ) -> None:
        super().__init__(message)
        self.name = name
        self.layers = list(layers)


class ClassNotFound(NotFound):
    """A class name that is not in the dataset's label schema."""


class ItemNotFound(NotFound):
    """No item with that external key in the dataset."""


class Conflict(AssayError):
    """The requested change collides with data already stored."""


class PermissionDenied(AssayError):
    """The person asking may not do this (their role, or a layer they do not own)."""


class ChecksFailed(Conflict):
    """An import was told to run the dataset's data checks (``--check``) and one failed: the
    import was not published and the dataset is as it was. The message names the failures."""


class DataFormatError(AssayError, ValueError):
    """Input data is malformed; the message names the file and the line or field."""


class InvalidParameter(AssayError, ValueError):
    """An option or argument has a value Assay cannot use."""


class MissingDependency(AssayError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


def where(path: object, line: int | None = None, field: str | None = None) -> str:
    """Format a location for an error message: ``file.csv, line 12, field 'label'``."""
    parts = [str(path)]
    if line is not None:
        parts.append(f"line {line}")
    if field is not None:
        parts.append(f"field {field!r}")
    return ", ".join(parts)


def hide_paths(message: str, names: Mapping[str | os.PathLike[str], str]) -> str:
    """``message`` with each path of ``names`` replaced by its name (``""``: what lies under
    it is named relative to it), longest first, so that an error shown to a web user names
    no folder of the server: ``{"/srv/proj": ""}`` turns ``/srv/proj/.assay/x.csv`` into
    ``.assay/x.csv``."""
    pairs: dict[str, str] = {}
    for path, name in names.items():
        for form in (os.fspath(path), os.path.realpath(path)):
            pairs[form] = name
    for path in sorted(pairs, key=len, reverse=True):
        name = pairs[path]
        message = message.replace(path + os.sep, f"{name}/" if name else "")
        message = message.replace(path, name or ".")
    return message
