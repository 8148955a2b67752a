"""Forking workers is allowed only where it is safe."""

from __future__ import annotations

import multiprocessing
import sys
import threading

import pytest

from assay.processes import can_fork
from helpers import stray_threads


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks only on Linux")
def test_fork_allowed_in_a_plain_single_threaded_process() -> None:
    assert stray_threads() == []  # an earlier test left these running (names say whose)
    assert can_fork()


def test_no_fork_while_other_threads_run() -> None:
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert not can_fork()
    finally:
        stop.set()
        worker.join()


def _report(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(can_fork())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks only on Linux")
def test_no_fork_inside_a_daemon_process() -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_report, args=(queue,), daemon=True)
    child.start()
    assert queue.get(timeout=10) is False
    child.join(timeout=10)
