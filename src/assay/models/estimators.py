"""The models Assay trains: built-in names, "auto", and any estimator named by import path.

A model is given as a built-in name (``logreg``, ``hgb``, ``cnn``), as ``auto`` (resolved by the
kind of features), as the dotted import path of a scikit-learn-compatible classifier
(``sklearn.svm.SVC``), or as an estimator object. Every one ends up as an unfitted
scikit-learn-style estimator with ``fit`` and ``predict_proba``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from assay.errors import InvalidParameter, MissingDependency

BUILTIN = ("logreg", "hgb", "cnn")
KINDS = ("image", "text", "tabular")


def torch_available() -> bool:
    """Whether the ``torch`` extra is installed (without importing it)."""
    return importlib.util.find_spec("torch") is not None


def resolve_model(model: str | Any, kind: str | None = None) -> str | Any:
    """The concrete model for ``model``: ``auto`` becomes a built-in name by feature kind.

    ``auto`` is the CNN for images when torch is installed, logistic regression for other
    images and for text embeddings, histogram gradient boosting for tabular features.
    """
    if not isinstance(model, str) or model != "auto":
        return model
    if kind == "image":
        return "cnn" if torch_available() else "logreg"
    if kind == "tabular":
        return "hgb"
    return "logreg"


def make_estimator(
    model: str | Any,
    *,
    params: Mapping[str, Any] | None = None,
    seed: int = 0,
    kind: str | None = None,
    image_shape: tuple[int, int] | None = None,
) -> Any:
    """An unfitted estimator for ``model`` with ``params`` applied and the seed fixed.

    Raises
    ------
    InvalidParameter
        Unknown built-in name, an import path that does not name a classifier, or bad params.
    MissingDependency
        ``cnn`` without the ``torch`` extra.
    """
    model = resolve_model(model, kind)
    params = dict(params or {})
    if not isinstance(model, str):
        if not hasattr(model, "fit"):
            raise InvalidParameter(f"The model {model!r} has no fit method.")
        estimator = clone(model)
        return _with_params(estimator, params, str(type(model).__name__))
    if model == "logreg":
        return _with_params(LogRegClassifier(random_state=seed), params, model)
    if model == "hgb":
        estimator = HistGradientBoostingClassifier(random_state=seed, early_stopping=False)
        return _with_params(estimator, params, model)
    if model == "cnn":
        if not torch_available():
            raise MissingDependency("The 'cnn' model needs PyTorch: pip install 'assay[torch]'.")
        from assay.models.cnn import CNNClassifier

        estimator = CNNClassifier(image_shape=image_shape, random_state=seed)
        return _with_params(estimator, params, model)
    if "." not in model:
        raise InvalidParameter(
            f"Unknown model {model!r}. Use one of auto, {', '.join(BUILTIN)}, or the import "
            "path of a scikit-learn classifier such as sklearn.svm.SVC."
        )
    return _from_import_path(model, params, seed)


def _from_import_path(path: str, params: dict[str, Any], seed: int) -> Any:
    """Instantiate the class at the dotted ``path`` the user gave (importlib only, no eval)."""
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidParameter(
            f"Cannot import {module_name!r} for model {path!r}: {exc}. "
            "Give the full import path of a classifier class, e.g. sklearn.svm.SVC."
        ) from None
    cls = getattr(module, attr, None)
    if cls is None or not inspect.isclass(cls):
        raise InvalidParameter(f"{module_name!r} has no class {attr!r} (model {path!r}).")
    if not (hasattr(cls, "fit") and hasattr(cls, "predict_proba")):
        raise InvalidParameter(
            f"{path} is not a classifier with fit and predict_proba; Assay needs class "
            "probabilities (for SVC pass params {'probability': true})."
        )
    if "random_state" in inspect.signature(cls).parameters and "random_state" not in params:
        params["random_state"] = seed
    try:
        return cls(**params)
    except TypeError as exc:
        raise InvalidParameter(f"Bad parameters for {path}: {exc}") from None


def _with_params(estimator: Any, params: dict[str, Any], name: str) -> Any:
    """``estimator.set_params(**params)`` with unknown names reported as InvalidParameter."""
    if not params:
        return estimator
    try:
        return estimator.set_params(**params)
    except ValueError as exc:
        valid = ", ".join(sorted(estimator.get_params(deep=False)))
        raise InvalidParameter(
            f"Bad parameter for model {name!r}: {exc}. Valid: {valid}."
        ) from None


class LogRegClassifier(ClassifierMixin, BaseEstimator):
    """Standardized features, then multinomial logistic regression (the ``logreg`` model).

    A thin wrapper rather than a bare Pipeline so that its parameters (``C``, ``max_iter``)
    are flat names the CLI's ``--param`` and the Optuna search can set.
    """

    def __init__(self, *, C: float = 0.1, max_iter: int = 200, random_state: int = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> LogRegClassifier:
        """Fit the scaler and the regression; returns self."""
        self.pipeline_ = Pipeline(
            [
                ("scale", StandardScaler()),
                (
                    "clf",
                    LogisticRegression(
                        C=self.C, max_iter=self.max_iter, random_state=self.random_state
                    ),
                ),
            ]
        )
        # lbfgs stopping at max_iter still gives usable probabilities: the iteration cap is the
        # time budget, so a ConvergenceWarning here is expected and not a fault of the data.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.pipeline_.fit(X, y)
        self.classes_ = self.pipeline_.classes_
        self.n_features_in_ = self.pipeline_.n_features_in_
        self.n_iter_ = int(np.max(self.pipeline_[-1].n_iter_))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self)
        return np.asarray(self.pipeline_.predict_proba(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class."""
        check_is_fitted(self)
        return np.asarray(self.pipeline_.predict(X))


def search_space(model: str) -> dict[str, tuple[str, float, float]]:
    """Optuna search space of a built-in model: name -> (kind, low, high); kind int/float/log."""
    if model == "logreg":
        return {"C": ("log", 1e-3, 10.0)}
    if model == "hgb":
        return {
            "learning_rate": ("log", 0.02, 0.3),
            "max_leaf_nodes": ("int", 8, 64),
            "l2_regularization": ("log", 1e-4, 10.0),
        }
    if model == "cnn":
        return {"lr": ("log", 3e-4, 3e-3), "dropout": ("float", 0.0, 0.5)}
    return {}
