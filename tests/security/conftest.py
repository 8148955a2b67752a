"""Fixtures of the attack regression tests: a small labeled dataset per backend."""

from labelkit import ds, project

__all__ = ["ds", "project"]
