"""The ``jobs`` table: submit, claim, report, finish, cancel, and read jobs.

Every transition is one short transaction with a compare-and-set on ``state``, so a job is
claimed by exactly one worker and a cancelled job is never marked done. A running job whose
worker stopped beating (killed, machine restarted) is marked failed when it is next read
(:func:`reap_stale`), so the page never shows a job "running" forever.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assay.errors import Conflict, NotFound
from assay.processes import pid_alive
from assay.store import schema as t
from assay.store.engine import Store

# A running job beats at least this often (a thread in the worker does, whatever the job is
# doing); one silent for STALE_AFTER is taken for dead.
HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=60)
ACTIVE = ("queued", "running")
LIST_LIMIT = 200
CLAIM_LOCK = 0x4A0B5  # the advisory lock that serializes claims on PostgreSQL


class JobNotFound(NotFound):
    """No job of that id (in that dataset)."""


def now() -> datetime:
    return datetime.now(UTC)


def to_dict(row: Any) -> dict[str, Any]:
    """A job as JSON-able data, with its progress as a fraction when the total is known."""
    fraction = None
    if row.total:
        fraction = max(0.0, min(1.0, (row.done or 0) / row.total))
    if row.state == "done":
        fraction = 1.0
    return {
        "id": int(row.id),
        "dataset_id": int(row.dataset_id) if row.dataset_id is not None else None,
        "kind": row.kind,
        "params": row.params,
        "state": row.state,
        "cancel_requested": bool(row.cancel_requested),
        "done": row.done,
        "total": row.total,
        "fraction": fraction,
        "message": row.message,
        "result": row.result,
        "error": row.error,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def create(
    store: Store, dataset_id: int | None, kind: str, params: dict[str, Any], created_by: str
) -> dict[str, Any]:
    """Queue a job; a worker picks it up (see :mod:`assay.jobs.launcher`). ``dataset_id`` is
    None only for an import creating a new dataset (set when it is done)."""
    with store.write() as conn:
        job_id = conn.execute(
            sa.insert(t.jobs)
            .values(
                dataset_id=dataset_id,
                kind=kind,
                params=params,
                state="queued",
                cancel_requested=False,
                message="waiting for a worker",
                created_by=created_by,
                created_at=now(),
            )
            .returning(t.jobs.c.id)
        ).scalar_one()
        return to_dict(_get(conn, int(job_id)))


def _get(conn: Connection, job_id: int, dataset_id: int | None = None) -> Any:
    query = sa.select(t.jobs).where(t.jobs.c.id == job_id)
    if dataset_id is not None:
        query = query.where(t.jobs.c.dataset_id == dataset_id)
    row = conn.execute(query).first()
    if row is None:
        raise JobNotFound(f"No job {job_id}" + (" in this dataset." if dataset_id else "."))
    return row


def get(store: Store, job_id: int, dataset_id: int | None = None) -> dict[str, Any]:
    """One job (JobNotFound if it does not exist, or is another dataset's)."""
    reap_stale(store)
    with store.read() as conn:
        return to_dict(_get(conn, job_id, dataset_id))


def list_jobs(
    store: Store,
    dataset_id: int,
    *,
    states: tuple[str, ...] | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The dataset's jobs, newest first (keyset: ``before`` is a job id)."""
    reap_stale(store)
    query = sa.select(t.jobs).where(t.jobs.c.dataset_id == dataset_id)
    if states:
        query = query.where(t.jobs.c.state.in_(states))
    if before is not None:
        query = query.where(t.jobs.c.id < before)
    query = query.order_by(t.jobs.c.id.desc()).limit(min(limit, LIST_LIMIT))
    with store.read() as conn:
        return [to_dict(r) for r in conn.execute(query)]


def active_params(store: Store, kind: str) -> list[dict[str, Any]]:
    """The parameters of the queued and running jobs of a kind (which files they will read)."""
    query = sa.select(t.jobs.c.params).where(t.jobs.c.kind == kind, t.jobs.c.state.in_(ACTIVE))
    with store.read() as conn:
        return [dict(p) for p in conn.execute(query).scalars() if isinstance(p, dict)]


def claim_next(store: Store, max_running: int) -> dict[str, Any] | None:
    """Take the oldest queued job for this process, unless ``max_running`` already run."""
    reap_stale(store)
    with store.write() as conn:
        if conn.dialect.name == "postgresql":
            # SQLite's write lock already serializes claims; PostgreSQL needs one for the count.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
        running = conn.execute(
            sa.select(sa.func.count()).select_from(t.jobs).where(t.jobs.c.state == "running")
        ).scalar_one()
        if running >= max_running:
            return None
        row = conn.execute(
            sa.select(t.jobs.c.id)
            .where(t.jobs.c.state == "queued")
            .order_by(t.jobs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        stamp = now()
        claimed = conn.execute(
            sa.update(t.jobs)
            .where(t.jobs.c.id == row.id, t.jobs.c.state == "queued")
            .values(
                state="running",
                pid=os.getpid(),
                host=socket.gethostname()[:255],
                started_at=stamp,
                heartbeat_at=stamp,
                message="starting",
            )
        ).rowcount
        if claimed != 1:
            return None
        return to_dict(_get(conn, int(row.id)))


def report(
    store: Store, job_id: int, done: int | None, total: int | None, message: str | None
) -> bool:
    """Record progress and beat the heartbeat; True if the job was asked to stop."""
    values: dict[str, Any] = {"heartbeat_at": now()}
    if message is not None:
        values.update(done=done, total=total, message=message[:2000])
    with store.write(durable=False) as conn:
        conn.execute(
            sa.update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.state == "running")
            .values(**values)
        )
        flag = conn.execute(
            sa.select(t.jobs.c.cancel_requested).where(t.jobs.c.id == job_id)
        ).scalar_one_or_none()
    return bool(flag)


def finish(
    store: Store, job_id: int, result: dict[str, Any], *, dataset_id: int | None = None
) -> None:
    """Mark a running job done with its result; ``dataset_id`` attaches a job that had no
    dataset (an import that created one) to it."""
    extra = {"dataset_id": dataset_id} if dataset_id is not None else {}
    _end(store, job_id, "done", result=result, message="done", **extra)


def fail(store: Store, job_id: int, error: str, *, cancelled: bool = False) -> None:
    """Mark a job failed (or cancelled) with the reason, in words."""
    state = "cancelled" if cancelled else "failed"
    _end(store, job_id, state, error=error[:4000], message=state)


def _end(store: Store, job_id: int, state: str, **values: Any) -> None:
    with store.write() as conn:
        conn.execute(
            sa.update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.state.in_(ACTIVE))
            .values(state=state, finished_at=now(), **values)
        )


def cancel(store: Store, job_id: int, dataset_id: int | None = None) -> dict[str, Any]:
    """Cancel a queued job at once, or ask a running one to stop at its next progress report.

    Conflict if the job has already ended.
    """
    with store.write() as conn:
        row = _get(conn, job_id, dataset_id)
        if row.state == "queued":
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.id == job_id, t.jobs.c.state == "queued")
                .values(
                    state="cancelled",
                    cancel_requested=True,
                    finished_at=now(),
                    message="cancelled",
                    error="cancelled before it started",
                )
            )
        elif row.state == "running":
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.id == job_id)
                .values(cancel_requested=True, message="stopping")
            )
        else:
            raise Conflict(f"Job {job_id} has already ended ({row.state}); nothing to cancel.")
        return to_dict(_get(conn, job_id))


def reap_stale(store: Store) -> int:
    """Mark failed the running jobs whose worker is gone; returns how many.

    Gone: no heartbeat for STALE_AFTER, or (same host) its process no longer exists.
    """
    with store.read() as conn:
        rows = conn.execute(
            sa.select(t.jobs.c.id, t.jobs.c.pid, t.jobs.c.host, t.jobs.c.heartbeat_at).where(
                t.jobs.c.state == "running"
            )
        ).all()
    if not rows:
        return 0
    host, cutoff = socket.gethostname()[:255], now() - STALE_AFTER
    dead = [
        r.id
        for r in rows
        if (r.heartbeat_at is None or r.heartbeat_at < cutoff)
        or (r.host == host and r.pid is not None and not pid_alive(r.pid))
    ]
    for job_id in dead:
        fail(store, job_id, "The worker running this job stopped (killed or crashed); rerun it.")
    return len(dead)
