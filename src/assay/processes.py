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


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` of this machine still runs (None and this process: True).

    Used to tell work left "running" by a killed process (an import, a suggestion list, a
    job) from work in progress. A zombie (exited, not yet reaped by its parent) counts as gone.
    """
    import os

    if pid is None or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc (macOS): kill(0) said it exists
        return True
