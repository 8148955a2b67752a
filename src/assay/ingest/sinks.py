"""Where an import's batches are written: in this process, or in a forked writer process.

Parsing a file and writing rows each take about half of an import's time, and both are
Python-bound, so a thread would not help (they would take turns holding the GIL). On Linux,
when the importing process has no other threads, the ``ImportJob`` forks a writer process:
the parent parses and sends batches down a pipe, the child writes them and, at the end,
publishes. The pipe holds about one batch, so memory stays flat. If the parent dies, the
child sees the pipe close and stops without publishing; the import is then cleaned up like
any interrupted one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import traceback
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Protocol

from assay.errors import AssayError, StoreError
from assay.store import Store

if TYPE_CHECKING:
    from assay.ingest.staging import ImportJob
    from assay.ingest.writers import Batch

Counts = tuple[int, int, int]  # new items, new labels, new classes


class Sink(Protocol):
    """Takes batches, then publishes them."""

    def write(self, batch: Batch, keys: dict[str, Any]) -> None:
        """Write one batch (``keys`` locates its rows for error messages)."""

    def publish(self, n_rows: int, kinds: set[str]) -> Counts:
        """Publish everything written; returns what was added."""

    def close(self) -> None:
        """Stop (after an error, or once published)."""


class InlineSink:
    """Writes in the calling process."""

    def __init__(self, job: ImportJob) -> None:
        self.job = job

    def write(self, batch: Batch, keys: dict[str, Any]) -> None:
        self.job.write_batch(batch, keys)

    def publish(self, n_rows: int, kinds: set[str]) -> Counts:
        return self.job.publish_transaction(n_rows, kinds)

    def close(self) -> None:
        pass


class ProcessSink:
    """Sends batches to a forked child process that writes them."""

    def __init__(self, job: ImportJob) -> None:
        context = multiprocessing.get_context("fork")
        self.pipe, child_end = context.Pipe()
        self.process = context.Process(
            target=_child,
            args=(job, child_end, self.pipe),
            name="assay-import-writer",
            daemon=True,
        )
        self.process.start()
        child_end.close()

    def write(self, batch: Batch, keys: dict[str, Any]) -> None:
        self._raise_if_failed()
        self._send(("write", batch, keys))

    def publish(self, n_rows: int, kinds: set[str]) -> Counts:
        self._send(("publish", n_rows, kinds))
        status, value = self._receive()
        if status == "error":
            raise value
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.pipe.send(("close",))
        self.pipe.close()
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self.pipe.send(message)
        except OSError as exc:  # the child is gone: it left its error in the pipe
            self._raise_if_failed()
            raise StoreError("The import's writer process stopped unexpectedly.") from exc

    def _raise_if_failed(self) -> None:
        if self.pipe.poll():
            status, value = self._receive()
            if status == "error":
                raise value

    def _receive(self) -> tuple[str, Any]:
        try:
            return self.pipe.recv()  # type: ignore[no-any-return]
        except EOFError as exc:
            raise StoreError(
                f"The import's writer process stopped unexpectedly (exit code "
                f"{self.process.exitcode})."
            ) from exc


def _child(job: ImportJob, pipe: Connection, parent_end: Connection) -> None:
    """The writer process: write batches until told to publish or close, or the pipe closes."""
    # The fork copied the parent's end of the pipe: while this process holds it, the pipe
    # never closes, and a writer whose importing process was killed would wait forever.
    parent_end.close()
    # The parent's pooled connections must not be used (or closed) here: open our own.
    job.store.engine.dispose(close=False)
    job.store = Store(job.store.url)
    try:
        while True:
            message = pipe.recv()
            if message[0] == "write":
                job.write_batch(*message[1:])
            elif message[0] == "publish":
                pipe.send(("ok", job.publish_transaction(*message[1:])))
            else:
                return
    except EOFError:  # the parent is gone: stop without publishing
        return
    except AssayError as exc:
        pipe.send(("error", exc))
    except BaseException as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        pipe.send(("error", StoreError(f"Writing the import failed: {detail}")))
    finally:
        job.store.close()
