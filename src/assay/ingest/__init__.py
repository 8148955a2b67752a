"""Importers (one module per source format), the atomic staging they share, and export."""

from assay.ingest.staging import ImportJob, ImportResult

__all__ = ["ImportJob", "ImportResult"]
