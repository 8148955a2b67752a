"""Likely-mislabeled tags, spans and numbers under several kinds of noise and on real data,
against cleanlab's check of that kind called directly on the same predictions, in one run.

Every row of a table shares its out-of-fold predictions with the other rows of its noise
model: the checkers differ only in what they make of them. Seeds are fixed; a figure is the
mean over ``--seeds`` seeds (the noise and the folds change with the seed).

**Tags** (scikit-learn's 1,797 digits, the demo's tags ``even, prime, big, loop`` of each true
digit; the built-in one-vs-rest logistic regression out of fold,
``assay.quality.tags.out_of_fold_tags``). Noise models:

* ``uniform flips``: 10 % of the items get one tag, picked uniformly, flipped;
* ``forget 2/3, add 1/3``: 10 % of the items lose a tag (or, one time in three, gain one): the
  model of ``bench_tags.py``;
* ``one annotator omits big``: the items are split between three annotators; one of them
  leaves out ``big`` on 60 % of the items it applies to (missing tags, the common real
  multi-label error, concentrated on one tag by one person);
* ``loop given as big``: on 25 % of the digits with a loop, ``big`` is given instead of
  ``loop`` (a confusion of two tags that co-occur: 6, 8 and 9 have both).

Checkers: cleanlab's ``multilabel_classification.filter.find_label_issues`` called directly,
and ``find_tag_issues`` with each of our methods. Scored per item (an item is wrong when its
given tag set differs from the true one).

Real tags: the MNIST test set (``../shared/data/mnist-test``, 10,000 images) with the same four
tags derived from each image's *given* label; the 15 images human-confirmed as mislabeled
(``bench_label_issues.MNIST_CONFIRMED``) are real tag errors where their true digit's tags
differ (we do not know their true digit, so all 15 are counted). Features: 50 PCA components of
the pixels; probabilities from the built-in logistic regression and from 10 nearest neighbours
(a better model of these pixels). Reported: flagged, confirmed errors among them, and among
the 100 lowest label-quality scores (cleanlab's ranking, which ours keep).

**Spans** (the demo's 400 texts, ``assay.demo.spans``; the built-in token classifier out of
fold, ``assay.models.span_tagger``). One simulated annotator labels every text:

* ``uniform class``: 15 % of the spans get another class, picked uniformly;
* ``missed entities``: 15 % of the spans are left out;
* ``boundary +-1 token``: 20 % of the spans have one edge moved by one token (grown into the
  next or previous token, or shrunk by one), real annotators' most common span error;
* ``ORG<->LOC``: 40 % of ORG and LOC spans get the other class (similar classes confused);
* ``bob (demo mix)``: the demo's bob (missed, shifted, ORG read as LOC), as ``bench_spans.py``.

Checkers: cleanlab's ``token_classification.filter.find_label_issues`` directly, and
``find_span_issues`` with each of our methods. Scored per token (a token whose given BIO tag
differs from the true one) and per text (a text holding any such token).

Real spans: none ship offline (no NER corpus is installed; the demo's texts were written for
the demo), so there is no real-data row for spans.

**Numbers** (scikit-learn's diabetes data, 442 patients; Ridge out of fold, 5 folds, as
``assay.models.number_models``). Noise models:

* ``digit typos``: 5 % of the values with a digit mistyped or two swapped (the demo's typo);
* ``typos + offsets``: half typos, half off by 20-60 % of the range (``bench_numbers.py``);
* ``one annotator +x``: the items are split between four annotators; one reads every value
  25 % of the range high (a systematic bias: a quarter of the labels wrong);
* ``unit x10``: 5 % of the values multiplied or divided by 10 (a unit or decimal-point slip);
* ``heavy-tailed``: every value gets Student-t noise (2 degrees of freedom, scale 10 points);
  a value is wrong when it is more than 15 % of the range off.

Checkers: ours (``find_number_issues``, each method); cleanlab's
``regression.rank.get_label_quality_scores`` directly, flagging its lowest-scored ``k`` for
``k`` = the true number of errors (an oracle: cleanlab has no threshold for given predictions)
and for ``k`` = as many as our default flags (the same count: which ranking picks better);
and ``CleanLearning(Ridge).find_label_issues`` end to end (its own cross-validation and count
search). "large" is the recall of errors beyond two standard deviations of the model's error on
clean labels (what any check on these predictions can see); AP is the ranking's average
precision.

Real numbers: statsmodels' ``stackloss`` (Brownlee's stack loss plant data, 21 days), whose
observations 1, 3, 4 and 21 are the classic outliers of the robust-regression literature
(Daniel & Wood 1980; Rousseeuw & Leroy 1987): scored against those four.

    PYTHONPATH=src python benchmarks/bench_kind_issues.py              # all, a few minutes
    PYTHONPATH=src python benchmarks/bench_kind_issues.py --kinds numbers --seeds 5
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)

from _common import MNIST, machine  # noqa: E402

Row = dict[str, Any]


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _pr(flags: np.ndarray, truth: np.ndarray) -> tuple[int, float, float]:
    """Flagged, precision and recall of boolean ``flags`` against boolean ``truth``."""
    tp = int((flags & truth).sum())
    n = int(flags.sum())
    return n, (tp / n if n else 0.0), (tp / int(truth.sum()) if truth.any() else float("nan"))


def _mean_rows(runs: list[list[Row]]) -> list[Row]:
    """The mean over seeds of each row (rows in the same order in every run)."""
    out = []
    for i, first in enumerate(runs[0]):
        rows = [r[i] for r in runs]
        mean: Row = {}
        for key, value in first.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                vals = [r[key] for r in rows if r[key] is not None and not np.isnan(r[key])]
                mean[key] = float(np.mean(vals)) if vals else float("nan")
            else:
                mean[key] = value
        out.append(mean)
    return out


def _table(title: str, columns: Sequence[tuple[str, str, str]], rows: list[Row]) -> None:
    """Print ``rows`` as a markdown table; ``columns``: (key, header, format)."""
    print(f"\n{title}\n")
    print("| " + " | ".join(h for _, h, _ in columns) + " |")
    print("|" + "|".join("---" if f == "s" else "---:" for _, _, f in columns) + "|")
    for r in rows:
        cells = []
        for key, _, fmt in columns:
            v = r.get(key)
            cells.append("" if v is None else format(v, fmt) if fmt != "s" else str(v))
        print("| " + " | ".join(cells) + " |")


# ---------------------------------------------------------------------------------------------
# Tags
# ---------------------------------------------------------------------------------------------
def _digit_tag_matrix(digits: np.ndarray) -> np.ndarray:
    from assay.demo.tags import TAGS, digit_tags

    table = np.array([[t in digit_tags(d) for t in TAGS] for d in range(10)], dtype=np.int8)
    return table[digits]


def tag_noise(truth: np.ndarray, model: str, rng: np.random.Generator) -> np.ndarray:
    """``truth`` (n, 4: even, prime, big, loop) with the errors of noise ``model``."""
    noisy = truth.copy()
    n = len(noisy)
    big, loop = 2, 3
    if model == "uniform flips":
        for i in rng.choice(n, n // 10, replace=False):
            k = rng.integers(noisy.shape[1])
            noisy[i, k] ^= 1
    elif model == "forget 2/3, add 1/3":
        for i in rng.choice(n, n // 10, replace=False):
            given = np.flatnonzero(noisy[i])
            if len(given) and rng.random() < 2 / 3:
                noisy[i, rng.choice(given)] = 0
            else:
                noisy[i, rng.choice(np.flatnonzero(noisy[i] == 0))] = 1
    elif model == "one annotator omits big":
        annotator = rng.integers(3, size=n)
        noisy[(annotator == 0) & (truth[:, big] == 1) & (rng.random(n) < 0.6), big] = 0
    elif model == "loop given as big":
        swap = (truth[:, loop] == 1) & (rng.random(n) < 0.25)
        noisy[swap, loop] = 0
        noisy[swap, big] = 1
    else:
        raise ValueError(model)
    return noisy


TAG_NOISE = ("uniform flips", "forget 2/3, add 1/3", "one annotator omits big", "loop given as big")


def _tag_checkers(labels: list[list[int]], probs: np.ndarray) -> list[tuple[str, np.ndarray]]:
    from cleanlab.multilabel_classification.filter import find_label_issues

    from assay.demo.tags import TAGS
    from assay.quality.tags import DEFAULT_TAG_METHOD, TAG_METHODS, find_tag_issues

    out = [("cleanlab find_label_issues (direct)",
            np.asarray(find_label_issues(labels, probs), bool))]  # fmt: skip
    for method in TAG_METHODS:
        found = find_tag_issues(labels, probs, list(TAGS), method)
        default = " (default)" if method == DEFAULT_TAG_METHOD else ""
        out.append((f"ours: {method}{default}", found.is_issue))
    return out


def bench_tags(seeds: int) -> None:
    from sklearn.datasets import load_digits

    from assay.quality.tags import out_of_fold_tags

    bunch = load_digits()
    X = bunch.data / 16.0
    truth = _digit_tag_matrix(bunch.target)
    rows: list[Row] = []
    for model in TAG_NOISE:
        runs = []
        for seed in range(seeds):
            noisy = tag_noise(truth, model, np.random.default_rng(seed))
            wrong = (noisy != truth).any(axis=1)
            probs = out_of_fold_tags(X, noisy, folds=5, seed=seed)
            labels = [list(map(int, np.flatnonzero(r))) for r in noisy]
            run = []
            for name, flags in _tag_checkers(labels, probs):
                n, p, r = _pr(flags, wrong)
                run.append({"noise": model, "checker": name, "errors": int(wrong.sum()),
                            "flagged": n, "precision": p, "recall": r})  # fmt: skip
            runs.append(run)
        rows += _mean_rows(runs)
    cols = [("noise", "noise", "s"), ("errors", "items wrong", ".0f"), ("checker", "checker", "s"),
            ("flagged", "flagged", ".0f"), ("precision", "precision", ".3f"),
            ("recall", "recall", ".3f")]  # fmt: skip
    _table(f"Tags: 1,797 digits, mean of {seeds} seed(s)", cols, rows)
    bench_tags_real()


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(MNIST / "t10k-images-idx3-ubyte.gz", "rb") as fh:
        images = np.frombuffer(fh.read(), dtype=np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(MNIST / "t10k-labels-idx1-ubyte.gz", "rb") as fh:
        labels = np.frombuffer(fh.read(), dtype=np.uint8, offset=8).astype(np.int64)
    return images / 255.0, labels


def _knn_tags(X: np.ndarray, Y: np.ndarray, seed: int = 0) -> np.ndarray:
    """Out-of-fold P(tag) of 10 nearest neighbours (one multi-output k-NN, 5 folds)."""
    from sklearn.model_selection import KFold
    from sklearn.neighbors import KNeighborsClassifier

    out = np.zeros(Y.shape)
    for train, test in KFold(5, shuffle=True, random_state=seed).split(X):
        model = KNeighborsClassifier(10).fit(X[train], Y[train])
        out[test] = np.column_stack([p[:, -1] for p in model.predict_proba(X[test])])
    return out


def bench_tags_real() -> None:
    from cleanlab.multilabel_classification.rank import get_label_quality_scores
    from sklearn.decomposition import PCA

    from assay.quality.tags import out_of_fold_tags
    from bench_label_issues import MNIST_CONFIRMED

    if not (MNIST / "t10k-labels-idx1-ubyte.gz").exists():
        print("\n(MNIST not found: no real-data row for tags)")
        return
    pixels, given_digits = _mnist()
    X = PCA(50, random_state=0).fit_transform(pixels)
    given = _digit_tag_matrix(given_digits)
    confirmed = np.zeros(len(given), bool)
    confirmed[list(MNIST_CONFIRMED)] = True
    labels = [list(map(int, np.flatnonzero(r))) for r in given]
    rows = []
    models = {
        "built-in one-vs-rest logistic regression": lambda: out_of_fold_tags(X, given, seed=0),
        "10-NN": lambda: _knn_tags(X, given),
    }
    for model, fit in models.items():
        t0 = time.perf_counter()
        probs = np.clip(fit(), 1e-6, 1 - 1e-6)
        secs = time.perf_counter() - t0
        quality = np.asarray(get_label_quality_scores(labels, probs))
        top = np.zeros(len(given), bool)
        top[np.argsort(quality, kind="stable")[:100]] = True
        for name, flags in _tag_checkers(labels, probs):
            rows.append({"model": f"{model} ({secs:.0f} s)", "checker": name,
                         "flagged": int(flags.sum()), "confirmed": int((flags & confirmed).sum()),
                         "top": int((top & confirmed).sum())})  # fmt: skip
    cols = [
        ("model", "probabilities (PCA-50, out of fold)", "s"),
        ("checker", "checker", "s"),
        ("flagged", "flagged", "d"),
        ("confirmed", f"confirmed errors flagged (of {len(MNIST_CONFIRMED)})", "d"),
        ("top", "confirmed in the 100 lowest-quality", "d"),
    ]
    _table("Tags, real errors: MNIST test (10,000), tags of the given digit", cols, rows)


# ---------------------------------------------------------------------------------------------
# Spans
# ---------------------------------------------------------------------------------------------
def _shift_token(
    span: dict[str, Any], tokens: Sequence[tuple[int, int]], rng: random.Random
) -> dict[str, Any] | None:
    """``span`` with one edge moved by one token (grown or shrunk), None if it cannot move."""
    idx = [k for k, (s, e) in enumerate(tokens) if s < span["end"] and e > span["start"]]
    if not idx:
        return None
    first, last = idx[0], idx[-1]
    moves = []
    if last + 1 < len(tokens):
        moves.append({**span, "end": tokens[last + 1][1]})
    if first > 0:
        moves.append({**span, "start": tokens[first - 1][0]})
    if len(idx) > 1:
        moves.append({**span, "end": tokens[last - 1][1]})
        moves.append({**span, "start": tokens[first + 1][0]})
    return rng.choice(moves) if moves else None


def span_noise(
    texts: Sequence[str], truth: Sequence[Sequence[dict[str, Any]]], model: str, seed: int
) -> list[list[dict[str, Any]]]:
    """One simulated annotator's spans for every text under noise ``model``."""
    from assay.demo.spans import CLASSES, SPAN_ANNOTATORS, simulate_span_annotators
    from assay.labels.span_tokens import tokenize

    if model == "bob (demo mix)":
        labels, _ = simulate_span_annotators(texts, truth, {"bob": SPAN_ANNOTATORS["bob"]},
                                             seed=seed)  # fmt: skip
        return labels["bob"]
    rng = random.Random(seed)
    out = []
    for text, spans in zip(texts, truth, strict=True):
        tokens = tokenize(text)
        given = []
        for s in spans:
            span = {"start": s["start"], "end": s["end"], "class": s["class"]}
            if model == "uniform class" and rng.random() < 0.15:
                span["class"] = rng.choice([c for c in CLASSES if c != span["class"]])
            elif model == "missed entities" and rng.random() < 0.15:
                continue
            elif model == "boundary +-1 token" and rng.random() < 0.2:
                span = _shift_token(span, tokens, rng) or span
            elif model == "ORG<->LOC" and span["class"] in ("ORG", "LOC") and rng.random() < 0.4:
                span["class"] = "LOC" if span["class"] == "ORG" else "ORG"
            given.append(span)
        out.append(given)
    return out


