"""Request parameters shared by the routes: one definition of a valid id and cursor.

An id, a cursor or a version is a whole number a store column can hold, at most
:data:`assay.store.queries.MAX_ID` (2^63 - 1). A bigger one is refused with 422 naming the
parameter, in the path, the query or a JSON body alike, before it reaches the database, whose
driver would fail on it. Use these types for every integer that names or pages stored rows.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

from assay.store.queries import MAX_ID

__all__ = ["Cursor", "Id"]

# An item, case, job, map, selection or token id.
Id = Annotated[int, Ge(1), Le(MAX_ID)]
# A cursor (the last id of the previous page) or a row version.
Cursor = Annotated[int, Ge(0), Le(MAX_ID)]
