"""The fixed words of the store: the states and reasons of review cases and the states of jobs.

Kept apart from the table definitions (:mod:`assay.store.schema`) so that the faces can offer
and check them without importing any table.
"""

from __future__ import annotations

CASE_STATES = ("open", "escalated", "resolved", "dismissed", "obsolete")
ACTIVE_CASE_STATES = ("open", "escalated")
CASE_REASONS = ("disagreement", "low_confidence", "flagged", "mislabel", "outlier", "duplicate")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
