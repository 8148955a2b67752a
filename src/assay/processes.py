"""When work may be spread over forked worker processes (imports, statistics)."""

from __future__ import annotations

import multiprocessing
import sys
import threading


def can_fork() -> bool:
    """Whether forking a worker is safe here: Linux, no other threads, not a daemon process.

    Forking (rather than spawning) means no re-import of the user's ``__main__`` script, so a
    script without an ``if __name__ == "__main__"`` guard still works, and workers start in
    milliseconds. A process with other threads may hold locks a fork would copy mid-use, and
    a daemonic process (a Dask worker, say) may not have children: then work stays here.
    """
    return (
        sys.platform.startswith("linux")
        and threading.active_count() == 1
        and not multiprocessing.current_process().daemon
    )
