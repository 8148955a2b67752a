"""Fixtures of the label, snapshot and review tests: a small labeled dataset per backend."""

from labelkit import ds, project

__all__ = ["ds", "project"]
