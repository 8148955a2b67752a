"""``assay check`` against the inventory on the same N-row table, side by side as a ratio.

The dataset is the inventory benchmark's table (10 numeric fields, a label, imported once).
``--init`` writes its expectations once (10 pandera field rules, class set, coverage, balance);
then the inventory (``dataset.stats()``) and the checks (``assay.checks.run_checks``: the
same scan plus pandera on every row, the checks and a saved report) run alternately, each in
a fresh subprocess, ``REPEATS`` times; the medians are compared. CPU seconds (this process
and its forked scan workers) are given beside wall seconds, and the load average, since the
machine is shared.

    cd benchmarks && PYTHONPATH=../src python bench_checks.py            # 100,000 and 1,000,000
    cd benchmarks && PYTHONPATH=../src python bench_checks.py 200000     # other sizes
"""

from __future__ import annotations

import statistics
import sys

from _common import machine, run_measured
from bench_inventory import prepare

REPEATS = 3

TIMED = """
import os, resource, time, assay
from assay import checks
ds = assay.open({path!r}).dataset("table")
def cpu():
    return sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF,
               resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
start, cpu0 = time.perf_counter(), cpu()
{body}
elapsed, used = time.perf_counter() - start, cpu() - cpu0
result = {{"seconds": elapsed, "cpu": used, "load": os.getloadavg()[0]}}
"""

INVENTORY = """inv = ds.stats().to_dict()
assert inv["n_items"] == {n}"""

CHECK = """report = checks.run_checks(ds)
assert report.passed, report.to_dict()
assert report.counts["pass"] >= 13"""

INIT = """
import assay
from assay import checks
ds = assay.open({path!r}).dataset("table")
checks.init_expectations(ds, overwrite=True)
result = {{}}
"""


def main(sizes: list[int]) -> None:
    print(f"Machine: {machine()}\n")
    print(
        "| rows | inventory s | inventory CPU s | check s | check CPU s | ratio (wall) | "
        "ratio (CPU) | load avg |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in sizes:
        path = prepare(n)
        run_measured(INIT.format(path=str(path)))
        inv, chk = [], []
        for _ in range(REPEATS):  # alternating, so a change of load hits both sides
            inv.append(run_measured(TIMED.format(path=str(path), body=INVENTORY.format(n=n))))
            chk.append(run_measured(TIMED.format(path=str(path), body=CHECK)))
        iw, ic = _median(inv, "seconds"), _median(inv, "cpu")
        cw, cc = _median(chk, "seconds"), _median(chk, "cpu")
        load = statistics.mean(r["load"] for r in inv + chk)
        print(
            f"| {n:,} | {iw:.2f} | {ic:.2f} | {cw:.2f} | {cc:.2f} | {cw / iw:.2f} | "
            f"{cc / ic:.2f} | {load:.1f} |"
        )
        sys.stdout.flush()


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
