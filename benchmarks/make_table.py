"""Write the synthetic table the import and inventory benchmarks use (10 numeric columns + label).

python benchmarks/make_table.py 1000000 benchmarks/_work/table_1000000.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

CHUNK = 100_000
N_FEATURES = 10
CLASSES = np.array(["a", "b", "c", "d", "e"])


def write_table(n_rows: int, path: Path, random_state: int = 0) -> Path:
    """Write ``n_rows`` rows: id, f0..f9 (normal with different scales and offsets), label."""
    rng = np.random.default_rng(random_state)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema(
        [("id", pa.string())]
        + [(f"f{j}", pa.float64()) for j in range(N_FEATURES)]
        + [("label", pa.string())]
    )
    with pacsv.CSVWriter(path, schema) as writer:
        for start in range(0, n_rows, CHUNK):
            n = min(CHUNK, n_rows - start)
            columns = [pa.array([f"r{i}" for i in range(start, start + n)])]
            for j in range(N_FEATURES):
                columns.append(pa.array(rng.normal(10.0**j, 1 + j, n).round(6)))
            columns.append(pa.array(CLASSES[rng.integers(0, len(CLASSES), n)]))
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return path


if __name__ == "__main__":
    write_table(int(sys.argv[1]), Path(sys.argv[2]))
