"""The ``assay`` command line: thin Typer commands over the library."""

from assay.cli import (  # noqa: F401  (registers commands)
    active_cmd,
    check_cmd,
    data_cmd,
    jobs_cmd,
    label_cmd,
    map_cmd,
    model_cmd,
    ops_cmd,
    predictions_cmd,
    project_cmd,
    quality_cmd,
    review_cmd,
    stats_cmd,
    web_cmd,
)
from assay.cli.app import app, main

__all__ = ["app", "main"]
