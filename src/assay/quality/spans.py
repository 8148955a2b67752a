"""Likely mislabeled spans: the ``spans`` family of label-quality checks (cleanlab's
``token_classification``).

A span layer's texts are tokenized (:mod:`assay.labels.span_tokens`), each span set turned
into BIO tags, and the built-in token classifier (:mod:`assay.models.span_tagger`) gives
every token out-of-fold tag probabilities. cleanlab's ``token_classification`` then finds the
tokens whose given tag is likely wrong (``filter.find_label_issues``) and scores each text
(``rank.get_label_quality_scores``: low = likely wrong). Flagged tokens next to each other
are one suspect, named in the text's words: the tokens, the given span and class, the
predicted class, and the kind (``missed``: no span given where the model sees one;
``spurious``: a span where it sees none; ``wrong_class``; ``boundary``: the same class with
other edges). The predicted spans are written to a model layer (``<layer>_tagger``), so the
evaluation and the evidence can draw them beside the given ones.

The methods (``assay issues --method``), compared on ``benchmarks/bench_spans.py`` and,
against cleanlab called directly under five noise models (uniform class, missed entities,
boundaries off by one token, ORG<->LOC, the demo's mix), on ``benchmarks/bench_kind_issues.py``:
within 0.03 of each other everywhere, ``confident`` never better in recall, so the default
stays ``cleanlab``:

* ``cleanlab`` (the default): the tokens cleanlab's ``find_label_issues`` returns;
* ``confident``: cleanlab's tokens where the model's tag is also at least 0.5 sure (fewer
  suspects, each with a confident suggestion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from assay.errors import InvalidParameter
from assay.labels.span_tokens import bio_classes, bio_tags, spans_from_tags, tokenize

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

    from assay.handle import DatasetHandle as Dataset
    from assay.progress import ProgressCallback

__all__ = ["SPAN_METHODS", "SpanIssues", "find_run", "find_span_issues", "open_cases_for_run"]

SPAN_METHODS: dict[str, dict[str, Any]] = {"cleanlab": {}, "confident": {"min_pred": 0.5}}
DEFAULT_SPAN_METHOD = "cleanlab"


@dataclass
class SpanIssues:
    """Per text: label quality, the flag, and the suspects (see the module doc)."""

    quality: np.ndarray
    is_issue: np.ndarray
    suspects: list[list[dict[str, Any]]]
    token_issues: list[tuple[int, int]]


def find_span_issues(
    tags: Sequence[np.ndarray], probs: Sequence[np.ndarray], method: str = DEFAULT_SPAN_METHOD
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """cleanlab's text quality scores and the (text, token) pairs flagged by ``method``."""
    from cleanlab.token_classification.filter import find_label_issues
    from cleanlab.token_classification.rank import get_label_quality_scores

    if method not in SPAN_METHODS:
        raise InvalidParameter(
            f"Span layers are checked with {', '.join(SPAN_METHODS)}, not {method!r}."
        )
    labels = [list(map(int, t)) for t in tags]
    pred = [np.asarray(p, dtype=float) for p in probs]
    found = find_label_issues(labels, pred)
    min_pred = SPAN_METHODS[method].get("min_pred")
    if min_pred is not None:
        found = [(i, j) for i, j in found if pred[i][j].max() >= min_pred]
    scores, _ = get_label_quality_scores(labels, pred)
    return np.asarray(scores, dtype=float), [(int(i), int(j)) for i, j in found]


