"""Group commit for label writes that arrive one by one (the web app's annotators).

Fifty annotators each saving a label is fifty tiny transactions; on SQLite they queue for one
write lock and each pays a durable commit (an fsync). The committer gives every request to one
writer thread, which takes whatever has queued up since its last commit, writes all of it with
a fixed number of statements (``write_requests``) and commits once, then answers each request.
A request is acknowledged only after the commit that holds it: durability is unchanged.

A request that fails its checks (frozen layer, unknown class ...) must not fail its
neighbours: when a batch raises, the writer redoes it one request at a time, each inside a
savepoint, so every request gets its own answer.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

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
        by_dataset: dict[int, list[_Pending]] = {}
        for p in batch:
            by_dataset.setdefault(p.dataset_id, []).append(p)
        try:
            with self.store.write() as conn:
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
