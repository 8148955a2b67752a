"""Per-file work of an import (reading, hashing and measuring images) on forked worker
processes, with the results in input order and memory flat.

Why processes: measuring a small image is mostly Python (Pillow's format plugins, the
statistics), so threads would take turns holding the GIL; with processes an import of
100,000 small images reads them on every core while this process parses and batches.

Why not ``multiprocessing.Pool`` or ``ProcessPoolExecutor``: both start helper threads in
this process, and a process with threads must not fork (:func:`assay.processes.can_fork`):
the import's own writer process (``ingest.sinks``) is forked while the pool runs, and later
work of the same process (statistics, another import) forks too. So: plain forked
processes, one pipe each, no thread; a bounded number of chunks in flight per worker (flat
memory), and every worker stopped and joined when the pool closes, whatever happened.

A worker that fails on an item sends back the results before it and the exception; the
caller sees them in input order, so the first bad file in order is the one named, exactly as
when reading one file after another.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import multiprocessing
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, Generic, TypeVar

from assay.errors import StoreError

T = TypeVar("T")
R = TypeVar("R")

#: Items sent to a worker at a time (a chunk's round trip costs about one image's reading).
CHUNK = 256
#: Chunks in flight per worker: one being worked on, one waiting.
AHEAD = 2


class OrderedPool(Generic[T, R]):
    """``map(fn, items)`` over ``workers`` forked processes, results in order.

    Use as a context manager (the workers are stopped on leaving it)::

        with OrderedPool(measure, workers=2) as pool:
            for result in pool.map(paths):
                ...

    ``fn`` is called in the workers (forked: it need not be picklable, but the items, the
    results and its exceptions travel through pipes and must be).
    """

    def __init__(
        self, fn: Callable[[T], R], workers: int, *, chunk: int = CHUNK, ahead: int = AHEAD
    ) -> None:
        self.fn = fn
        self.n_workers = max(1, workers)
        self.chunk = chunk
        self.ahead = ahead
        self.pipes: list[Connection] = []
        self.processes: list[BaseProcess] = []

    def __enter__(self) -> OrderedPool[T, R]:
        context = multiprocessing.get_context("fork")
        try:
            for n in range(self.n_workers):
                parent_end, child_end = context.Pipe()
                process = context.Process(
                    target=_work,
                    args=(self.fn, child_end, [*self.pipes, parent_end]),
                    name=f"assay-import-reader-{n}",
                    daemon=True,
                )
                process.start()
                child_end.close()
                self.pipes.append(parent_end)
                self.processes.append(process)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def map(self, items: Iterable[T]) -> Iterator[R]:
        """``fn(item)`` of every item, in order; the first exception (in order) is raised
        after the results before it."""
        source = iter(items)
        pending: deque[int] = deque()
        sent = 0

        def submit() -> bool:
            nonlocal sent
            chunk = list(itertools.islice(source, self.chunk))
            if not chunk:
                return False
            worker = sent % self.n_workers
            with contextlib.suppress(OSError):  # a worker gone: its recv below says why
                self.pipes[worker].send(chunk)
            pending.append(worker)
            sent += 1
            return True

        while len(pending) < self.n_workers * self.ahead and submit():
            pass
        while pending:
            worker = pending.popleft()
            try:
                status, results, error = self.pipes[worker].recv()
            except (EOFError, OSError) as exc:
                code = self.processes[worker].exitcode
                raise StoreError(
                    f"An image reader process of the import stopped unexpectedly (exit code "
                    f"{code}); nothing was imported."
                ) from exc
            if status == "ok":
                submit()  # keep the workers busy while the caller uses these results
            yield from results
            if status != "ok":
                raise error

    def close(self) -> None:
        """Stop and join every worker (killed if it does not stop within a few seconds)."""
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
            pipe.close()
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
        self.pipes, self.processes = [], []


def _work(fn: Callable[[Any], Any], pipe: Connection, parent_ends: list[Connection]) -> None:
    """A worker: ``fn`` over each chunk received, until told to stop or the pipe closes."""
    # The fork copied the importing process's ends of this worker's pipe and of the earlier
    # workers': held here, they would keep those pipes open after that process is killed,
    # and the workers would wait for a chunk forever instead of seeing the pipe close.
    for end in parent_ends:
        end.close()
    # What the importing process holds (its box file, its images list) is never freed here:
    # out of the collector's sight, so a full collection does not walk (and copy) its pages.
    gc.freeze()
    failed = False
    while True:
        try:
            chunk = pipe.recv()
        except (EOFError, OSError, KeyboardInterrupt):  # the importing process is gone
            return
        if chunk is None:
            return
        if failed:  # sent before our error reached the importing process: it stops there
            continue
        results: list[Any] = []
        try:
            for item in chunk:
                results.append(fn(item))
            message: tuple[str, list[Any], BaseException | None] = ("ok", results, None)
        except BaseException as exc:
            message, failed = ("error", results, _picklable(exc)), True
        try:
            pipe.send(message)
        except OSError:  # the importing process is gone
            return


def _picklable(exc: BaseException) -> BaseException:
    """``exc`` if it survives the pipe, else a StoreError carrying its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return StoreError(f"Reading the import's files failed: {type(exc).__name__}: {exc}")
    return exc
