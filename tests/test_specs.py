"""The spec of a long operation: built from keywords over a spec, refused in one line, and
the model rule (a name, an admin's import path, or from Python an estimator) in one place."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression

from assay.access import Viewer
from assay.errors import InvalidParameter, PermissionDenied
from assay.models.specs import CrossValidateSpec, TrainSpec


def test_keywords_build_the_spec_over_a_given_one() -> None:
    base = CrossValidateSpec.of(folds=3, model="logreg")
    assert CrossValidateSpec.of(base) is base
    over = CrossValidateSpec.of(base, seed=7)
    assert (over.folds, over.model, over.seed) == (3, "logreg", 7)
    assert CrossValidateSpec.of().folds == CrossValidateSpec.default("folds")


def test_bad_values_are_one_clean_error_naming_the_parameter() -> None:
    with pytest.raises(InvalidParameter, match=r"^Parameter 'folds': Input should be greater"):
        CrossValidateSpec.of(folds=1)
    with pytest.raises(InvalidParameter, match=r"^Parameter 'colour': Extra inputs"):
        TrainSpec.of(colour="red")
    with pytest.raises(TypeError, match="fields as keywords"):
        TrainSpec.of("run-name")  # type: ignore[arg-type]


def test_a_model_is_a_name_an_admins_import_path_or_an_estimator() -> None:
    estimator = LogisticRegression()
    assert TrainSpec.of(model=estimator).model is estimator
    for bad in ({"fit": 1}, 3, "forest"):
        with pytest.raises(InvalidParameter, match="'model'"):
            TrainSpec.of(model=bad)
    path = "sklearn.svm.SVC"
    assert TrainSpec.of(model=path).model == path  # the library: no viewer, no refusal
    admin = Viewer("ada", "admin")
    assert TrainSpec.model_validate({"model": path}, context={"viewer": admin}).model == path
    with pytest.raises(PermissionDenied, match="Only admins"):
        TrainSpec.model_validate({"model": path}, context={"viewer": Viewer("ann", "annotator")})
