"""Paging through 1,000,000 items: keyset pages (Assay) against OFFSET pages (the usual way).

Uses the 1M-row project `bench_inventory.py` leaves in benchmarks/_work (importing the table
first if it is missing). Times a page of 50 items through the library (the store lookup,
the filter, the page, its current labels), 50 times each, at the start and deep into the
dataset, with and without filters; and, at the SQL level, the keyset query Assay runs against
the LIMIT/OFFSET query most tools run, on the same SQLite file.

    python benchmarks/bench_paging.py
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections.abc import Callable

import assay
from _common import machine
from bench_inventory import prepare

N = 1_000_000
RUNS = 50
DEEP = 900_000


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """p50 and p95 in milliseconds over RUNS calls (after one warm-up call)."""
    fn()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * len(samples)) - 1]


def main() -> None:
    path = prepare(N)
    ds = assay.open(path).dataset("table")
    con = sqlite3.connect(path / "assay.db")
    keyset = "SELECT * FROM items WHERE dataset_id = ? AND id > ? ORDER BY id LIMIT 50"
    offset = "SELECT * FROM items WHERE dataset_id = ? ORDER BY id LIMIT 50 OFFSET ?"

    def sql(query: str, value: int) -> Callable[[], object]:
        return lambda: con.execute(query, (ds.id, value)).fetchall()

    cases = [
        ("first page", lambda: ds.items(limit=50), sql(keyset, 0), sql(offset, 0)),
        (
            f"page after {DEEP:,} items",
            lambda: ds.items(limit=50, after=DEEP),
            sql(keyset, DEEP),
            sql(offset, DEEP),
        ),
        ("first page, label=c", lambda: ds.items("label=c", limit=50), None, None),
        (f"label=c, after {DEEP:,}", lambda: ds.items("label=c", limit=50, after=DEEP), None, None),
        ("first page, field.f0>2", lambda: ds.items("field.f0>2", limit=50), None, None),
    ]
    print(f"Machine: {machine()}\n")
    print(
        "| page of 50 items | Assay library p50 ms | p95 ms | keyset SQL p50 ms "
        "| OFFSET SQL p50 ms | keyset / OFFSET |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, ours, by_key, by_offset in cases:
        p50, p95 = timed(ours)
        if by_key is None or by_offset is None:
            print(f"| {name} | {p50:.1f} | {p95:.1f} | | | |")
            continue
        k, o = timed(by_key)[0], timed(by_offset)[0]
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {k:.2f} | {o:.2f} | {k / o:.2f} |")


if __name__ == "__main__":
    main()
