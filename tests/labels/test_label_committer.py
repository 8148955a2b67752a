"""Group commit: many threads' single writes land once each, in order per (layer, item), with
one bad request failing alone; and the batched writer equals one-by-one writes."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import Future

import pytest
import sqlalchemy as sa

import assay
from assay.errors import ClassNotFound, Conflict, ItemNotFound, PermissionDenied
from assay.labels.committer import LabelCommitter, _Pending
from assay.labels.writes import LabelRequest, LabelWrite, write_requests
from assay.store import schema as t
from assay.store.doctor import check_store


def test_write_requests_chains_within_a_batch(ds: assay.Dataset) -> None:
    ds.create_layer("a")
    k0 = ds.item("k0")["id"]
    reqs = [
        LabelRequest("a", LabelWrite(k0, "cat"), "ann", "key-1"),
        LabelRequest("a", LabelWrite(k0, "dog"), "ann", "key-2"),
        LabelRequest("ground_truth", LabelWrite(k0, "bird", note="fix"), "bob"),
        LabelRequest("a", LabelWrite(k0, "cat"), "ann", "key-1"),  # a retry within the batch
    ]
    with ds.store.write() as conn:
        out = write_requests(conn, ds.id, reqs)
    ids = [label_id for label_id, _ in out]
    assert [new for _, new in out] == [True, True, True, False]
    assert ids[3] == ids[0] and len(set(ids)) == 3
    with ds.store.write() as conn:  # a retry in a later batch
        assert write_requests(conn, ds.id, [reqs[1]]) == [(ids[1], False)]
    assert [h["label"] for h in ds.history("k0", layer="a")] == ["cat", "dog"]
    assert ds.history("k0", layer="a")[1]["supersedes"] == ids[0]
    assert [(h["label"], h["author"]) for h in ds.history("k0", layer="ground_truth")] == [
        ("cat", "import"),
        ("bird", "bob"),
    ]
    assert check_store(ds.store).ok


def test_many_threads_through_the_committer(ds: assay.Dataset) -> None:
    layers = [f"ann{i}" for i in range(8)]
    for name in layers:
        ds.create_layer(name)
    ds.create_layer("frozen")
    ds.freeze_layer("frozen")
    items = [ds.item(f"k{i}")["id"] for i in range(5)]
    committer = LabelCommitter(ds.store)
    acked: list[int] = []
    refused: list[type] = []
    lock = threading.Lock()

    def annotate(name: str) -> None:
        for n in range(15):
            req = LabelRequest(
                name, LabelWrite(items[n % 5], ["cat", "dog"][n % 2]), name, f"{name}-{n}"
            )
            label_id, new = committer.submit(ds.id, req)
            assert new
            with lock:
                acked.append(label_id)

        def not_mine(row: object) -> None:
            raise PermissionDenied(f"not {getattr(row, 'name', '?')}")

        for bad in (
            LabelRequest("frozen", LabelWrite(items[0], "cat"), name),
            LabelRequest(name, LabelWrite(items[1], "cat"), name, check=not_mine),
            LabelRequest(name, LabelWrite(items[0], "fish"), name),
            LabelRequest(name, LabelWrite(10**9, "cat"), name),
        ):
            try:
                committer.submit(ds.id, bad)
            except (Conflict, ClassNotFound, ItemNotFound, PermissionDenied) as exc:
                with lock:
                    refused.append(type(exc))

    threads = [threading.Thread(target=annotate, args=(name,)) for name in layers]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    committer.close()
    assert len(acked) == len(set(acked)) == 8 * 15
    assert sorted(r.__name__ for r in refused) == sorted(
        ["Conflict", "ClassNotFound", "ItemNotFound", "PermissionDenied"] * 8
    )
    with ds.store.read() as conn:
        n = conn.execute(
            sa.select(sa.func.count()).where(t.labels.c.idempotency_key.is_not(None))
        ).scalar()
    assert n == 8 * 15
    for name, item in itertools.product(layers, items):
        chain = ds.history(item, layer=name)
        assert len(chain) == 3 and [c["supersedes"] for c in chain[1:]] == [
            c["id"] for c in chain[:-1]
        ]
    assert check_store(ds.store).ok
    with pytest.raises(Exception, match="shut down"):
        committer.submit(ds.id, LabelRequest("ann0", LabelWrite(items[0], "cat"), "x"))


def test_writers_of_one_sqlite_file_take_turns_on_a_file_lock(ds: assay.Dataset) -> None:
    # Another server process's writer holds the turn: this one waits for it (blocked in
    # flock, woken at once on release) rather than polling SQLite's busy lock.
    fcntl = pytest.importorskip("fcntl")
    if ds.store.dialect != "sqlite":
        pytest.skip("PostgreSQL writers queue on row locks")
    ds.create_layer("turns")
    item = ds.item("k0")["id"]
    committer = LabelCommitter(ds.store)
    database = sa.engine.make_url(ds.store.url).database
    with open(f"{database}-label-writers.lock", "ab") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        pending = committer.enqueue(ds.id, LabelRequest("turns", LabelWrite(item, "cat"), "a"))
        with pytest.raises(TimeoutError):
            pending.result(timeout=0.5)
        fcntl.flock(other, fcntl.LOCK_UN)
    label_id, new = pending.result(timeout=10)
    assert new and ds.history(item, layer="turns")[0]["id"] == label_id
    committer.close()


def test_a_write_given_up_before_its_turn_is_not_written(ds: assay.Dataset) -> None:
    # The web app stops waiting after a timeout (cancelling the future); the writer must skip
    # that write, not die setting the result of a cancelled future.
    ds.create_layer("gave-up")
    item = ds.item("k0")["id"]
    committer = LabelCommitter(ds.store)
    given_up: Future[tuple[int, bool]] = Future()
    kept: Future[tuple[int, bool]] = Future()
    assert given_up.cancel()
    committer._commit(
        [
            _Pending(ds.id, LabelRequest("gave-up", LabelWrite(item, "cat"), "a"), given_up),
            _Pending(ds.id, LabelRequest("gave-up", LabelWrite(item, "dog"), "a"), kept),
        ]
    )
    assert kept.result(timeout=0)[1] is True
    assert [h["label"] for h in ds.history(item, layer="gave-up")] == ["dog"]
    # And the writer thread goes on.
    later = committer.submit(ds.id, LabelRequest("gave-up", LabelWrite(item, "bird"), "a"))
    assert later[1] is True
    committer.close()