SPAN_NOISE = ("uniform class", "missed entities", "boundary +-1 token", "ORG<->LOC",
              "bob (demo mix)")  # fmt: skip


def bench_spans(seeds: int) -> None:
    from cleanlab.token_classification.filter import find_label_issues

    from assay.demo.spans import CLASSES, load_demo_texts
    from assay.labels.span_tokens import bio_classes, bio_tags, tokenize
    from assay.models.span_tagger import featurize, oof_token_probs
    from assay.quality.spans import DEFAULT_SPAN_METHOD, SPAN_METHODS, find_span_issues

    _, texts, truth = load_demo_texts()
    tokens = [tokenize(t) for t in texts]
    true = [np.asarray(bio_tags(tk, s, CLASSES)) for tk, s in zip(tokens, truth, strict=True)]
    x = featurize(texts, tokens)
    lengths = [len(t) for t in tokens]
    rows: list[Row] = []
    for model in SPAN_NOISE:
        runs = []
        for seed in range(seeds):
            sets = span_noise(texts, truth, model, seed)
            given = [
                np.asarray(bio_tags(tk, s, CLASSES)) for tk, s in zip(tokens, sets, strict=True)
            ]
            wrong_tok = np.concatenate([g != t for g, t in zip(given, true, strict=True)])
            wrong_text = np.array([bool((g != t).any()) for g, t in zip(given, true, strict=True)])
            probs = oof_token_probs(x, np.concatenate(given), lengths, len(bio_classes(CLASSES)),
                                    folds=5, seed=seed)  # fmt: skip
            found: list[tuple[str, list[tuple[int, int]]]] = [(
                "cleanlab find_label_issues (direct)",
                [(int(i), int(j)) for i, j in find_label_issues(
                    [list(map(int, g)) for g in given], probs)],
            )]  # fmt: skip
            for method in SPAN_METHODS:
                default = " (default)" if method == DEFAULT_SPAN_METHOD else ""
                found.append(
                    (f"ours: {method}{default}", find_span_issues(given, probs, method)[1])
                )
            offsets = np.cumsum([0, *lengths])
            run = []
            for name, pairs in found:
                tok = np.zeros(len(wrong_tok), bool)
                tok[[offsets[i] + j for i, j in pairs]] = True
                txt = np.zeros(len(texts), bool)
                txt[[i for i, _ in pairs]] = True
                _, tp, tr = _pr(tok, wrong_tok)
                _, xp, xr = _pr(txt, wrong_text)
                run.append({"noise": model, "checker": name, "tokens": int(wrong_tok.sum()),
                            "texts": int(wrong_text.sum()), "tok_p": tp, "tok_r": tr,
                            "text_p": xp, "text_r": xr})  # fmt: skip
            runs.append(run)
        rows += _mean_rows(runs)
    cols = [("noise", "noise", "s"), ("tokens", "wrong tokens", ".0f"),
            ("texts", "wrong texts", ".0f"), ("checker", "checker", "s"),
            ("tok_p", "token P", ".3f"), ("tok_r", "token R", ".3f"),
            ("text_p", "text P", ".3f"), ("text_r", "text R", ".3f")]  # fmt: skip
    _table(f"Spans: 400 demo texts, one simulated annotator, mean of {seeds} seed(s)", cols, rows)
    print("\n(No real span data ships offline: no real-data row for spans.)")


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------
NUMBER_NOISE = ("digit typos", "typos + offsets", "one annotator +x", "unit x10", "heavy-tailed")


