"""Import of the real MNIST test set (10,000 images from IDX files) into SQLite: images/s.

python benchmarks/bench_mnist_import.py
"""

from __future__ import annotations

from _common import MNIST, fresh_dir, machine, run_measured

CODE = """
import time, assay
project = assay.init({path!r})
start = time.perf_counter()
r = project.import_path({mnist!r}, dataset="mnist")
elapsed = time.perf_counter() - start
assert r.n_new_items == 10_000
start = time.perf_counter()
again = project.import_path({mnist!r}, dataset="mnist")
elapsed_again = time.perf_counter() - start
assert again.n_new_items == 0
result = {{"seconds": elapsed, "again_s": elapsed_again}}
"""


def main() -> None:
    if not MNIST.is_dir():
        raise SystemExit(f"MNIST test set not found at {MNIST}")
    r = run_measured(CODE.format(path=str(fresh_dir("mnist")), mnist=str(MNIST)))
    print(f"Machine: {machine()}\n")
    print("| images | seconds | images/s | re-import (adds 0) s | peak RSS (MiB) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| 10,000 | {r['seconds']:.2f} | {10_000 / r['seconds']:,.0f} | {r['again_s']:.2f} | "
        f"{r['peak_rss_mib']:,.0f} |"
    )


if __name__ == "__main__":
    main()
