"""Import of synthetic tabular rows (10 numeric columns + a label) into SQLite.

Reports rows/s and peak RSS at each size, so flat memory shows as a flat column, and runs
pandas ``read_csv(...).to_sql(...)`` on the same file as a reference in the same run.

    python benchmarks/bench_import.py              # 100,000 and 1,000,000 rows
    python benchmarks/bench_import.py 20000 50000  # other sizes
"""

from __future__ import annotations

import sys

from _common import WORK, fresh_dir, machine, run_measured
from make_table import write_table

ASSAY = """
import time, assay
project = assay.init({path!r})
start = time.perf_counter()
r = project.import_table({csv!r}, dataset="table", label_column="label", key_column="id")
elapsed = time.perf_counter() - start
assert r.n_new_items == {n}, r
result = {{"seconds": elapsed, "rows_per_s": {n} / elapsed}}
"""

PANDAS = """
import time, sqlite3, pandas as pd
con = sqlite3.connect({db!r})
start = time.perf_counter()
for chunk in pd.read_csv({csv!r}, chunksize=100_000):
    chunk.to_sql("rows", con, if_exists="append", index=False)
con.commit()
elapsed = time.perf_counter() - start
result = {{"seconds": elapsed, "rows_per_s": {n} / elapsed}}
"""


def main(sizes: list[int]) -> None:
    print(f"Machine: {machine()}\n")
    print("| rows | Assay rows/s | Assay peak RSS (MiB) | pandas to_sql rows/s | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        csv = WORK / f"table_{n}.csv"
        if not csv.exists():
            write_table(n, csv)
        path = fresh_dir(f"import_{n}")
        ours = run_measured(ASSAY.format(path=str(path), csv=str(csv), n=n))
        ref = run_measured(PANDAS.format(db=str(path / "pandas.db"), csv=str(csv), n=n))
        print(
            f"| {n:,} | {ours['rows_per_s']:,.0f} | {ours['peak_rss_mib']:,.0f} | "
            f"{ref['rows_per_s']:,.0f} | {ours['rows_per_s'] / ref['rows_per_s']:.2f} |"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