def number_noise(
    y: np.ndarray, model: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The given values under noise ``model`` and which of them are wrong."""
    from assay.demo.numbers import _typo

    n = len(y)
    span = float(y.max() - y.min())
    given = y.copy()
    pick = rng.choice(n, round(0.05 * n), replace=False)
    if model == "digit typos":
        given[pick] = [_typo(v, rng) for v in y[pick]]
    elif model == "typos + offsets":
        for j, k in enumerate(pick.tolist()):
            given[k] = (_typo(y[k], rng) if j % 2 == 0
                        else y[k] + rng.choice([-1, 1]) * rng.uniform(0.2, 0.6) * span)  # fmt: skip
    elif model == "one annotator +x":
        biased = rng.integers(4, size=n) == 0
        given[biased] += 0.25 * span
    elif model == "unit x10":
        given[pick] *= np.where(rng.random(len(pick)) < 0.5, 10.0, 0.1)
    elif model == "heavy-tailed":
        given = y + 10.0 * rng.standard_t(2, size=n)
        return given, np.abs(given - y) > 0.15 * span
    else:
        raise ValueError(model)
    return given, given != y


def _number_checkers(
    X: np.ndarray, given: np.ndarray, pred: np.ndarray, truth: np.ndarray, seed: int,
    folds: int = 5,
) -> list[tuple[str, np.ndarray | None, np.ndarray]]:  # fmt: skip
    """(name, flags or None for a ranking alone, ranking score: high = suspect) of every
    checker."""
    from cleanlab.regression.learn import CleanLearning
    from cleanlab.regression.rank import get_label_quality_scores
    from sklearn.linear_model import Ridge

    from assay.quality.numbers import DEFAULT_NUMBER_METHOD, NUMBER_METHODS, find_number_issues

    out: list[tuple[str, np.ndarray | None, np.ndarray]] = []
    ours = {}
    for method in NUMBER_METHODS:
        found = find_number_issues(given, pred, None, method, seed=seed)
        ours[method] = found
        default = " (default)" if method == DEFAULT_NUMBER_METHOD else ""
        out.append((f"ours: {method}{default}", found.is_issue, 1 - found.quality))
    q = np.asarray(get_label_quality_scores(given, pred))
    order = np.lexsort((np.arange(len(q)), q))
    counts = {
        "true number of errors, oracle": int(truth.sum()),
        "as many as our default": int(ours[DEFAULT_NUMBER_METHOD].is_issue.sum()),
    }
    for label, k in counts.items():
        flags = np.zeros(len(q), bool)
        flags[order[:k]] = True
        out.append((f"cleanlab rank (direct), k = {label}", flags, 1 - q))
    out.append(("abs(residual) ranking (no threshold)", None, np.abs(given - pred)))
    cl = CleanLearning(Ridge(), seed=seed, verbose=False, cv_n_folds=folds)
    issues = cl.find_label_issues(X, given)
    out.append(("cleanlab CleanLearning (end to end)", issues["is_label_issue"].to_numpy(),
                1 - issues["label_quality"].to_numpy()))  # fmt: skip
    return out


def _number_rows(
    X: np.ndarray, y: np.ndarray, given: np.ndarray, truth: np.ndarray, seed: int, noise: str,
    folds: int = 5,
) -> list[Row]:  # fmt: skip
    from sklearn.metrics import average_precision_score

    from assay.models.number_models import make_regressor, oof_predict

    pred = oof_predict(X, given, make_regressor("logreg", len(y), seed), folds, seed)
    large = truth & (np.abs(given - y) > 2 * np.std((pred - y)[~truth]))
    rows = []
    for name, flags, rank in _number_checkers(X, given, pred, truth, seed, folds):
        row: Row = {"noise": noise, "checker": name, "errors": int(truth.sum()), "flagged": None,
                    "precision": None, "recall": None, "large": None,
                    "ap": float(average_precision_score(truth, rank))}  # fmt: skip
        if flags is not None:
            n, p, r = _pr(flags, truth)
            large_r = int((flags & large).sum()) / max(1, int(large.sum()))
            row.update(flagged=n, precision=p, recall=r, large=large_r)
        rows.append(row)
    return rows


def bench_numbers(seeds: int) -> None:
    from assay.demo.numbers import diabetes_table

    columns, y, _ = diabetes_table()
    X = np.column_stack(list(columns.values()))
    rows: list[Row] = []
    for model in NUMBER_NOISE:
        runs = []
        for seed in range(seeds):
            given, truth = number_noise(y, model, np.random.default_rng(seed))
            runs.append(_number_rows(X, y, given, truth, seed, model))
        rows += _mean_rows(runs)
    cols = [("noise", "noise", "s"), ("errors", "values wrong", ".1f"),
            ("checker", "checker", "s"), ("flagged", "flagged", ".1f"),
            ("precision", "precision", ".3f"), ("recall", "recall", ".3f"),
            ("large", "large-error recall", ".3f"), ("ap", "AP", ".3f")]  # fmt: skip
    _table(f"Numbers: diabetes (442), Ridge out of fold, mean of {seeds} seed(s)", cols, rows)
    bench_numbers_real()


STACKLOSS_OUTLIERS = (1, 3, 4, 21)  # 1-based observation numbers


def bench_numbers_real() -> None:
    try:
        from statsmodels.datasets import stackloss
    except ImportError:
        print("\n(statsmodels not installed: no real-data row for numbers)")
        return
    data = stackloss.load_pandas().data
    y = data["STACKLOSS"].to_numpy(np.float64)
    X = data[["AIRFLOW", "WATERTEMP", "ACIDCONC"]].to_numpy(np.float64)
    truth = np.zeros(len(y), bool)
    truth[[k - 1 for k in STACKLOSS_OUTLIERS]] = True
    runs = [_number_rows(X, y, y, truth, seed, "stackloss") for seed in range(5)]
    rows = _mean_rows(runs)
    cols = [
        ("checker", "checker", "s"),
        ("flagged", "flagged", ".1f"),
        ("precision", "precision", ".3f"),
        ("recall", "recall", ".3f"),
        ("ap", "AP", ".3f"),
    ]
    _table("Numbers, real: stackloss (21 days), the 4 classic outliers (obs. 1, 3, 4, 21), "
           "Ridge out of fold, mean of 5 fold seeds", cols, rows)  # fmt: skip


KINDS: dict[str, Callable[[int], None]] = {"tags": bench_tags, "spans": bench_spans,
                                            "numbers": bench_numbers}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=list(KINDS))
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds per noise model (default: tags 3, spans 2, numbers 5)",
    )
    args = parser.parse_args()
    defaults = {"tags": 3, "spans": 2, "numbers": 5}
    print(machine())
    for kind in args.kinds:
        wall, cpu = time.perf_counter(), _cpu()
        KINDS[kind](args.seeds or defaults[kind])
        load = Path("/proc/loadavg").read_text().split()[:3]
        print(f"\n{kind}: {time.perf_counter() - wall:.0f} s wall, {_cpu() - cpu:.0f} CPU-s; "
              f"load average {' '.join(load)}")  # fmt: skip


if __name__ == "__main__":
    main()
