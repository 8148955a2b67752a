"""Starting workers for queued jobs, from the web server (or any long-lived process).

The launcher only spawns ``python -m assay.jobs.worker`` processes; the jobs table decides
who runs what (a worker claims a job in a transaction, at most ``max_running`` at once).
Their output goes to ``.assay/logs/jobs.log`` in the project.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from assay.jobs.worker import DB_ENV
from assay.project import Project


class Launcher:
    """Spawns and reaps worker processes for one project.

    Parameters
    ----------
    project : Project
    max_running : int, default 1
        Jobs that may run at once (each worker runs one at a time). On a 2-core machine one
        job beside the web server is the sensible default.
    """

    def __init__(self, project: Project, max_running: int = 1) -> None:
        self.project = project
        self.max_running = max_running
        self._children: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()

    def kick(self) -> None:
        """Make sure a worker is there to take queued jobs (start one if fewer run)."""
        with self._lock:
            self._children = [p for p in self._children if p.poll() is None]
            if len(self._children) >= self.max_running:
                return
            log_dir = Path(self.project.root) / ".assay" / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, DB_ENV: self.project.store.url}
            with open(log_dir / "jobs.log", "ab") as log:
                child = subprocess.Popen(  # our own interpreter and module
                    [
                        sys.executable, "-m", "assay.jobs.worker", str(self.project.root),
                        "--max-running", str(self.max_running),
                    ],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                    start_new_session=True,  # a Ctrl-C in the server's terminal is not theirs
                )  # fmt: skip
            self._children.append(child)

    def close(self, timeout: float = 20.0) -> None:
        """Stop the workers this launcher started: each marks its job failed ("the worker was
        shut down") and exits; one that does not within ``timeout`` is killed."""
        with self._lock:
            children, self._children = self._children, []
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=5)
