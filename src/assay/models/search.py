"""Hyper-parameter search with Optuna inside a time budget the user sets.

Each trial scores one parameter set by 3-fold stratified cross-validated log loss on the
training data; the study stops starting new trials once ``seconds`` have passed (a trial that
is running is finished first, and at least one trial always runs). The TPE sampler is seeded,
so on the same machine the same budget gives the same trials; a slower machine fits fewer
trials into the budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from assay.errors import InvalidParameter
from assay.models.estimators import make_estimator, search_space
from assay.models.evaluation import log_loss
from assay.models.training import oof_probs
from assay.progress import ProgressCallback, no_progress

SEARCH_FOLDS = 3


def search_params(
    model: str,
    X: np.ndarray,
    y: np.ndarray,
    *,
    seconds: float,
    n_classes: int,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    kind: str | None = None,
    image_shape: tuple[int, int] | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The best parameters found in ``seconds`` (merged over ``params``) and a summary.

    Raises InvalidParameter when ``seconds`` is not positive or the model has no search space
    (models given by import path: set their parameters with ``params``).
    """
    import optuna

    if not seconds or seconds <= 0:
        raise InvalidParameter(
            f"The 'search_seconds' parameter must be a positive number. Got {seconds!r} instead."
        )
    space = search_space(model)
    if not space:
        raise InvalidParameter(
            f"No search space for model {model!r}: Assay searches logreg, hgb and cnn. "
            "Give this model's parameters with params instead."
        )
    make_estimator(model, params=params, seed=seed, kind=kind)  # bad fixed params fail early
    report = progress or no_progress
    folds = max(2, min(SEARCH_FOLDS, int(np.bincount(y)[np.bincount(y) > 0].min())))

    def objective(trial: Any) -> float:
        trial_params = dict(params or {})
        for name, (how, low, high) in space.items():
            if how == "int":
                trial_params[name] = trial.suggest_int(name, int(low), int(high))
            else:
                trial_params[name] = trial.suggest_float(name, low, high, log=how == "log")
        probs = oof_probs(
            X, y, model=model, folds=folds, seed=seed, n_classes=n_classes,
            params=trial_params, kind=kind, image_shape=image_shape,
        )  # fmt: skip
        score = log_loss(probs, y)
        report(trial.number + 1, None, f"search trial {trial.number + 1}: log loss {score:.4f}")
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, timeout=seconds)
    best = {**dict(params or {}), **study.best_params}
    summary = {
        "n_trials": len(study.trials),
        "best_log_loss": float(study.best_value),
        "best_params": dict(study.best_params),
        "seconds": seconds,
        "folds": folds,
    }
    return best, summary
