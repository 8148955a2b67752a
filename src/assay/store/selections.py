"""Saved selections: a hand-picked set of items (a lasso on the map, a grid multi-select)
that filters, bulk labeling and the API refer to as ``selection=ID``.

>>> sel = ds.select([3, 4], source="api")  # doctest: +SKIP
>>> ds.items(filter=f"selection={sel['id']}")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from assay.errors import InvalidParameter
from assay.store import schema as t
from assay.store.bulk import bulk_insert
from assay.store.engine import Store
from assay.store.queries import check_items

MAX_SELECTION = 2_000_000


def create_selection(
    store: Store, dataset_id: int, item_ids: Sequence[int], *, source: str, created_by: str
) -> dict[str, Any]:
    """Save the items as a new selection and return ``{"id", "n_items", "source"}``.

    Every id must be an item of the dataset (ItemNotFound otherwise: nothing is saved), so a
    selection can never reach into another dataset.
    """
    unique = sorted({int(i) for i in item_ids})
    if not unique:
        raise InvalidParameter("A selection needs at least one item.")
    if len(unique) > MAX_SELECTION:
        raise InvalidParameter(f"A selection holds at most {MAX_SELECTION:,} items.")
    with store.write() as conn:
        check_items(conn, dataset_id, unique)
        selection_id = conn.execute(
            sa.insert(t.selections)
            .values(
                dataset_id=dataset_id,
                n_items=len(unique),
                source=source[:64],
                created_by=created_by,
                created_at=datetime.now(UTC),
            )
            .returning(t.selections.c.id)
        ).scalar_one()
        rows = [(selection_id, i) for i in unique]
        bulk_insert(conn, "selection_items", ("selection_id", "item_id"), rows)
    return {"id": int(selection_id), "n_items": len(unique), "source": source[:64]}
