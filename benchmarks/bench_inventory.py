"""Full inventory of an imported table against pandas reading the same rows and ``describe()``.

Both read the same SQLite file: Assay streams its chunks through mergeable aggregators (and
also computes distinct counts, class balance, coverage and duplicates); pandas reads the
rows with ``read_sql``, expands the stored JSON fields and calls ``describe()``. Each side
runs in its own subprocess, so the peak RSS is its own.

    python benchmarks/bench_inventory.py            # 100,000 and 1,000,000 rows
    python benchmarks/bench_inventory.py 200000     # other sizes (imported on first use)
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import WORK, machine, run_measured
from bench_import import ASSAY as IMPORT
from make_table import write_table

ASSAY = """
import time, assay
ds = assay.open({path!r}).dataset("table")
start = time.perf_counter()
inv = ds.stats().to_dict()
elapsed = time.perf_counter() - start
assert inv["n_items"] == {n}
result = {{"seconds": elapsed}}
"""

PANDAS = """
import time, sqlite3, orjson, pandas as pd
con = sqlite3.connect({db!r})
start = time.perf_counter()
frame = pd.read_sql("SELECT fields FROM items WHERE dataset_id = 1", con)
table = pd.DataFrame.from_records([orjson.loads(f) for f in frame["fields"]])
summary = table.describe()
elapsed = time.perf_counter() - start
assert len(table) == {n}
result = {{"seconds": elapsed}}
"""


def prepare(n: int) -> Path:
    """The project holding the n-row table (imported once, reused afterwards)."""
    path = WORK / f"import_{n}"
    if not (path / "assay.db").exists():
        csv = WORK / f"table_{n}.csv"
        if not csv.exists():
            write_table(n, csv)
        path.mkdir(parents=True, exist_ok=True)
        run_measured(IMPORT.format(path=str(path), csv=str(csv), n=n))
    return path


def main(sizes: list[int]) -> None:
    print(f"Machine: {machine()}\n")
    print("| rows | Assay s | Assay peak RSS (MiB) | pandas s | pandas peak RSS (MiB) | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        path = prepare(n)
        ours = run_measured(ASSAY.format(path=str(path), n=n))
        ref = run_measured(PANDAS.format(db=str(path / "assay.db"), n=n))
        print(
            f"| {n:,} | {ours['seconds']:.2f} | {ours['peak_rss_mib']:,.0f} | "
            f"{ref['seconds']:.2f} | {ref['peak_rss_mib']:,.0f} | "
            f"{ours['seconds'] / ref['seconds']:.2f} |"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
