"""The project store: engine and transactions, tables, migrations and queries."""

from assay.store.engine import Store

__all__ = ["Store"]
