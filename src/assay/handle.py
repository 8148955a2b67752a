"""What a capability package may use of a dataset and its project: two small protocols.

The capability packages (``models``, ``quality``, ``active``, ``maps``, ``review``, ``ingest``,
``stats``) take a dataset and type it as :class:`DatasetHandle`, never as
:class:`assay.dataset.Dataset`: ``dataset.py`` sits above them (``ds.models``,
``ds.quality``...) and hands itself down, so imports only ever go downward. A capability that
needs more than this (labels, layers, snapshots) asks ``assay.labels`` with ``handle.store``
and ``handle.id``.

This module is a leaf: it imports nothing from Assay but the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assay.store.filters import DEFAULT_LAYER

if TYPE_CHECKING:
    from assay.store.engine import Store

ItemRef = int | str
"""An item by its id (int) or its external key (str)."""


class ProjectHandle(Protocol):
    """The project a dataset belongs to: its folder, its store and its other datasets."""

    @property
    def root(self) -> Path: ...

    @property
    def store(self) -> Store: ...

    def dataset(self, name: str) -> DatasetHandle: ...


class DatasetHandle(Protocol):
    """One dataset, as the capability packages see it (an :class:`assay.Dataset` is one)."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def project(self) -> ProjectHandle: ...

    @property
    def store(self) -> Store: ...

    def classes(self) -> list[str]:
        """Class names in schema order."""
        ...

    def items(
        self,
        filter: str | None = None,
        *,
        after: int | str | None = None,
        limit: int = 50,
        layer: str = DEFAULT_LAYER,
        sort: str = "added",
        model: str | None = None,
    ) -> tuple[list[dict[str, Any]], int | str | None]:
        """One page of items matching ``filter`` in the order ``sort`` with their label in
        ``layer`` (and ``model``'s prediction), and the cursor of the next page (None at the
        end)."""
        ...
