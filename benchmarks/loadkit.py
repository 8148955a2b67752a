"""Simulated annotators hammering a real `assay serve` over HTTP (shared by the load benchmark
and tests/ops/test_load.py).

Everything is bounded: the number of clients, the requests each sends, and the time; the
server binds to 127.0.0.1 on a free port and is stopped by its own process id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

import assay
from assay import users
from assay.ingest.staging import ImportJob, json_hash
from assay.store import schema as t

CLASSES = ["cat", "dog", "bird"]
SERVE = "import sys; from assay.cli import main; sys.argv[0] = 'assay'; main()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_items(project: assay.Project, name: str, n: int) -> None:
    """A dataset of ``n`` tabular items with ground-truth labels."""
    schema = [{"name": "x", "dtype": "number"}]
    with ImportJob(
        project.store, name, source="load", format="load", table_schema=schema, classes=CLASSES
    ) as job:
        for i in range(n):
            job.add(
                {
                    "external_key": f"k{i}",
                    "kind": "tabular",
                    "label": CLASSES[i % 3],
                    "fields": {"x": i},
                    "content_hash": json_hash({"x": i}),
                },
                where=i + 2,
            )
        job.publish()


def prepare(root: Path, db: str | None, n_clients: int, n_items: int) -> tuple[str, list[str]]:
    """A project with dataset ``pets`` of ``n_items`` items and one annotator per client, each
    with their own layer and an API token. Returns the store URL and the tokens."""
    project = assay.init(root, db=db)
    make_items(project, "pets", n_items)
    ds = project.dataset("pets")
    tokens = []
    for c in range(n_clients):
        name = f"ann{c:02d}"
        users.create_user(project.store, name, f"password-{name}", role="annotator")
        ds.create_layer(name, owner=name)
        token, _ = users.create_token(project.store, name, "load")
        tokens.append(token)
    url = project.store.url
    project.close()
    return url, tokens


@contextmanager
def server(
    root: Path,
    db: str | None,
    *,
    timeout_s: float = 60,
    workers: int = 1,
    pythonpath: str | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`assay serve` on 127.0.0.1:free port; yields (base URL, process); kills it by pid.

    ``db`` None serves the project's own store; ``pythonpath`` runs the code of another
    checkout (its ``src``), e.g. the previous release for a side-by-side benchmark.
    """
    port = free_port()
    argv = ["-p", str(root), *(["--db", db] if db else []), "serve", "--port", str(port),
            "--workers", str(workers)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=pythonpath) if pythonpath else None
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"assay serve exited with {proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("assay serve did not answer within the time limit")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)


@dataclass
class Outcome:
    """What the clients saw."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    acknowledged: list[str] = field(default_factory=list)  # idempotency keys answered 201
    errors: int = 0  # connection errors (a killed server)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

        return {
            "requests": len(lat),
            "acknowledged": len(self.acknowledged),
            "statuses": dict(sorted(self.statuses.items())),
            "connection_errors": self.errors,
            "seconds": round(self.seconds, 2),
            "throughput_per_s": round(len(lat) / self.seconds, 1) if self.seconds else None,
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "p95_ms": round(pct(0.95), 1),
            "p99_ms": round(pct(0.99), 1),
        }


class RawHTTP:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, for load generation only.

    Written by hand, not httpx, because the load generator shares the machine's two cores with
    the server: httpx's AsyncClient costs about 3 ms of CPU per request, which the benchmark
    would charge to the server; this costs a tenth of that (as wrk or k6 would, which are not
    installed here). It handles exactly what the label API answers: a status line, headers
    and a Content-Length body.
    """

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: dict[str, Any], timeout: float = 30) -> int:
        """Send a POST with a JSON body; return the status code (the body is read and dropped)."""
        return await asyncio.wait_for(self._post(path, json.dumps(body).encode()), timeout)

    async def _post(self, path: str, payload: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        close = False
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        await self.reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _client(
    base: str,
    token: str,
    client: int,
    item_ids: list[int],
    n_requests: int,
    out: Outcome,
    deadline: float,
) -> None:
    name = f"ann{client:02d}"
    url = urllib.parse.urlsplit(base)
    auth = {"Authorization": f"Bearer {token}"}
    http = RawHTTP(url.hostname or "127.0.0.1", url.port or 80, auth)
    try:
        for n in range(n_requests):
            if time.monotonic() > deadline:
                return
            key = f"load-{name}-{n:06d}"
            item = item_ids[(client * 7 + n) % len(item_ids)]
            body = {"layer": name, "label": CLASSES[n % 3], "idempotency_key": key}
            start = time.perf_counter()
            try:
                status = await http.post_json(f"/api/v1/datasets/pets/items/{item}/labels", body)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                out.errors += 1
                return  # the server is gone (the kill test); stop this client
            out.latencies_ms.append((time.perf_counter() - start) * 1000)
            out.statuses[status] = out.statuses.get(status, 0) + 1
            if status == 201:
                out.acknowledged.append(key)
    finally:
        await http.close()


def run_load(
    base: str, tokens: list[str], item_ids: list[int], n_requests: int, *, time_limit_s: float
) -> Outcome:
    """Every client sends ``n_requests`` label writes as fast as it can (bounded in time)."""
    out = Outcome()
    deadline = time.monotonic() + time_limit_s

    async def main() -> None:
        await asyncio.gather(
            *(
                _client(base, token, c, item_ids, n_requests, out, deadline)
                for c, token in enumerate(tokens)
            )
        )

    start = time.perf_counter()
    asyncio.run(main())
    out.seconds = time.perf_counter() - start
    return out


def verify(root: Path, db: str, out: Outcome) -> dict[str, Any]:
    """Every acknowledged write is in the store exactly once; nothing unacknowledged is there
    unless the server died mid-request; the store passes `assay doctor`."""
    from assay.store.doctor import check_store

    project = assay.open(root, db=db)
    try:
        with project.store.read() as conn:
            # The web app keeps keys per user ("u<id>:<key>"), so strip that prefix.
            keys = [
                k.split(":", 1)[1]
                for k in conn.execute(
                    sa.select(t.labels.c.idempotency_key).where(
                        t.labels.c.idempotency_key.like("%:load-%")
                    )
                ).scalars()
            ]
        stored = set(keys)
        report = check_store(project.store)
        return {
            "lost": len(set(out.acknowledged) - stored),
            "duplicated": len(keys) - len(stored),
            "unacknowledged_stored": len(stored - set(out.acknowledged)),
            "doctor_ok": report.ok,
            "doctor": report.to_dict() if not report.ok else None,
        }
    finally:
        project.close()


def item_ids(root: Path, db: str) -> list[int]:
    project = assay.open(root, db=db)
    try:
        with project.store.read() as conn:
            return list(conn.execute(sa.select(t.items.c.id).order_by(t.items.c.id)).scalars())
    finally:
        project.close()
