"""Group commit for label writes that arrive one by one (the web app's annotators).

Fifty annotators each saving a label is fifty tiny transactions; on SQLite they queue for one
write lock and each pays a durable commit (an fsync). The committer gives every request to one
writer thread, which takes whatever has queued up since its last commit, writes all of it with
a fixed number of statements (``write_requests``) and commits once, then answers each request.
A request is acknowledged only after the commit that holds it: durability is unchanged.

A request that fails its checks (frozen layer, unknown class ...) must not fail its
neighbours: when a batch raises, the writer redoes it one request at a time, each inside a
savepoint, so every request gets its own answer.

Several server processes on one SQLite file (``assay serve --workers N``) each have a writer
thread. SQLite makes a writer that finds the lock taken sleep and try again (up to 100 ms
between tries), so a writer committing back to back kept the lock from the other for seconds
(503s after the 5 s busy timeout). The writers therefore take turns on an advisory file lock
next to the database first: a blocked ``flock`` wakes as soon as the lock is released.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import IO

import sqlalchemy as sa

from assay.errors import AssayError, StoreError
from assay.labels.writes import LabelRequest, write_requests
from assay.store.engine import Store

MAX_BATCH = 500


@dataclass
class _Pending:
    dataset_id: int
    request: LabelRequest
    future: Future[tuple[int, bool]]


class LabelCommitter:
    """One writer thread per store that batches label writes into group commits."""

    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self._queue: queue.Queue[_Pending | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="assay-label-writer", daemon=True)
        self._closed = False
        self._turns = _sqlite_turns(store)
        self._thread.start()

    def submit(
        self, dataset_id: int, request: LabelRequest, timeout_s: float = 60.0
    ) -> tuple[int, bool]:
        """Write one label once it is committed: returns its id and whether it is new (False
        for a retried idempotency key), or raises the request's own error."""
        return self.enqueue(dataset_id, request).result(timeout=timeout_s)

    def enqueue(self, dataset_id: int, request: LabelRequest) -> Future[tuple[int, bool]]:
        """Queue one label write; the future completes once it is committed (or failed). The
        web app awaits it on its event loop (``asyncio.wrap_future``), so a waiting request
        holds no thread."""
        if self._closed:
            raise StoreError("The label writer is shut down.")
        future: Future[tuple[int, bool]] = Future()
        self._queue.put(_Pending(dataset_id, request, future))
        return future

    def close(self, timeout_s: float = 30.0) -> None:
        """Finish what is queued, then stop the writer thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=timeout_s)
            if self._turns is not None and not self._thread.is_alive():
                self._turns.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Pending]) -> None:
        # A request given up before its turn (a timed-out or cancelled wait) is not written:
        # nobody will be told it was. Once running, a future can no longer be cancelled.
        batch = [p for p in batch if p.future.set_running_or_notify_cancel()]
        by_dataset: dict[int, list[_Pending]] = {}
        for p in batch:
            by_dataset.setdefault(p.dataset_id, []).append(p)
        try:
            with self._turn(), self.store.write() as conn:
                outcomes: list[tuple[_Pending, tuple[int, bool] | BaseException]] = []
                for dataset_id, pending in by_dataset.items():
                    try:
                        with conn.begin_nested():
                            ids = write_requests(conn, dataset_id, [p.request for p in pending])
                        outcomes.extend(zip(pending, ids, strict=True))
                    except AssayError:
                        # Find the bad request(s): one savepoint per request.
                        for p in pending:
                            try:
                                with conn.begin_nested():
                                    (written,) = write_requests(conn, dataset_id, [p.request])
                                outcomes.append((p, written))
                            except AssayError as exc:
                                outcomes.append((p, exc))
        except BaseException as exc:  # the commit itself failed: nobody's write landed
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        for p, outcome in outcomes:
            if isinstance(outcome, BaseException):
                p.future.set_exception(outcome)
            else:
                p.future.set_result(outcome)

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """This process's turn among the label writers of one SQLite file (see the module)."""
        if self._turns is None:
            yield
            return
        import fcntl

        fcntl.flock(self._turns, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._turns, fcntl.LOCK_UN)


def _sqlite_turns(store: Store) -> IO[bytes] | None:
    """The open lock file the label writers of an SQLite store take turns on (None for
    PostgreSQL, whose row locks queue fairly, for an in-memory database, or without flock)."""
    url = sa.engine.make_url(store.url)
    if store.dialect != "sqlite" or not url.database or url.database == ":memory:":
        return None
    try:
        import fcntl  # noqa: F401  (POSIX only)
    except ImportError:
        return None
    try:
        return open(f"{url.database}-label-writers.lock", "ab")
    except OSError:  # a read-only folder: writes will fail with their own clear error
        return None