def _suspects(
    text: str, tokens: Sequence[tuple[int, int]], given: np.ndarray, prob: np.ndarray,
    flagged: Sequence[int], spans: Sequence[Mapping[str, Any]], tag_names: Sequence[str],
) -> list[dict[str, Any]]:  # fmt: skip
    """Runs of flagged tokens as suspects in the text's words."""
    out: list[dict[str, Any]] = []
    runs: list[list[int]] = []
    for j in sorted(flagged):
        if runs and j == runs[-1][-1] + 1:
            runs[-1].append(j)
        else:
            runs.append([j])
    for run in runs:
        start, end = tokens[run[0]][0], tokens[run[-1]][1]
        given_cls = {tag_names[given[j]][2:] for j in run if given[j]}
        pred_tags = [int(prob[j].argmax()) for j in run]
        pred_cls = {tag_names[t][2:] for t in pred_tags if t}
        if not given_cls:
            kind = "missed"
        elif not pred_cls:
            kind = "spurious"
        elif given_cls != pred_cls:
            kind = "wrong_class"
        else:
            kind = "boundary"
        at = [i for i, s in enumerate(spans) if s["start"] < end and start < s["end"]]
        out.append({
            "kind": kind, "start": start, "end": end, "text": text[start:end],
            "tokens": [text[tokens[j][0]:tokens[j][1]] for j in run],
            "given": sorted(given_cls) or None, "predicted": sorted(pred_cls) or None,
            "confidence": round(float(np.mean([prob[j].max() for j in run])), 4),
            "spans": at,
        })  # fmt: skip
    return out


def find_run(
    dataset: Dataset, *, layer: str, filter: str | None, method: str | None, actor: str,
    progress: ProgressCallback, folds: int = 5, seed: int = 0,
) -> int:  # fmt: skip
    """Check span layer ``layer`` (see the module doc); the results go to a model run of the
    predicted-spans layer ``<layer>_tagger``: per text its quality and flag (the grid sorts by
    them as for classes), the suspects of flagged texts in the run's summary."""
    from assay.labels.layers import check_system_target, create_layer
    from assay.labels.writes import LabelWrite, current_labels_by_item, write_labels
    from assay.models.span_evaluation import load_span_layers
    from assay.models.span_tagger import featurize, oof_token_probs
    from assay.quality import runs
    from assay.store import queries

    method = method or DEFAULT_SPAN_METHOD
    if method not in SPAN_METHODS:
        raise InvalidParameter(
            f"Span layers are checked with {', '.join(SPAN_METHODS)}, not {method!r}."
        )
    progress(0, None, "tokenizing")
    texts, values = load_span_layers(dataset, [layer], filter)
    items = [i for i in sorted(values[layer]) if tokenize(texts[i])]
    if len(items) < 10:
        raise InvalidParameter(
            f"Layer {layer!r} labels {len(items)} texts{' in this slice' if filter else ''}: "
            "the token classifier needs at least 10 to learn from out of fold."
        )
    with dataset.store.read() as conn:
        classes = [c.name for c in queries.list_classes(conn, dataset.id)]
    tag_names = bio_classes(classes)
    tokens = [tokenize(texts[i]) for i in items]
    given = [
        np.asarray(bio_tags(t, values[layer][i], classes))
        for t, i in zip(tokens, items, strict=True)
    ]
    progress(0, None, "training the token classifier (out of fold)")
    x = featurize([texts[i] for i in items], tokens)
    probs = oof_token_probs(x, np.concatenate(given), [len(t) for t in tokens], len(tag_names),
                            folds=folds, seed=seed)  # fmt: skip
    progress(0, None, "scoring label quality (cleanlab)")
    quality, flagged = find_span_issues(given, probs, method)
    per_text: dict[int, list[int]] = {}
    for k, j in flagged:
        per_text.setdefault(k, []).append(j)
    is_issue = np.zeros(len(items), dtype=bool)
    is_issue[list(per_text)] = True
    pred_layer = f"{layer}_tagger"
    counts: dict[str, int] = {}
    evidence: dict[str, Any] = {}
    with dataset.store.read() as conn:
        heads = current_labels_by_item(conn, dataset.id, [items[k] for k in per_text], [layer])
    for k, js in per_text.items():
        item = items[k]
        found = _suspects(texts[item], tokens[k], given[k], probs[k], js, values[layer][item],
                          tag_names)  # fmt: skip
        for s in found:
            counts[s["kind"]] = counts.get(s["kind"], 0) + 1
        evidence[str(item)] = {
            "label_id": (heads.get(item, {}).get(layer) or {}).get("id"),
            "suspects": found,
            "predicted": spans_from_tags(tokens[k], probs[k].argmax(axis=1).tolist(), classes),
        }
    progress(0, None, "saving")
    with dataset.store.write() as conn:
        row = check_system_target(conn, dataset.id, pred_layer, "model")
        if row is None:
            about = f"Out-of-fold spans of the token classifier for {layer}."
            create_layer(conn, dataset.id, pred_layer, kind="model", value_kind="spans",
                         options={"overlap": True}, description=about)  # fmt: skip
        predicted = [
            LabelWrite(item, spans_from_tags(t, p.argmax(axis=1).tolist(), classes))
            for item, t, p in zip(items, tokens, probs, strict=True)
        ]
        write_labels(conn, dataset.id, pred_layer, predicted, author="assay")
        summary = {
            "family": "spans", "layer": layer, "model_layer": pred_layer,
            "annotator_layers": None, "filter": filter, "method": method,
            "n_items": len(items), "n_issues": int(is_issue.sum()),
            "n_estimated": int(is_issue.sum()), "n_outliers": 0, "n_duplicates": 0,
            "n_without_probs": 0, "n_suspects": counts, "n_tokens_flagged": len(flagged),
            "outlier_threshold": None, "computed_at": datetime.now(UTC).isoformat(),
            "evidence": evidence,
        }  # fmt: skip
        return runs.save_for_layer(
            conn, dataset.id, pred_layer, actor, np.asarray(items), quality, is_issue, summary
        )


