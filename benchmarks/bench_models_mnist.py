"""MNIST test set (10,000 digits): 5-fold out-of-fold accuracy and wall time of each built-in
model, and the wall time of ``assay predict --cv 5`` from the command line.

The library rows reuse cached features (computed once, timed separately); the CLI rows start
from a freshly imported project, so they include featurizing and writing the model layer.

python benchmarks/bench_models_mnist.py                  # logreg, hgb, cnn, and the CLI
python benchmarks/bench_models_mnist.py --models logreg --no-cli
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import MNIST, fresh_dir, machine, run_measured

PREPARE = """
import time, assay
project = assay.init({path!r})
project.import_path({mnist!r}, dataset="mnist")
start = time.perf_counter()
feats = project.dataset("mnist").models.features()
result = {{"features_s": time.perf_counter() - start, "shape": list(feats.X.shape)}}
"""

CROSS_VALIDATE = """
import time, assay
ds = assay.open({path!r}).dataset("mnist")
start = time.perf_counter()
run = ds.models.cross_validate(name="cv-{model}", folds=5, model={model!r}, seed=0)
result = {{"accuracy": run["metrics"]["oof_accuracy"], "fit_s": run["metrics"]["fit_seconds"],
          "total_s": time.perf_counter() - start}}
"""


def cli_seconds(model: str | None) -> float:
    """Wall time of ``assay predict --cv 5`` on a freshly imported MNIST project."""
    path = fresh_dir(f"models-mnist-cli-{model or 'auto'}")
    run_measured(f"import assay\nassay.init({str(path)!r}).import_path({str(MNIST)!r})\n"
                 "result = {}")  # fmt: skip
    assay_bin = Path(sys.executable).parent / "assay"
    argv = [str(assay_bin), "--project", str(path), "predict", "--cv", "5"]
    if model:
        argv += ["--model", model]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="logreg,hgb,cnn")
    parser.add_argument("--no-cli", action="store_true")
    args = parser.parse_args()
    if not MNIST.is_dir():
        raise SystemExit(f"MNIST test set not found at {MNIST}")
    print(f"Machine: {machine()}; load average at start {os.getloadavg()[0]:.1f}\n")
    path = fresh_dir("models-mnist")
    prep = run_measured(PREPARE.format(path=str(path), mnist=str(MNIST)))
    print(f"Features (pixels, {prep['shape'][0]:,} x {prep['shape'][1]}): "
          f"{prep['features_s']:.1f} s, then cached\n")  # fmt: skip
    print("| model | 5-fold OOF accuracy | training s | total s (with layer) | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for model in args.models.split(","):
        r = run_measured(CROSS_VALIDATE.format(path=str(path), model=model), timeout_s=3600)
        print(f"| {model} | {100 * r['accuracy']:.2f}% | {r['fit_s']:.1f} | {r['total_s']:.1f} | "
              f"{r['peak_rss_mib']:,.0f} |", flush=True)  # fmt: skip
    if args.no_cli:
        return
    print("\n| command (fresh project: features + 5 folds + layer) | wall s |")
    print("| --- | ---: |")
    for model in (None, "logreg"):
        label = "assay predict --cv 5" + (f" --model {model}" if model else " (auto: cnn)")
        print(f"| `{label}` | {cli_seconds(model):.1f} |", flush=True)
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
