"""Shared helpers for the benchmarks: machine description, timing and peak memory per run.

Each measurement runs in a fresh subprocess so that its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "_work"
MNIST = ROOT.parents[1] / "shared" / "data" / "mnist-test"


def machine() -> str:
    """One line describing the machine the figures come from."""
    import psutil

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def run_measured(code: str, timeout_s: float = 1800) -> dict[str, Any]:
    """Run ``code`` (which must print one JSON object last) in a subprocess.

    Returns that object plus ``wall_s`` and ``peak_rss_mib``: the peak resident memory of
    the largest process involved (the subprocess, or any worker it forked and waited for).
    """
    wrapper = (
        "import json, resource, sys\n"
        f"{code}\n"
        "peak = max(resource.getrusage(who).ru_maxrss for who in "
        "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
        "result['peak_rss_mib'] = peak / 1024\n"
        "print(json.dumps(result))\n"
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", wrapper],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


def fresh_dir(name: str) -> Path:
    """An empty folder under benchmarks/_work (ignored by git)."""
    import shutil

    path = WORK / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