# -- review cases -------------------------------------------------------------------------------
def span_evidence(
    suspects: Sequence[Mapping[str, Any]], layer: str, pred_layer: str
) -> dict[str, Any]:
    """A text's suspects in the span-evidence format (``span_layers``, ``highlight``: the
    given spans at issue, ``regions``: the suspect stretches, ``summary``)."""
    at = sorted({i for s in suspects for i in s.get("spans", [])})
    words = "; ".join(
        f"{s['kind'].replace('_', ' ')}: {s['text']!r} given {'/'.join(s['given'] or ['none'])}"
        f", predicted {'/'.join(s['predicted'] or ['none'])}"
        for s in suspects
    )
    return {
        "span_layers": [layer, pred_layer],
        "highlight": {layer: at},
        "regions": [{"start": s["start"], "end": s["end"], "note": s["kind"]} for s in suspects],
        "summary": words,
        "span_fixes": list(suspects),
    }


def open_cases_for_run(
    conn: Connection, dataset_id: int, run: Row[Any], *, limit: int | None, actor: str,
    top: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``mislabel`` cases for a span run's flagged texts, most suspect first (a text whose
    case was decided at the span set the run checked is skipped)."""
    from assay.quality import runs

    return runs.open_mislabel_cases(
        conn, dataset_id, run, span_case_evidence, limit=limit, actor=actor, top=top
    )


def span_case_evidence(row: Mapping[str, Any], run: Any, info: Mapping[str, Any]) -> dict[str, Any]:
    """A flagged text's case evidence: the run, the layers, the span set checked (its label
    id: the case stops holding when it changes), the quality, :func:`span_evidence` and the
    spans the model predicted."""
    layer, pred_layer = info["layer"], info["model_layer"]
    return {
        "run_id": int(run.id),
        "run": run.name,
        "layer": layer,
        "predictions": pred_layer,
        "label_id": row.get("label_id"),
        "quality": row["quality"],
        "flagged": row["is_issue"],
        **span_evidence(row.get("suspects") or [], layer, pred_layer),
        "predicted_spans": ((info.get("evidence") or {}).get(str(row["item_id"])) or {}).get(
            "predicted", []
        ),
    }
