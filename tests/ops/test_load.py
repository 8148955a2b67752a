"""50 simulated annotators write labels over HTTP to a real `assay serve`, on SQLite and
PostgreSQL: no acknowledged label is lost or duplicated, no 5xx, the store stays whole; and
SIGKILL of the server mid-burst loses nothing that was acknowledged.

The long variant with throughput and latency figures is benchmarks/bench_load.py.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import loadkit

CLIENTS = 50
REQUESTS = 8


@pytest.mark.slow
def test_fifty_annotators_lose_nothing(tmp_path: Path, store_url: str) -> None:
    url, tokens = loadkit.prepare(tmp_path, store_url, CLIENTS, n_items=60)
    ids = loadkit.item_ids(tmp_path, url)
    with loadkit.server(tmp_path, url) as (base, _):
        out = loadkit.run_load(base, tokens, ids, REQUESTS, time_limit_s=240)
    summary = out.summary()
    assert out.statuses == {201: CLIENTS * REQUESTS}, summary  # no 5xx, nothing refused
    check = loadkit.verify(tmp_path, url, out)
    assert (check["lost"], check["duplicated"], check["unacknowledged_stored"]) == (0, 0, 0)
    assert check["doctor_ok"], check["doctor"]


@pytest.mark.slow
def test_several_server_processes_share_one_store(tmp_path: Path, store_url: str) -> None:
    import psutil

    url, tokens = loadkit.prepare(tmp_path, store_url, 10, n_items=30)
    ids = loadkit.item_ids(tmp_path, url)
    with loadkit.server(tmp_path, url, workers=2) as (base, proc):
        workers = [
            p for p in psutil.Process(proc.pid).children(recursive=True) if "python" in p.name()
        ]
        out = loadkit.run_load(base, tokens, ids, 10, time_limit_s=120)
    assert len(workers) >= 2  # uvicorn's worker processes (plus its helper)
    assert out.statuses == {201: 100}, out.summary()
    check = loadkit.verify(tmp_path, url, out)
    assert (check["lost"], check["duplicated"]) == (0, 0)
    assert check["doctor_ok"], check["doctor"]


@pytest.mark.slow
def test_sigkill_of_the_server_mid_burst(tmp_path: Path) -> None:
    url, tokens = loadkit.prepare(tmp_path, None, 10, n_items=30)
    ids = loadkit.item_ids(tmp_path, url)
    with loadkit.server(tmp_path, url) as (base, proc):

        def kill_soon() -> None:
            time.sleep(1.5)
            os.killpg(proc.pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_soon)
        killer.start()
        out = loadkit.run_load(base, tokens, ids, 10_000, time_limit_s=60)
        killer.join()
    assert out.errors > 0 and len(out.acknowledged) > 0  # it was killed mid-burst
    check = loadkit.verify(tmp_path, url, out)
    assert (check["lost"], check["duplicated"]) == (0, 0)
    assert check["unacknowledged_stored"] <= 10  # at most one in-flight write per client
    assert check["doctor_ok"], check["doctor"]
    # After the restart the server works again.
    with loadkit.server(tmp_path, url) as (base, _):
        again = loadkit.run_load(base, tokens[:2], ids, 3, time_limit_s=60)
    assert again.statuses == {201: 6}
