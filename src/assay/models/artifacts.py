"""Fitted objects Assay saves itself under ``<project>/.assay/``: models and featurizers.

Each file is a joblib dump of ``{"stamp": {...versions...}, "object": obj}``. Loading warns
(UserWarning) when the versions differ from the running ones, because a pickle from another
scikit-learn or torch may load but behave differently. Only files Assay wrote are loaded:
paths come from the store, never from user input.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

ASSAY_DIR = ".assay"


def version_stamp() -> dict[str, str]:
    """The library versions a pickle depends on."""
    from importlib.metadata import PackageNotFoundError, version

    stamp = {}
    for package in ("assay", "scikit-learn", "numpy", "torch"):
        try:
            stamp[package] = version(package)
        except PackageNotFoundError:
            stamp[package] = "-"
    return stamp


def artifact_dir(root: Path, kind: str) -> Path:
    """``<root>/.assay/<kind>/``, created on first use."""
    path = root / ASSAY_DIR / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def save(obj: Any, path: Path) -> Path:
    """Dump ``obj`` with a version stamp, atomically (write then rename)."""
    import joblib

    tmp = path.with_name(path.name + ".tmp")
    joblib.dump({"stamp": version_stamp(), "object": obj}, tmp)
    os.replace(tmp, path)
    return path


def load(path: Path) -> Any:
    """Load what :func:`save` wrote, warning if it came from other library versions."""
    import joblib

    payload = joblib.load(path)
    saved, now = payload.get("stamp", {}), version_stamp()
    changed = [f"{k} {saved.get(k)} -> {v}" for k, v in now.items() if saved.get(k) != v]
    if changed:
        warnings.warn(
            f"{path.name} was saved with other library versions ({', '.join(changed)}); "
            "retrain if predictions look wrong.",
            UserWarning,
            stacklevel=2,
        )
    return payload["object"]
