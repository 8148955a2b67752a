"""The ``assay`` command line: thin Typer commands over the library."""

from assay.cli import data_cmd, project_cmd, stats_cmd  # noqa: F401  (registers commands)
from assay.cli.app import app, main

__all__ = ["app", "main"]
