"""Conformal prediction sets on the MNIST test set: empirical coverage at 90% and 95% (target:
within 1.5 points) and the mean set size, from 5-fold out-of-fold probabilities. A 99% row
shows sets when the target is above the model's accuracy (no empty sets).

Reuses the cross-validation runs of bench_models_mnist.py when they exist (same project
folder), otherwise runs them first.

python benchmarks/bench_conformal.py                  # the default image model and logreg
python benchmarks/bench_conformal.py --models logreg
"""

from __future__ import annotations

import argparse
import os

from _common import MNIST, WORK, machine, run_measured

CODE = """
import assay
from assay.models.estimators import resolve_model
project = assay.open({path!r})
ds = project.dataset("mnist")
names = [r["name"] for r in ds.models.runs() if r["state"] == "done"]
if "cv-{model}" not in names:
    ds.models.cross_validate(name="cv-{model}", folds=5, model={model!r}, seed=0)
rows = []
for coverage in (0.90, 0.95, 0.99):
    r = ds.models.evaluate("cv-{model}", coverage=coverage, seed=0)
    rows.append({{"coverage": coverage, "accuracy": r["accuracy"], **r["conformal"]}})
result = {{"rows": rows}}
"""

PREPARE = """
import assay
assay.init({path!r}).import_path({mnist!r}, dataset="mnist")
result = {{}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="cnn,logreg")
    args = parser.parse_args()
    path = WORK / "models-mnist"
    if not (path / "assay.toml").exists():
        path.mkdir(parents=True, exist_ok=True)
        run_measured(PREPARE.format(path=str(path), mnist=str(MNIST)))
    print(f"Machine: {machine()}; load average {os.getloadavg()[0]:.1f}\n")
    print("Cross-conformal (5 folds) on 5-fold out-of-fold probabilities, hinge score, crepes.\n")
    print("| model | OOF accuracy | target | empirical coverage | within 1.5 pt | mean set size "
          "| single-class sets | empty sets |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | :---: | ---: | ---: | ---: |")
    for model in args.models.split(","):
        result = run_measured(CODE.format(path=str(path), model=model), timeout_s=3600)
        for r in result["rows"]:
            gap = abs(r["empirical_coverage"] - r["coverage"])
            print(
                f"| {model} | {100 * r['accuracy']:.2f}% | {100 * r['coverage']:.0f}% | "
                f"{100 * r['empirical_coverage']:.2f}% | {'yes' if gap <= 0.015 else 'no'} | "
                f"{r['mean_set_size']:.3f} | {100 * r['singleton_rate']:.1f}% | "
                f"{100 * r['empty_rate']:.1f}% |",
                flush=True,
            )


if __name__ == "__main__":
    main()
