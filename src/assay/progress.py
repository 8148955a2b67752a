"""Progress reporting shared by the library, the CLI (a terminal bar) and the web app (jobs)."""

from __future__ import annotations

from collections.abc import Callable

# done, total (None when unknown), what is being done
ProgressCallback = Callable[[int, int | None, str], None]


def no_progress(done: int, total: int | None, message: str) -> None:
    """The default callback: report nothing."""
