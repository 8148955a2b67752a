"""Out-of-fold probabilities and the model registry, without a store."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification
from sklearn.utils.estimator_checks import parametrize_with_checks

from assay.errors import InvalidParameter
from assay.models.estimators import LogRegClassifier, make_estimator, resolve_model
from assay.models.training import PARALLEL_MIN_VALUES, oof_probs, plan_threads
from helpers import stray_threads


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, y


def test_oof_probs_shape_rows_and_determinism(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    probs = oof_probs(X, y, model="logreg", folds=5, seed=0)
    assert probs.shape == (150, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == y).mean() > 0.9
    np.testing.assert_array_equal(probs, oof_probs(X, y, model="logreg", folds=5, seed=0))
    assert not np.array_equal(probs, oof_probs(X, y, model="logreg", folds=5, seed=1))


def test_every_item_is_predicted_by_a_model_that_never_saw_it() -> None:
    # A 1-nearest-neighbour model is perfect on items it saw; on noise labels it can only be
    # right by chance on items it did not see.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = rng.integers(0, 2, size=200)
    probs = oof_probs(
        X, y, model="sklearn.neighbors.KNeighborsClassifier", params={"n_neighbors": 1}
    )
    assert 0.3 < (probs.argmax(axis=1) == y).mean() < 0.7


def test_classes_missing_from_labels_get_zero_columns(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    probs = oof_probs(X, y, model="logreg", folds=3, n_classes=5)
    assert probs.shape == (150, 5)
    assert (probs[:, 3:] == 0).all()


def test_fewer_than_two_classes_is_refused(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = iris
    with pytest.raises(InvalidParameter, match=r"at least two classes; found 1 \(only 'cat'\)"):
        oof_probs(X, np.zeros(150, dtype=int), class_names=["cat", "dog"])


def test_too_few_items_per_class_names_the_class(iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    y = y.copy()
    y[y == 2] = 0
    y[:3] = 2  # class 'c' has 3 items
    with pytest.raises(InvalidParameter, match=r"5 labeled items per class: 'c' has 3.*--cv 3"):
        oof_probs(X, y, folds=5, class_names=["a", "b", "c"])


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros(10), np.zeros(10, int), "2-D array"),
        (np.zeros((10, 2, 2)), np.zeros(10, int), "2-D array"),
        (np.zeros((10, 2)), np.zeros(9, int), "one label per row of X: X has 10 rows"),
        (np.zeros((10, 2)), np.full(10, 0.5), "integer class codes"),
    ],
)
def test_features_of_the_wrong_shape(X: np.ndarray, y: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        oof_probs(X, y)


def test_bad_folds() -> None:
    with pytest.raises(InvalidParameter, match=r"'folds' parameter must be an int .* Got 1"):
        oof_probs(np.zeros((10, 2)), np.arange(10) % 2, folds=1)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("forest", "Unknown model 'forest'"),
        ("sklearn.nothing.Here", "Cannot import 'sklearn.nothing'"),
        ("sklearn.svm.NoSuchSVC", "has no class 'NoSuchSVC'"),
        ("sklearn.preprocessing.StandardScaler", "not a classifier with fit and predict_proba"),
    ],
)
def test_unknown_model_paths(model: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        make_estimator(model)


def test_bad_parameters_are_named() -> None:
    with pytest.raises(InvalidParameter, match=r"Bad parameter for model 'logreg'.*Valid: C"):
        make_estimator("logreg", params={"gamma": 1})
    with pytest.raises(InvalidParameter, match=r"Bad parameters for sklearn\.svm\.SVC"):
        make_estimator("sklearn.svm.SVC", params={"nope": 1})


def test_import_path_gets_params_and_seed() -> None:
    est = make_estimator("sklearn.ensemble.RandomForestClassifier", params={"n_estimators": 7})
    assert (est.n_estimators, est.random_state) == (7, 0)


def test_auto_resolves_by_kind() -> None:
    assert resolve_model("auto", "tabular") == "hgb"
    assert resolve_model("auto", "text") == "logreg"
    assert resolve_model("auto", "image") in ("cnn", "logreg")
    assert resolve_model("hgb", "image") == "hgb"


@pytest.mark.slow  # starts worker processes
def test_parallel_folds_match_sequential() -> None:
    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    one = oof_probs(X, y, model="logreg", folds=3, n_jobs=1)
    two = oof_probs(X, y, model="logreg", folds=3, n_jobs=2)
    np.testing.assert_allclose(one, two)
    assert stray_threads(timeout=0) == []  # the workers are gone: imports may fork again


@parametrize_with_checks([LogRegClassifier()])
def test_logreg_follows_the_estimator_contract(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def test_thread_plan_keeps_small_problems_on_one_thread() -> None:
    cores = os.cpu_count() or 1
    assert plan_threads(np.zeros((100, 10)), folds=5) == (1, 1)
    big = np.zeros((PARALLEL_MIN_VALUES // 10, 10), dtype=np.float32)
    jobs, threads = plan_threads(big, folds=5)
    assert jobs == min(5, cores) and threads == max(1, cores // jobs)
    assert plan_threads(big, folds=5, n_jobs=1) == (1, cores)
    with pytest.raises(InvalidParameter, match="'n_jobs' parameter must be an int >= 1"):
        plan_threads(big, n_jobs=0)
