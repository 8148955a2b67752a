"""Data checks: a dataset's expectations, inferred from its data, edited by people, run on
every change (``assay check``, ``assay import --check``) and in CI.

The public API (what the CLI and the web call; see docs/checks-api.md): :func:`init_expectations`,
:func:`run_checks`, :func:`latest_report`, :func:`load_expectations`,
:func:`expectations_path`, :data:`ITEM_CAP`, :class:`Report`, :class:`Result`. A new kind of
check subclasses :class:`Check` and is registered with :func:`register`.
"""

from assay.checks import fields, kinds, labels  # noqa: F401  (register the built-in checks)
from assay.checks.api import (
    Report,
    Result,
    import_gate,
    init_expectations,
    latest_report,
    load_expectations,
    run_checks,
)
from assay.checks.base import CHECKS, ITEM_CAP, Check, Outcome, register
from assay.checks.expectations import Expectation, expectations_path

__all__ = [
    "CHECKS",
    "ITEM_CAP",
    "Check",
    "Expectation",
    "Outcome",
    "Report",
    "Result",
    "expectations_path",
    "import_gate",
    "init_expectations",
    "latest_report",
    "load_expectations",
    "register",
    "run_checks",
]
