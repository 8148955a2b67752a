"""How each cost grows with size: import, inventory, grid paging and label writes at 0.1M and
1M items on SQLite and 10M items on PostgreSQL (time per item and peak memory).

Each step runs in a fresh subprocess so its peak RSS is its own. The tables are synthetic
(`make_table.py`: 10 numeric columns and a label).

    python benchmarks/bench_scale.py                    # 0.1M, 1M on SQLite; 10M on PostgreSQL
    python benchmarks/bench_scale.py --sqlite 100000 --pg 1000000   # smaller runs
    python benchmarks/bench_scale.py --pg-url postgresql://...      # your own server

Without --pg-url a throwaway local PostgreSQL is started (as the tests do: fsync off).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import WORK, fresh_dir, machine, run_measured
from make_table import write_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

IMPORT = """
import time, assay
project = assay.init({path!r}, db={db!r})
start = time.perf_counter()
r = project.import_table({csv!r}, dataset="t", label_column="label", key_column="id")
result = {{"seconds": time.perf_counter() - start, "n": r.n_new_items}}
"""

INVENTORY = """
import time, assay
ds = assay.open({path!r}, db={db!r}).dataset("t")
start = time.perf_counter()
inv = ds.stats().to_dict()
result = {{"seconds": time.perf_counter() - start, "n": inv["n_items"]}}
"""

PAGING = """
import time, statistics, assay
ds = assay.open({path!r}, db={db!r}).dataset("t")
lo_hi = ds.items(limit=1)[0][0]["id"], None
def timed(fn, runs=30):
    fn()
    xs = []
    for _ in range(runs):
        s = time.perf_counter(); fn(); xs.append((time.perf_counter() - s) * 1000)
    return statistics.median(xs)
deep = lo_hi[0] + int({n} * 0.9)
result = {{
    "first_ms": timed(lambda: ds.items(limit=50)),
    "deep_ms": timed(lambda: ds.items(limit=50, after=deep)),
    "filtered_deep_ms": timed(lambda: ds.items("label=c", limit=50, after=deep)),
}}
"""

WRITES = """
import time, assay
from assay.labels.writes import LabelWrite
ds = assay.open({path!r}, db={db!r}).dataset("t")
if "bulk" not in [layer["name"] for layer in ds.layers()]:
    ds.create_layer("bulk")
first = ds.items(limit=1)[0][0]["id"]
writes = [LabelWrite(first + i, "b") for i in range(min(100_000, {n}))]
start = time.perf_counter()
ds.set_labels(writes, layer="bulk", author="bench")
bulk = time.perf_counter() - start
start = time.perf_counter()
for i in range(200):
    ds.set_label(first + (i * 997) % {n}, "c", layer="bulk", author="bench")
single = (time.perf_counter() - start) / 200
result = {{"bulk_labels_per_s": len(writes) / bulk, "single_ms": single * 1000}}
"""


def measure(name: str, n: int, db: str | None) -> dict:
    csv = WORK / f"table_{n}.csv"
    if not csv.exists():
        write_table(n, csv)
    path = fresh_dir(f"scale_{name}_{n}")
    fmt = {"path": str(path), "db": db, "csv": str(csv), "n": n}
    out = {"backend": name, "n": n}
    imp = run_measured(IMPORT.format(**fmt), timeout_s=7200)
    out["import_us_per_item"] = imp["seconds"] / n * 1e6
    out["import_rss"] = imp["peak_rss_mib"]
    inv = run_measured(INVENTORY.format(**fmt), timeout_s=7200)
    out["inventory_us_per_item"] = inv["seconds"] / n * 1e6
    out["inventory_rss"] = inv["peak_rss_mib"]
    out.update(run_measured(PAGING.format(**fmt)))
    out.update(run_measured(WRITES.format(**fmt)))
    print(row(out), flush=True)
    return out


def row(r: dict) -> str:
    return (
        f"| {r['backend']} | {r['n']:,} | {r['import_us_per_item']:.1f} | {r['import_rss']:.0f} "
        f"| {r['inventory_us_per_item']:.1f} | {r['inventory_rss']:.0f} | {r['first_ms']:.1f} "
        f"| {r['deep_ms']:.1f} | {r['filtered_deep_ms']:.1f} | {r['bulk_labels_per_s']:,.0f} "
        f"| {r['single_ms']:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlite", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--pg", type=int, nargs="*", default=[10_000_000])
    parser.add_argument("--pg-url")
    args = parser.parse_args()
    print(f"machine: {machine()}\n")
    print(
        "| backend | items | import µs/item | import RSS MiB | inventory µs/item | "
        "inventory RSS MiB | page 1 ms | page at 90% ms | filtered page at 90% ms | "
        "bulk labels/s | single write ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.sqlite:
        measure("SQLite", n, None)
    if not args.pg:
        return
    stop = None
    url = args.pg_url
    if url is None:
        from conftest import _start_postgres

        url, stop = _start_postgres()
    try:
        for n in args.pg:
            measure("PostgreSQL", n, url)
    finally:
        if stop is not None:
            stop()


if __name__ == "__main__":
    main()
