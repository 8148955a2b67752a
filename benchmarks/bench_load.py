"""50 simulated annotators writing labels over HTTP as fast as they can, against a real
`assay serve` (one uvicorn process) on SQLite (WAL, synchronous=FULL) and on PostgreSQL.

Each client is an annotator with their own layer and API token; all of them label the same
200 items. Afterwards every acknowledged label must be in the store exactly once and the store
must pass `assay doctor`. Prints throughput and p50/p95/p99 latency per backend.

    python benchmarks/bench_load.py [--clients 50] [--requests 200] [--workers 1]

PostgreSQL: a throwaway local cluster (as the tests start it: fsync off), or --pg URL.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import loadkit
from _common import fresh_dir, machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def one(name: str, db: str | None, clients: int, requests: int, workers: int = 1) -> dict:
    root = fresh_dir(f"load-{name}")
    url, tokens = loadkit.prepare(root, db, clients, n_items=200)
    ids = loadkit.item_ids(root, url)
    with loadkit.server(root, url, workers=workers) as (base, _):
        loadkit.run_load(base, tokens[:2], ids, 5, time_limit_s=60)  # warm-up
        out = loadkit.run_load(base, tokens, ids, requests, time_limit_s=900)
    return {**out.summary(), **loadkit.verify(root, url, out)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg", help="PostgreSQL server URL (default: a throwaway cluster)")
    parser.add_argument("--workers", type=int, default=1, help="assay serve --workers N")
    args = parser.parse_args()
    print(f"machine: {machine()}, server processes: {args.workers}")
    results = {"SQLite": one("sqlite", None, args.clients, args.requests, args.workers)}
    stop = None
    pg = args.pg
    if pg is None:
        from conftest import _start_postgres

        base, stop = _start_postgres()
        pg = base.rsplit("/", 1)[0] + "/postgres"
    try:
        results["PostgreSQL"] = one("pg", pg, args.clients, args.requests, args.workers)
    finally:
        if stop is not None:
            stop()
    print(f"\n{args.clients} clients x {args.requests} label writes each\n")
    print(
        "| backend | writes | seconds | writes/s | p50 ms | p95 ms | p99 ms | statuses | "
        "lost | duplicated | doctor |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |")
    for name, r in results.items():
        print(
            f"| {name} | {r['requests']:,} | {r['seconds']} | {r['throughput_per_s']} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['statuses']} | {r['lost']} | "
            f"{r['duplicated']} | {'ok' if r['doctor_ok'] else 'PROBLEMS'} |"
        )


if __name__ == "__main__":
    main()
